"""The top Hessian eigenvalues with their Lanczos residual bounds.

For a Ritz pair ``(theta_i, y_i)`` of ``m`` Lanczos steps, ``||H y_i - theta_i y_i|| =
|beta_m S[m-1, i]|`` (``S`` the eigenvectors of the tridiagonal ``T``), and for a
symmetric ``H`` some eigenvalue lies within that residual of ``theta_i``: the bound is a
guaranteed error bar, computed from numbers Lanczos already has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from trainlab.errors import BadInput

from .hessian import hvp_operator, top_k_lanczos
from .params import LossFn

MatVec = Callable[[Tensor], Tensor]


class TopEigen(NamedTuple):
    """``values`` (k,) descending, their ``residuals`` (k,) and the Lanczos ``steps`` made."""

    values: Tensor
    residuals: Tensor
    steps: int


def hessian_top(
    loss_fn: LossFn,
    params: Tensor,
    k: int = 5,
    iters: int = 100,
    tol: float = 1e-5,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    operator: MatVec | None = None,
    rule: str = "residual",
) -> TopEigen:
    """The ``k`` largest Hessian eigenvalues at ``params`` (shape ``(P,)``) and their bounds.

    The same Lanczos run as `lanczos_top_k` (at most ``iters`` Hessian-vector products,
    stopping once the top-``k`` residuals are below ``tol * max|ritz|``; memory
    ``O(P * iters)``), returning the residual bounds too. ``operator`` (``v (P,) -> H v``,
    e.g. `chunked_hvp_operator`) replaces the products of ``loss_fn`` when given.
    ``rule="gap"`` stops instead on the gap-based error estimate of `lanczos` (fewer
    steps for separated eigenvalues; the returned residuals are still the bounds).
    """
    p = params.numel()
    op = operator if operator is not None else hvp_operator(loss_fn, params)
    tri = top_k_lanczos(op, params, k, iters, tol, seed, dtype, rule=rule)
    if tri.beta.numel() == 0:
        ritz, vecs = tri.alpha, tri.alpha.new_ones(1, 1)
    else:
        ritz, vecs = tri.eigh()
    nxt = tri.next_beta if tri.next_beta is not None else ritz.new_zeros(())
    # with m = P steps the Krylov space is the whole space: the Ritz values are exact
    scale = 0.0 if tri.alpha.numel() >= p else float(nxt)
    residuals = (scale * vecs[-1]).abs()
    return TopEigen(ritz.flip(0)[:k].cpu(), residuals.flip(0)[:k].cpu(), tri.alpha.numel())


def chunked_hvp_operator(loss_fns: Sequence[LossFn], weights: Sequence[float],
                         params: Tensor) -> MatVec:
    """``v (P,) -> sum_c w_c H_c v``: the Hessian of a weighted sum of losses, piece by piece.

    For a mean loss over ``N`` examples cut into micro-batches ``c`` of ``n_c`` examples,
    ``w_c = n_c / N`` gives the Hessian of the whole mean. Each product rebuilds one
    micro-batch's gradient graph at a time (about 1.5x the work of a retained graph), so
    memory is one micro-batch's double-backward graph instead of the whole sample's.
    """
    if len(loss_fns) != len(weights) or not loss_fns:
        raise BadInput("chunked_hvp_operator needs one weight per loss (at least one)")
    point = params.detach()

    def apply(v: Tensor) -> Tensor:
        total = torch.zeros_like(point, dtype=v.dtype)
        vv = v.detach().to(point.dtype)
        for f, w in zip(loss_fns, weights, strict=True):
            theta = point.clone().requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(f(theta), theta, create_graph=True)
                if g.requires_grad:
                    (hv,) = torch.autograd.grad(g, theta, vv)
                    total += w * hv.detach().to(v.dtype)
        return total

    return apply
