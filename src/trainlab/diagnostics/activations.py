"""What a layer outputs (activation maps) and how the weights are distributed."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trainlab.errors import BadInput


def _find_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    if isinstance(layer, nn.Module):
        return layer
    modules = dict(model.named_modules())
    if layer not in modules:
        raise BadInput(f"no layer named {layer!r}; the model has {', '.join(modules) or 'none'}")
    return modules[layer]


def activation_maps(model: nn.Module, layer: nn.Module | str, x: Tensor) -> Tensor:
    """Return what ``layer`` outputs when ``model`` runs on ``x``.

    Args:
        model: the network; run once on ``x`` under ``torch.no_grad()`` (its mode is
            left as it is: call ``model.eval()`` first for dropout-free maps).
        layer: a submodule of ``model`` or its name in ``model.named_modules()``
            (``"conv1"``, ``"0"``, ``"features.0"``).
        x: a batch of inputs ``(N, ...)``.

    Returns:
        The layer's output, detached; for a ``Conv2d`` layer ``(N, C_out, H_out, W_out)``.
        A forward hook captures it and is removed afterwards, even on error.
    """
    module = _find_layer(model, layer)
    captured: list[Tensor] = []

    def hook(_mod: nn.Module, _inp: tuple, out: Tensor) -> None:
        captured.append(out.detach() if isinstance(out, Tensor) else out)

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    if not captured:
        raise BadInput("the layer was not called during the forward pass")
    return captured[0]


def weight_histograms(
    model: nn.Module, bins: int = 30, include_bias: bool = True
) -> dict[str, tuple[Tensor, Tensor]]:
    """Histogram every parameter tensor of ``model``.

    Args:
        bins: number of equal-width bins spanning each tensor's own ``[min, max]``.
        include_bias: whether 1-D parameters (biases, norm scales) are included.

    Returns:
        ``{name: (counts (bins,), edges (bins + 1,))}`` in float32 on the CPU, in
        ``named_parameters()`` order.
    """
    if bins < 1:
        raise BadInput(f"bins must be positive, got {bins}")
    out: dict[str, tuple[Tensor, Tensor]] = {}
    for name, p in model.named_parameters():
        if p.dim() < 2 and not include_bias:
            continue
        values = p.detach().float().cpu().reshape(-1)
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo:  # a constant tensor: one bin around its value
            lo, hi = lo - 0.5, hi + 0.5
        counts, edges = torch.histogram(values, bins=bins, range=(lo, hi))
        out[name] = (counts, edges)
    return out
