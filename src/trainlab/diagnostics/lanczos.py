"""Symmetric Lanczos with full reorthogonalisation, for any matrix-free operator.

Only the products ``A @ v`` are needed; memory is ``O(P * iters)`` for the Lanczos basis
(kept to reorthogonalise), never ``O(P^2)``. The tridiagonal matrix ``T`` it builds has
Ritz values (eigenvalues of ``T``) that approximate the extreme eigenvalues of ``A``
first, and its eigenvectors' first components give the Gauss quadrature weights used by
stochastic Lanczos quadrature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal
from torch import Tensor

MatVec = Callable[[Tensor], Tensor]


class Tridiagonal(NamedTuple):
    """The Lanczos tridiagonal matrix: ``alpha`` (m,) diagonal, ``beta`` (m-1,) off-diagonal.

    ``next_beta`` (0-dim) is the norm of the residual after the last step, the ``beta_m`` of
    ``A Q = Q T + beta_m q_{m+1} e_m^T``: Ritz pair ``i`` has residual ``|beta_m S[m-1, i]|``.
    """

    alpha: Tensor
    beta: Tensor
    next_beta: Tensor | None = None

    def dense(self) -> Tensor:
        """Return ``T`` as an ``(m, m)`` matrix."""
        t = torch.diag(self.alpha)
        if self.beta.numel():
            t = t + torch.diag(self.beta, 1) + torch.diag(self.beta, -1)
        return t

    def eigh(self) -> tuple[Tensor, Tensor]:
        """Return Ritz values (m,) ascending and the eigenvectors of ``T`` (m, m)."""
        return torch.linalg.eigh(self.dense())


def _orthogonalise(w: Tensor, basis: Tensor) -> Tensor:
    """Remove from ``w`` its components along the rows of ``basis`` (twice is enough)."""
    for _ in range(2):
        w = w - basis.T @ (basis @ w)
    return w


def lanczos(
    matvec: MatVec,
    dim: int,
    iters: int,
    *,
    v0: Tensor | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    top_k: int | None = None,
    tol: float = 0.0,
    restart: bool = True,
    rule: str = "residual",
) -> Tridiagonal:
    """Run at most ``iters`` Lanczos steps on the symmetric operator ``matvec``.

    Args:
        matvec: ``v (dim,) -> A v (dim,)``; called with ``dtype`` vectors.
        dim: the operator's size ``P``; at most ``P`` steps are made.
        iters: the largest number of steps (and of stored basis vectors).
        v0: start vector (dim,); a seeded Gaussian vector when ``None``.
        top_k: with ``tol > 0``, stop as soon as the ``top_k`` largest Ritz values have
            residual bounds ``|beta_m * s_{m,i}| <= tol * max|ritz|``.
        rule: ``"residual"`` stops on the residual bounds above; ``"gap"`` on the
            gap-based error estimate ``min(r_i, r_i^2 / gap_i) <= tol * |theta_i|``
            (`_converged`), which for separated eigenvalues is far smaller than ``r_i``.
        restart: when the Krylov space becomes invariant (``beta ~ 0``) continue with a
            fresh random vector orthogonal to the basis (``beta = 0`` there), so that
            running ``P`` steps recovers the whole spectrum, multiplicities included.
            Without it the run stops there (what quadrature needs).

    Returns:
        The tridiagonal matrix of the steps made.
    """
    gen = torch.Generator().manual_seed(seed)
    steps = min(iters, dim)
    basis = torch.empty(steps, dim, dtype=dtype, device=device)  # rows 0..j are written
    q = torch.randn(dim, generator=gen, dtype=dtype) if v0 is None else v0.detach()
    q = q.to(dtype=dtype, device=device)
    q = q / q.norm()
    # the coefficients as Python floats: the convergence test runs on them in NumPy
    alphas: list[float] = []
    betas: list[float] = []
    scale = 0.0
    b = torch.zeros((), dtype=dtype, device=device)
    for j in range(steps):
        basis[j] = q
        w = matvec(q).to(dtype=dtype, device=device)
        a = float(torch.dot(w, q))
        alphas.append(a)
        w = _orthogonalise(w, basis[: j + 1])
        b = w.norm()
        b_value = float(b)
        scale = max(scale, abs(a), b_value)
        if j == steps - 1:
            break
        if b_value <= 1e-10 * max(scale, 1e-300):
            if not restart:
                break
            fresh = torch.randn(dim, generator=gen, dtype=dtype).to(device)
            w = _orthogonalise(fresh, basis[: j + 1])
            betas.append(0.0)
            q = w / w.norm()
            continue
        betas.append(b_value)
        q = w / b
        if top_k is not None and tol > 0 and j + 1 >= top_k and _converged(
                alphas, betas[:-1], b_value, top_k, tol, rule):
            break
    return Tridiagonal(torch.tensor(alphas, dtype=dtype, device=device),
                       torch.tensor(betas[: len(alphas) - 1], dtype=dtype, device=device), b)


def _converged(alphas: list[float], betas: list[float], b_next: float, k: int, tol: float,
               rule: str = "residual") -> bool:
    """Whether the top ``k`` Ritz pairs of the tridiagonal ``(alphas, betas)`` are accurate.

    ``"residual"``: every residual ``r_i <= tol * max|ritz|``. ``"gap"``: every
    ``min(r_i, r_i^2 / gap_i) <= tol * |theta_i|``, with ``gap_i`` the distance to the
    nearest other Ritz value. For a symmetric matrix the eigenvalue error is at most
    ``r_i^2 / gap_i`` when ``gap_i`` separates ``theta_i`` from the rest of the spectrum
    (Kato-Temple); the Ritz values only estimate that gap, so this rule is an estimate,
    not a bound (the residuals stay the reported, guaranteed bars). Runs in SciPy's
    tridiagonal eigensolver (microseconds a step, beside a Hessian-vector product).
    """
    if betas:
        ritz, vecs = eigh_tridiagonal(np.asarray(alphas), np.asarray(betas))
    else:
        ritz, vecs = np.asarray(alphas), np.ones((1, 1))
    residual = np.abs(b_next * vecs[-1, -k:])
    if rule == "residual":
        return bool(residual.max() <= tol * max(np.abs(ritz).max(), 1e-300))
    if ritz.size <= k:  # no Ritz value outside the top k yet: no gap to judge by
        return False
    top = ritz[-k:]
    below = np.concatenate([ritz[-k - 1: -k], top[:-1]])  # each value's lower neighbour
    above = np.concatenate([top[1:], [np.inf]])
    gap = np.maximum(np.minimum(top - below, above - top), 1e-300)
    error = np.minimum(residual, residual**2 / gap)
    return bool((error <= tol * np.maximum(np.abs(top), 1e-300)).all())
