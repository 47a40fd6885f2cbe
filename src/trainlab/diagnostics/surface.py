"""The loss on a plane through weight space (Li et al., NeurIPS 2018).

A plane is an origin ``theta0`` ``(P,)`` and two directions ``D`` ``(2, P)``; its point
``(a, b)`` is ``theta0 + a D[0] + b D[1]``. Two kinds of directions:

- `random_directions`: Gaussian directions, filter-normalized (`filter_normalize`) so
  that every filter of the direction has the norm of the matching filter of the weights.
  A filter is one output channel of a convolution weight ``(out, in, kh, kw)`` and one
  neuron (row) of a linear weight ``(out, in)``. Parameters of one dimension (biases,
  BatchNorm scale and shift) get a zero direction, as the paper does: the plane moves
  only the weights whose scale the normalization is about.
- `pca_plane`: the top two principal components of one or more training trajectories,
  with the fraction of their variance that the plane holds (a 2-D picture of a path that
  mostly lies outside the plane would mislead) and the paths projected on it.

`loss_surface` evaluates a grid of ``(a, b)`` in chunks of grid points; the loss of a chunk
comes from a function of the coefficients ``(C, 2) -> (C,)``, so one chunk is one
vectorized evaluation of C perturbed models (`points_loss` builds that function from a
loss of stacked parameter vectors; `functional_loss` gives one for any module through
`torch.func.vmap`). Grids are ``(len(betas), len(alphas))``: row i, column j is the loss
at ``(alphas[j], betas[i])``, the layout of matplotlib's contour and plotly's surface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainlab.errors import BadInput

from .params import resolve_loss, unflatten_like
from .pca import weight_pca

CoeffLoss = Callable[[Tensor], Tensor]  # (C, k) coefficients -> (C,) losses


def _pieces(flat: Tensor, shapes: Sequence[Sequence[int]]) -> list[Tensor]:
    sizes = [int(torch.Size(s).numel()) for s in shapes]
    if flat.shape[-1] != sum(sizes):
        raise BadInput(f"vector of length {flat.shape[-1]} does not match the parameter "
                       f"shapes ({sum(sizes)} numbers)")
    return [p.reshape(s) for p, s in zip(flat.split(sizes, dim=-1), shapes, strict=True)]


def filter_normalize(direction: Tensor, theta: Tensor,
                     shapes: Sequence[Sequence[int]]) -> Tensor:
    """Scale every filter of ``direction`` to the norm of the same filter of ``theta``.

    Args:
        direction, theta: flat vectors ``(P,)`` in the layout of `params` (parameters in
            ``model.parameters()`` order, each row-major).
        shapes: each parameter's shape, in that order (``[p.shape for p in
            model.parameters()]``). A parameter of two or more dimensions is cut into
            filters along its first axis; one of fewer dimensions gets zero.

    Returns:
        ``(P,)``: per filter ``d_f * ||theta_f|| / ||d_f||`` (zero where ``d_f`` is zero).
    """
    out = []
    for d, w in zip(_pieces(direction, shapes), _pieces(theta, shapes), strict=True):
        if d.dim() < 2:
            out.append(torch.zeros_like(d).reshape(-1))
            continue
        d2, w2 = d.reshape(d.shape[0], -1), w.reshape(w.shape[0], -1)
        dn = d2.norm(dim=1, keepdim=True)
        scale = torch.where(dn > 0, w2.norm(dim=1, keepdim=True) / dn.clamp_min(1e-30),
                            torch.zeros_like(dn))
        out.append((d2 * scale).reshape(-1))
    return torch.cat(out)


def random_directions(theta: Tensor, shapes: Sequence[Sequence[int]], n: int = 2,
                      seed: int = 0) -> Tensor:
    """``n`` filter-normalized Gaussian directions ``(n, P)`` around ``theta`` ``(P,)``.

    The raw draws come from a generator seeded with ``seed`` (float64, then cast to
    ``theta``'s dtype), so two models of one architecture get the same raw directions and
    differ only by their own filter norms (the small- vs large-batch comparison).
    """
    gen = torch.Generator().manual_seed(int(seed))
    raw = torch.randn(n, theta.numel(), generator=gen, dtype=torch.float64)
    ref = theta.detach().to("cpu", torch.float64)
    dirs = torch.stack([filter_normalize(r, ref, shapes) for r in raw])
    return dirs.to(theta.device, theta.dtype)


def project(points: Tensor, origin: Tensor, directions: Tensor) -> Tensor:
    """Coordinates ``(..., k)`` of ``points`` ``(..., P)`` on orthonormal ``directions``.

    ``(points - origin) @ directions.T``: for orthonormal directions, the point of the
    plane nearest to each point.
    """
    return (points.to(directions.dtype) - origin.to(directions.dtype)) @ directions.T


@dataclass(frozen=True)
class Plane:
    """The PCA plane of trajectories (`pca_plane`).

    Attributes:
        origin: ``(P,)``. directions: ``(2, P)``, orthonormal.
        explained_variance: the fraction of the trajectories' variance (about their
            grand mean) in the plane, the sum of ``explained_variance_ratio`` ``(2,)``.
        paths: ``(R, T, 2)`` every snapshot projected on the plane (`project`).
    """

    origin: Tensor
    directions: Tensor
    explained_variance: float
    explained_variance_ratio: Tensor
    paths: Tensor


def pca_plane(trajectories: Tensor, origin: Tensor) -> Plane:
    """The plane through ``origin`` spanned by the top two PCs of ``trajectories``.

    Args:
        trajectories: ``(R, T, P)``, R paths of T snapshots (or ``(T, P)``, one path);
            the PCA pools all ``R T`` snapshots (centred on their grand mean, float64).
        origin: ``(P,)``, the plane's origin (for example one path's final point, which
            then projects to ``(0, 0)``).
    """
    snaps = trajectories if trajectories.dim() == 3 else trajectories.unsqueeze(0)
    if snaps.shape[0] * snaps.shape[1] < 3:
        raise BadInput("a PCA plane needs at least 3 snapshots")
    pca = weight_pca(snaps, 2, method="svd")
    dirs = pca.components
    origin64 = origin.detach().to(torch.float64)
    paths = project(snaps.detach().to(torch.float64), origin64, dirs)
    return Plane(origin64, dirs, float(pca.explained_variance_ratio.sum()),
                 pca.explained_variance_ratio, paths)


def points_loss(loss_of_points: Callable[[Tensor], Tensor], origin: Tensor,
                directions: Tensor) -> CoeffLoss:
    """``coeffs (C, k) -> loss_of_points(origin + coeffs @ directions)``, a ``(C,)`` tensor.

    ``loss_of_points`` takes ``C`` stacked parameter vectors ``(C, P)``.
    """

    def f(coeffs: Tensor) -> Tensor:
        c = coeffs.to(directions.dtype)
        return loss_of_points(origin.to(directions.dtype)[None] + c @ directions)

    return f


def functional_loss(model: nn.Module, loss: str | Callable[[Tensor, Tensor], Tensor],
                    x: Tensor, y: Tensor,
                    buffers: dict[str, Tensor] | None = None) -> Callable[[Tensor], Tensor]:
    """``thetas (C, P) -> (C,)``: the loss of ``model`` on ``(x, y)`` at C weight vectors.

    One `torch.func.vmap` of `torch.func.functional_call` over the C vectors, so the C
    models run as one batch; any module works in eval mode (BatchNorm with its running
    statistics, the ``buffers`` given or the model's own).
    """
    criterion = resolve_loss(loss)
    bufs = dict(model.named_buffers()) if buffers is None else buffers

    def one(theta: Tensor) -> Tensor:
        out = torch.func.functional_call(model, (unflatten_like(model, theta), bufs), (x,))
        return criterion(out, y)

    def many(thetas: Tensor) -> Tensor:
        with torch.no_grad():
            return torch.func.vmap(one)(thetas)

    return many


def grid_coefficients(alphas: Tensor, betas: Tensor) -> Tensor:
    """``(len(betas) * len(alphas), 2)``: ``(alphas[j], betas[i])`` for row i, column j."""
    b, a = torch.meshgrid(torch.as_tensor(betas), torch.as_tensor(alphas), indexing="ij")
    return torch.stack([a.reshape(-1), b.reshape(-1)], dim=1)


def loss_surface(loss_of_coeffs: CoeffLoss, alphas: Sequence[float] | Tensor,
                 betas: Sequence[float] | Tensor, chunk: int = 256) -> Tensor:
    """The loss on the grid ``alphas x betas`` of a plane, ``chunk`` points at a time.

    Args:
        loss_of_coeffs: ``(C, 2) -> (C,)`` (see `points_loss`, `functional_loss`).
        alphas, betas: ``(G1,)`` and ``(G2,)`` coordinates along the two directions.
        chunk: grid points per evaluation (bounds the memory: C perturbed models at once).

    Returns:
        ``(G2, G1)`` float64 on the CPU; entry ``[i, j]`` is the loss at
        ``(alphas[j], betas[i])``.
    """
    a = torch.as_tensor(alphas, dtype=torch.float64).reshape(-1)
    b = torch.as_tensor(betas, dtype=torch.float64).reshape(-1)
    if a.numel() == 0 or b.numel() == 0 or chunk < 1:
        raise BadInput("loss_surface: empty grid or chunk < 1")
    coeffs = grid_coefficients(a, b)
    out = [loss_of_coeffs(c).detach().to("cpu", torch.float64).reshape(-1)
           for c in coeffs.split(chunk)]
    return torch.cat(out).reshape(b.numel(), a.numel())


def loss_rise(grid: Tensor, center: float) -> float:
    """Mean of ``grid - center`` over the grid: how much the loss rises around a point.

    With the same filter-normalized grid around two minima, the one with the smaller
    rise is the flatter (Li et al. Fig. 3 compare the pictures; this is their number).
    """
    return float((torch.as_tensor(grid, dtype=torch.float64) - center).mean())
