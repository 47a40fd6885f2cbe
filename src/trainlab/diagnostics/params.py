"""The one flat-parameter layout of trainlab, and functional losses of `torch.nn.Module`s.

The layout. A network's parameters as one vector ``theta`` of shape ``(P,)`` are the
concatenation, in ``model.parameters()`` order, of every parameter flattened row-major
(C order). For an MLP with layer sizes ``(d0, d1, …, dL)`` that is, layer after layer,
the weight ``(d_l, d_{l-1})`` row by row, then the bias ``(d_l,)``. An ensemble of E
networks (`trainlab.models.Ensemble`, whose parameters carry a leading member axis
``(E, *shape)``) is ``(E, P)``: row e is member e's vector. Every place that flattens
parameters follows it and `tests/diagnostics/test_diag_params.py` checks that they agree:
`flatten_params` / `load_flat` here; `Ensemble.flat_parameters` / `member_vector` /
`load_flat`; and the critical-point search (`trainlab.diagnostics.critical`), whose MLP
forward reads rows of ``(E, P)`` in this order.

Every curvature diagnostic works on a loss written as a function of ``theta``.
`make_loss_fn` builds that function with `torch.func.functional_call`, so the model
itself is never modified and any module without training-mode BatchNorm works (put
BatchNorm models in ``eval()`` mode: in training mode their running statistics would be
updated at every call).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from trainlab.errors import BadInput

LossFn = Callable[[Tensor], Tensor]

_NAMED_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": F.mse_loss,
    "cross_entropy": F.cross_entropy,
    "smooth_l1": F.smooth_l1_loss,
    "bce": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def count_params(model: nn.Module) -> int:
    """Return the number of scalar parameters of ``model`` (P; E·P for an ensemble)."""
    return sum(p.numel() for p in model.parameters())


def flatten_params(model: nn.Module) -> Tensor:
    """Concatenate every parameter of ``model`` into one detached vector.

    Returns a new tensor of shape ``(P,)`` (a copy: changing it leaves the model alone),
    in the layout of the module docstring, with the parameters' dtype and device.
    """
    params = [p.detach().reshape(-1) for p in model.parameters()]
    if not params:
        raise BadInput("the model has no parameters")
    return torch.cat(params).clone()


def unflatten_like(model: nn.Module, flat: Tensor) -> dict[str, Tensor]:
    """Cut a flat vector ``flat`` of shape ``(P,)`` into ``{name: tensor}`` like ``model``.

    The pieces are views of ``flat`` reshaped to each parameter's shape, so gradients
    flow back to ``flat``; the dict can be passed to `torch.func.functional_call`.
    """
    total = count_params(model)
    if flat.dim() != 1 or flat.numel() != total:
        raise BadInput(f"flat parameter vector has shape {tuple(flat.shape)}, expected ({total},)")
    out: dict[str, Tensor] = {}
    start = 0
    for name, p in model.named_parameters():
        n = p.numel()
        out[name] = flat[start : start + n].view(p.shape)
        start += n
    return out


def load_flat(model: nn.Module, flat: Tensor) -> None:
    """Copy a flat vector of shape ``(P,)`` into ``model``'s parameters, in place."""
    pieces = unflatten_like(model, flat)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(pieces[name])


def resolve_loss(
    loss: str | Callable[[Tensor, Tensor], Tensor],
) -> Callable[[Tensor, Tensor], Tensor]:
    """Return the loss callable ``(output, target) -> scalar`` for a name or a callable."""
    if callable(loss):
        return loss
    try:
        return _NAMED_LOSSES[loss]
    except KeyError:
        names = ", ".join(sorted(_NAMED_LOSSES))
        raise BadInput(f"unknown loss {loss!r}; expected one of {names} or a callable") from None


def make_loss_fn(
    model: nn.Module,
    loss_fn: str | Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
) -> LossFn:
    """Build ``f(theta) = loss_fn(model_theta(x), y)`` as a function of a flat vector.

    Args:
        model: any module (its own parameters are not used, only its structure and
            buffers).
        loss_fn: ``(output, target) -> scalar`` or a name (``"mse"``,
            ``"cross_entropy"``, ``"smooth_l1"``, ``"bce"``, ``"bce_with_logits"``).
        x: inputs, shape ``(N, ...)``; cast to ``theta``'s dtype when floating point so
            a float64 ``theta`` gives float64 curvature.
        y: targets, shape ``(N, ...)``; cast likewise when floating point.

    Returns:
        A callable taking ``theta`` of shape ``(P,)`` and returning a 0-dim tensor that is
        differentiable (twice) with respect to ``theta``.
    """
    criterion = resolve_loss(loss_fn)
    buffers = dict(model.named_buffers())

    def f(theta: Tensor) -> Tensor:
        params = unflatten_like(model, theta)
        xs = x.to(theta.dtype) if x.is_floating_point() else x
        ys = y.to(theta.dtype) if y.is_floating_point() else y
        bufs = {k: (b.to(theta.dtype) if b.is_floating_point() else b) for k, b in buffers.items()}
        out = torch.func.functional_call(model, (params, bufs), (xs,))
        return criterion(out, ys)

    return f
