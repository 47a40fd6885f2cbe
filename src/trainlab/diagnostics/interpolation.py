"""Linear interpolation and extrapolation between two parameter vectors."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import vector_to_parameters

from trainlab.errors import BadInput


def _alphas(alphas: Tensor | Sequence[float], dtype: torch.dtype) -> Tensor:
    a = torch.as_tensor(alphas, dtype=dtype).reshape(-1)
    if a.numel() == 0:
        raise BadInput("alphas must not be empty")
    return a


def interpolate(theta1: Tensor, theta2: Tensor, alphas: Tensor | Sequence[float]) -> Tensor:
    """Return ``theta(alpha) = (1 - alpha) theta1 + alpha theta2`` for every alpha.

    Args:
        theta1, theta2: flat parameter vectors ``(P,)``.
        alphas: ``(A,)`` values; outside ``[0, 1]`` they extrapolate. ``alpha = 0`` and
            ``alpha = 1`` give ``theta1`` and ``theta2`` exactly (no rounding).

    Returns:
        ``(A, P)``, one row per alpha.
    """
    if theta1.shape != theta2.shape or theta1.dim() != 1:
        raise BadInput(
            f"theta1 and theta2 must be flat vectors of one shape, got "
            f"{tuple(theta1.shape)} and {tuple(theta2.shape)}"
        )
    a = _alphas(alphas, theta1.dtype).to(theta1.device)[:, None]
    return (1 - a) * theta1.detach()[None] + a * theta2.detach()[None]


def interpolation_curve(
    model: nn.Module,
    theta1: Tensor,
    theta2: Tensor,
    alphas: Tensor | Sequence[float],
    eval_fn: Callable[[nn.Module], dict[str, float]],
) -> list[dict[str, float]]:
    """Evaluate ``eval_fn`` at every ``theta(alpha)`` on the line through two models.

    Each ``theta(alpha)`` is loaded (`torch.nn.utils.vector_to_parameters`) into one
    deep copy of ``model``, so ``model`` itself is untouched; ``eval_fn(copy)`` runs under
    ``torch.no_grad()`` and returns a dict of metrics (for example train and test loss
    and accuracy). Buffers (BatchNorm statistics) are those of ``model``, not
    interpolated; the copy keeps ``model``'s train/eval mode.

    Returns:
        One dict per alpha: ``{"alpha": alpha, **eval_fn(copy)}``.
    """
    rows = interpolate(theta1, theta2, alphas)
    probe = copy.deepcopy(model)
    out: list[dict[str, float]] = []
    with torch.no_grad():
        for alpha, theta in zip(_alphas(alphas, torch.float64).tolist(), rows, strict=True):
            vector_to_parameters(theta, probe.parameters())
            out.append({"alpha": alpha, **eval_fn(probe)})
    return out
