"""Principal components of weight snapshots: joint across runs, or of one trajectory."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from trainlab.errors import BadInput

LOWRANK_MIN = 2000  # "auto" uses randomized PCA when min(N, P) exceeds this


@dataclass(frozen=True)
class PCAResult:
    """Result of `weight_pca` / `trajectory_pca`; ``k`` components of ``P`` weights.

    Attributes:
        explained_variance_ratio: ``(k,)`` variance along each component divided by the
            total variance of the snapshots (all directions, not only the top ``k``).
        explained_variance: ``(k,)`` variance along each component (``S^2 / (N - 1)``).
        components: ``(k, P)`` orthonormal directions, each with its largest-magnitude
            entry positive (a deterministic sign).
        projections: ``(..., k)`` coordinates of every snapshot, leading shape as given.
        mean: ``(P,)`` the point that was subtracted before the decomposition.
    """

    explained_variance_ratio: Tensor
    explained_variance: Tensor
    components: Tensor
    projections: Tensor
    mean: Tensor


def _as_matrix(snapshots: Tensor) -> Tensor:
    x = torch.as_tensor(snapshots)
    if x.dim() < 2 or x.shape[-1] == 0 or x.numel() == 0:
        raise BadInput(f"snapshots must have shape (..., N, P), got {tuple(x.shape)}")
    return x.detach().to(torch.float64)


def _top_directions(x: Tensor, k: int, method: str) -> tuple[Tensor, Tensor]:
    """Top-``k`` right singular vectors ``(k, P)`` and singular values ``(k,)`` of ``x``."""
    n, p = x.shape
    if method == "auto":
        method = "lowrank" if min(n, p) > LOWRANK_MIN else "svd"
    if method == "svd":
        _, s, vh = torch.linalg.svd(x, full_matrices=False)
        return vh[:k], s[:k]
    if method == "lowrank":
        q = min(k + 10, n, p)
        _, s, v = torch.pca_lowrank(x, q=q, center=False, niter=6)
        return v.T[:k], s[:k]
    raise BadInput(f"method must be 'auto', 'svd' or 'lowrank', got {method!r}")


def _decompose(x: Tensor, origin: Tensor, project_from: Tensor, shape, k: int, method: str):
    n, p = x.shape
    if not 1 <= k <= min(n, p):
        raise BadInput(f"n_components must be between 1 and {min(n, p)}, got {k}")
    comps, s = _top_directions(x, k, method)
    flip = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))
    comps = comps * flip
    total = x.pow(2).sum()
    var = s.pow(2) / max(n - 1, 1)
    ratio = s.pow(2) / total if total > 0 else torch.zeros_like(s)
    proj = (project_from @ comps.T).reshape(*shape[:-1], k)
    return PCAResult(ratio, var, comps, proj, origin)


def weight_pca(snapshots: Tensor, n_components: int = 2, method: str = "auto") -> PCAResult:
    """Joint PCA of weight snapshots of several runs in one basis.

    Args:
        snapshots: ``(R, T, P)`` (R runs, T snapshots each, P weights) or any ``(..., P)``;
            all leading axes are pooled into ``N`` rows and centred on the grand mean.
        n_components: ``k``, at most ``min(N, P)``.
        method: ``"svd"`` (exact, `torch.linalg.svd`, cost ``O(N P min(N, P))``),
            ``"lowrank"`` (randomized `torch.pca_lowrank`, for large N and P) or ``"auto"``
            (``"lowrank"`` when ``min(N, P) > 2000``, else ``"svd"``).

    Returns:
        `PCAResult` with ``projections`` of shape ``(R, T, k)``; computed in float64.
    """
    x = _as_matrix(snapshots)
    flat = x.reshape(-1, x.shape[-1])
    mean = flat.mean(0)
    centred = flat - mean
    return _decompose(centred, mean, centred, x.shape, n_components, method)


def trajectory_pca(
    snapshots: Tensor, n_components: int = 2, center: bool = True, method: str = "auto"
) -> PCAResult:
    """PCA of one training trajectory relative to its end point (Li et al., NeurIPS 2018).

    The rows are ``theta_t - theta_final`` for the ``T`` snapshots of ``snapshots`` (shape
    ``(T, P)``, last row = final weights). As in the authors' code (scikit-learn's PCA)
    the directions come from the centred matrix when ``center`` (the default), so they
    equal those of plain PCA of the trajectory; ``center=False`` decomposes the
    differences as they are. The projections are always those of ``theta_t - theta_final``,
    so the final point sits at the origin of the plot, as in the paper's figures.
    ``mean`` is ``theta_final``.
    """
    x = _as_matrix(snapshots)
    if x.dim() != 2:
        raise BadInput(f"trajectory snapshots must have shape (T, P), got {tuple(x.shape)}")
    final = x[-1]
    diffs = x - final
    rows = diffs - diffs.mean(0) if center else diffs
    return _decompose(rows, final, diffs, x.shape, n_components, method)
