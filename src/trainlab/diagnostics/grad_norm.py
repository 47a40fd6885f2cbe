"""Gradient norms: of a module's ``.grad`` after ``backward()``, or of a flat loss."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from trainlab.errors import BadInput

from .params import LossFn


def _grads(model: nn.Module) -> list[tuple[str, Tensor]]:
    grads = [(n, p.grad) for n, p in model.named_parameters() if p.grad is not None]
    if not grads:
        raise BadInput("no parameter has a gradient; call loss.backward() first")
    return grads


def grad_norm(model: nn.Module) -> float:
    """Return the L2 norm of all parameter gradients of ``model`` taken together.

    ``sqrt(sum_p ||p.grad||^2)`` over the parameters whose ``.grad`` is set (call it after
    ``loss.backward()`` and before ``optimizer.zero_grad()``). Accumulated in float64.
    """
    total = sum(float(g.detach().double().pow(2).sum()) for _, g in _grads(model))
    return math.sqrt(total)


def grad_norms_per_layer(model: nn.Module, by: str = "parameter") -> dict[str, float]:
    """Return the L2 gradient norm of each parameter tensor or of each module.

    Args:
        model: a module after ``backward()``.
        by: ``"parameter"`` keys by parameter name (``"0.weight"``, ``"0.bias"``);
            ``"module"`` groups the parameters of one module (``"0"``) into one norm.

    Returns:
        ``{name: norm}`` in ``named_parameters()`` order, for parameters with a gradient.
    """
    if by not in ("parameter", "module"):
        raise BadInput(f"by must be 'parameter' or 'module', got {by!r}")
    sums: dict[str, float] = {}
    for name, g in _grads(model):
        key = name.rsplit(".", 1)[0] if by == "module" and "." in name else name
        sums[key] = sums.get(key, 0.0) + float(g.detach().double().pow(2).sum())
    return {k: math.sqrt(v) for k, v in sums.items()}


def loss_grad(loss_fn: LossFn, params: Tensor) -> Tensor:
    """Return the gradient of a flat loss at ``params``, shape ``(P,)`` (detached)."""
    theta = params.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(theta)
        (g,) = torch.autograd.grad(loss, theta, allow_unused=True)
    return torch.zeros_like(theta) if g is None else g.detach()


def loss_grad_norm(loss_fn: LossFn, params: Tensor) -> float:
    """Return ``||grad f(params)||_2`` for a flat loss ``f`` and ``params`` of shape ``(P,)``."""
    return float(loss_grad(loss_fn, params).double().norm())
