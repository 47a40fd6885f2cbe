"""Hessians of a flat loss: products, the dense matrix, its top eigenvalues, its spectrum.

``loss_fn`` is a function of a flat parameter vector ``theta`` of shape ``(P,)`` returning a
scalar (build one with `trainlab.diagnostics.make_loss_fn`). Hessian-vector products use
double backward (Pearlmutter's trick): one gradient with ``create_graph=True``, then one
backward of ``g . v`` per vector, reusing the gradient graph. Dense Hessians, of one point
(`dense_hessian`) or of E points at once (`func_grad_hessian`, which the critical-point
search uses), come from one ``torch.func`` core: forward-over-reverse,
``H e_k = jvp(jacrev(loss_fn), theta, e_k)``, vmapped over basis vectors and members.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from trainlab.errors import BadInput

from .lanczos import Tridiagonal, lanczos
from .params import LossFn

MAX_DENSE_PARAMS = 5000


def hvp_operator(loss_fn: LossFn, params: Tensor) -> Callable[[Tensor], Tensor]:
    """Return ``v -> H v`` at ``params`` (shape ``(P,)``), reusing one gradient graph.

    The returned callable accepts ``v`` of shape ``(P,)`` or a batch ``(K, P)`` (rows are
    separate vectors) in any floating dtype and returns ``H v`` in that shape and dtype.
    """
    theta = params.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(loss_fn(theta), theta, create_graph=True)

    def apply(v: Tensor) -> Tensor:
        if v.shape[-1] != theta.numel() or v.dim() not in (1, 2):
            raise BadInput(f"vector of shape {tuple(v.shape)} does not match P={theta.numel()}")
        if not g.requires_grad:  # the loss is linear in theta: H = 0
            return torch.zeros_like(v)
        vv = v.detach().to(theta.dtype)
        with torch.enable_grad():
            if vv.dim() == 1:
                (hv,) = torch.autograd.grad(g, theta, vv, retain_graph=True, allow_unused=True)
            else:
                hv = _batched(g, theta, vv)
        return (torch.zeros_like(vv) if hv is None else hv.detach()).to(v.dtype)

    return apply


def _batched(g: Tensor, theta: Tensor, vs: Tensor) -> Tensor:
    """Rows ``H v_i``: one vmapped backward, or a loop where vmap is not supported."""
    try:
        (hv,) = torch.autograd.grad(g, theta, vs, retain_graph=True, is_grads_batched=True)
        return hv
    except RuntimeError:
        rows = [torch.autograd.grad(g, theta, v, retain_graph=True)[0] for v in vs]
        return torch.stack(rows)


def hvp(loss_fn: LossFn, params: Tensor, v: Tensor) -> Tensor:
    """Return the Hessian-vector product ``H(params) v``.

    Args:
        loss_fn: flat loss ``theta (P,) -> scalar``.
        params: the point ``(P,)``.
        v: one vector ``(P,)`` or a batch ``(K, P)``.

    Returns:
        ``H v`` with the shape of ``v``.
    """
    return hvp_operator(loss_fn, params)(v)


def func_grad_hessian(
    loss_fn: LossFn,
    theta: Tensor,
    hessian: bool = True,
    chunk: int = 8,
    vector_chunk: int | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Loss ``(E,)``, gradient ``(E, P)`` and Hessian ``(E, P, P)`` at every row of ``theta``.

    ``loss_fn(t (P,)) -> scalar`` must be ``torch.func``-transformable (`make_loss_fn`'s
    losses are). Row k of a member's Hessian is ``jvp(jacrev(loss_fn), t, e_k)``, taken for
    ``vector_chunk`` basis vectors at once (all P when None) and ``chunk`` members at once,
    so memory is about ``chunk * vector_chunk`` gradient graphs. The Hessian is symmetrised,
    ``(H + H^T) / 2``, which only removes rounding noise. ``hessian=False`` skips it (None).
    """
    if theta.dim() != 2:
        raise BadInput(f"theta must be (E, P), got shape {tuple(theta.shape)}")
    g, value = torch.func.vmap(torch.func.grad_and_value(loss_fn))(theta)
    if not hessian:
        return value, g, None
    p = theta.shape[1]
    step = p if vector_chunk is None else max(1, vector_chunk)
    eye = torch.eye(p, dtype=theta.dtype, device=theta.device)
    # jacrev, not grad: forward-mode over torch.func.grad fails on functional_call losses
    # ("ZeroTensors are immutable"), and for a scalar loss the two are the same gradient
    grad_fn = torch.func.jacrev(loss_fn)

    def rows(t: Tensor, basis: Tensor) -> Tensor:  # (K, P): H e_k for the rows e_k of basis
        return torch.func.vmap(lambda v: torch.func.jvp(grad_fn, (t,), (v,))[1])(basis)

    def member(t: Tensor) -> Tensor:  # (P, P)
        return torch.cat([rows(t, eye[i : i + step]) for i in range(0, p, step)])

    members = torch.func.vmap(member)
    h = torch.cat([members(theta[i : i + chunk]) for i in range(0, theta.shape[0], chunk)])
    return value, g, (h + h.transpose(1, 2)) / 2


def dense_hessian(
    loss_fn: LossFn, params: Tensor, max_params: int = MAX_DENSE_PARAMS, chunk: int = 256
) -> Tensor:
    """Return the full Hessian ``(P, P)`` at ``params`` (shape ``(P,)``), symmetrised.

    `func_grad_hessian` for one point, ``chunk`` basis vectors at a time. Memory is ``P^2``
    numbers, so ``P > max_params`` is refused (`BadInput`): use `lanczos_top_k` or
    `spectral_density`. ``loss_fn`` must be ``torch.func``-transformable.
    """
    p = params.numel()
    if p > max_params:
        raise BadInput(
            f"dense Hessian of P={p} parameters refused (limit {max_params}); use Lanczos"
        )
    _, _, h = func_grad_hessian(loss_fn, params.detach().reshape(1, p), chunk=1,
                                vector_chunk=chunk)
    return h[0]


def hessian_eigenvalues(
    loss_fn: LossFn,
    params: Tensor,
    dtype: torch.dtype = torch.float64,
    max_params: int = MAX_DENSE_PARAMS,
) -> Tensor:
    """Return all ``P`` Hessian eigenvalues, ascending, from the dense Hessian in ``dtype``.

    ``params`` is cast to ``dtype`` first, so with `make_loss_fn` the whole second
    derivative is computed in float64 by default (exact zeros stay near 1e-16, not 1e-7).
    """
    h = dense_hessian(loss_fn, params.detach().to(dtype), max_params=max_params)
    return torch.linalg.eigvalsh(h)


def lanczos_top_k(
    loss_fn: LossFn,
    params: Tensor,
    k: int = 5,
    iters: int = 100,
    tol: float = 1e-5,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Return the ``k`` largest (algebraic) Hessian eigenvalues, descending, shape ``(k,)``.

    Lanczos with full reorthogonalisation on Hessian-vector products: at most ``iters``
    products, ``O(P * iters)`` memory, no dense Hessian. It stops early once the top-``k``
    Ritz residual bounds fall below ``tol * max|ritz|`` (the eigenvalue error is at most the
    residual and usually far smaller). The recurrence runs in ``dtype``. Single-vector
    Lanczos sees one copy of a repeated eigenvalue until the Krylov space is exhausted
    (with ``iters >= P`` every copy is found, after restarts on breakdown).
    """
    tri = top_k_lanczos(hvp_operator(loss_fn, params), params, k, iters, tol, seed, dtype)
    ritz, _ = tri.eigh()
    return ritz.flip(0)[:k]


def top_k_lanczos(op: Callable[[Tensor], Tensor], params: Tensor, k: int, iters: int,
                  tol: float, seed: int, dtype: torch.dtype,
                  rule: str = "residual") -> Tridiagonal:
    """The Lanczos run behind `lanczos_top_k` and `eigen.hessian_top` on ``op`` (v (P,) -> Hv).

    ``k`` is checked against ``P = params.numel()``; at least ``k`` steps are allowed, and the
    run stops once the top-``k`` residuals are below ``tol * max|ritz|`` (``rule="gap"``:
    on `lanczos`'s gap-based error estimate instead).
    """
    p = params.numel()
    if not 1 <= k <= p:
        raise BadInput(f"k must be between 1 and P={p}, got {k}")
    return lanczos(
        op, p, max(iters, k), seed=seed, dtype=dtype, device=params.device, top_k=k, tol=tol,
        rule=rule,
    )


class SpectralDensity(NamedTuple):
    """Output of `spectral_density`: grid (G,), density (G,), Ritz nodes and weights (V, m)."""

    grid: Tensor
    density: Tensor
    nodes: Tensor
    weights: Tensor


def spectral_density(
    loss_fn: LossFn,
    params: Tensor,
    n_vectors: int = 10,
    iters: int = 90,
    grid: Tensor | int = 1000,
    sigma: float | None = None,
    seed: int = 0,
    operator: Callable[[Tensor], Tensor] | None = None,
) -> SpectralDensity:
    """Estimate the Hessian eigenvalue density by stochastic Lanczos quadrature.

    Ghorbani, Krishnan & Xiao (ICML 2019): for each of ``n_vectors`` random unit vectors
    ``v``, ``m = min(iters, P)`` Lanczos steps give ``T = S diag(theta) S^T``; nodes
    ``theta_i`` with weights ``tau_i = S[0, i]^2`` (summing to 1) are the Gauss quadrature
    of ``v^T g(H) v``. The density is their average, smoothed by Gaussians of width
    ``sigma`` (default 1 % of the node range):
    ``rho(t) = mean_v sum_i tau_i N(t; theta_i, sigma^2)``, which integrates to 1 over a
    wide enough grid, and ``sum tau_i theta_i = v^T H v`` estimates ``trace(H) / P``.

    Args:
        grid: points (G,) where the density is evaluated, or their number (a linspace
            over the node range widened by 5 sigma on both sides).
        operator: ``v (P,) -> H v`` (e.g. `chunked_hvp_operator`) in place of the
            products of ``loss_fn``.

    Memory is ``O(P * iters)`` (full reorthogonalisation, as in Ghorbani et al.).
    """
    p = params.numel()
    op = operator if operator is not None else hvp_operator(loss_fn, params)
    gen = torch.Generator().manual_seed(seed)
    nodes, weights = [], []
    m = min(iters, p)
    for i in range(n_vectors):
        v0 = torch.randn(p, generator=gen, dtype=torch.float64)
        tri = lanczos(op, p, m, v0=v0, seed=seed + i, device=params.device, restart=False)
        theta, vecs = tri.eigh()
        pad = m - theta.numel()  # early breakdown: fewer nodes, pad with zero weight
        nodes.append(torch.nn.functional.pad(theta.cpu(), (0, pad), value=float(theta[-1])))
        weights.append(torch.nn.functional.pad(vecs[0].cpu().pow(2), (0, pad)))
    nodes_t, weights_t = torch.stack(nodes), torch.stack(weights)
    lo, hi = float(nodes_t.min()), float(nodes_t.max())
    if sigma is None:
        sigma = 0.01 * (hi - lo) if hi > lo else 1e-3 * max(abs(hi), 1.0)
    if isinstance(grid, int):
        grid_t = torch.linspace(lo - 5 * sigma, hi + 5 * sigma, grid, dtype=torch.float64)
    else:
        grid_t = grid.detach().to(torch.float64).cpu()
    z = (grid_t[:, None] - nodes_t.reshape(1, -1)) / sigma
    kernel = torch.exp(-0.5 * z**2) / (sigma * math.sqrt(2 * math.pi))
    density = (kernel * weights_t.reshape(1, -1)).sum(1) / n_vectors
    return SpectralDensity(grid_t, density, nodes_t, weights_t)
