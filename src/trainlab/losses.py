"""Per-member losses, accuracies and explicit L1/L2 penalties for ensembles.

Every function takes outputs shaped `(E, B, C)` and returns one value per member,
shape `(E,)`, so that the sum over members has, for each member, exactly that
member's gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

LOSSES = ("mse", "smoothl1", "bce", "cross_entropy")


def _expand(target: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    if target.dim() < output.dim() - 1 or (target.dim() == output.dim() - 1
                                          and target.shape[0] != output.shape[0]):
        target = target.unsqueeze(0).expand(output.shape[0], *target.shape)
    return target


def member_loss(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean loss of each member.

    output: (E, B, C) — predictions, or logits for `bce` / `cross_entropy`.
    target: (E, B, C) or (B, C) for regression and `bce`; (E, B) or (B,) class ids for
    `cross_entropy`. Returns (E,).
    """
    E = output.shape[0]
    if name == "cross_entropy":
        if target.dim() == 1:
            target = target.unsqueeze(0).expand(E, -1)
        per = F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1),
                              reduction="none")
        return per.reshape(E, -1).mean(1)
    if target.dim() == output.dim() - 1 and target.shape == output.shape[:-1]:
        target = target.unsqueeze(-1)
    target = _expand(target, output).to(output.dtype)
    if name == "mse":
        per = (output - target).pow(2)
    elif name == "smoothl1":
        per = F.smooth_l1_loss(output, target, reduction="none", beta=1.0)
    elif name == "bce":
        per = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    else:
        raise ValueError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})")
    return per.reshape(E, -1).mean(1)


def member_accuracy(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """Fraction correct per member, `(E,)`; None for regression losses."""
    E = output.shape[0]
    if name == "cross_entropy":
        if target.dim() == 1:
            target = target.unsqueeze(0).expand(E, -1)
        return (output.argmax(-1) == target).float().mean(1)
    if name == "bce":
        if target.dim() == output.dim() - 1 and target.shape == output.shape[:-1]:
            target = target.unsqueeze(-1)
        target = _expand(target, output)
        return ((output > 0).float() == target.float()).float().reshape(E, -1).mean(1)
    return None


def member_penalty(kind: str | None, params: list[torch.Tensor], lam: torch.Tensor | float,
                   weights_only: bool = False) -> torch.Tensor | None:
    """Explicit penalty per member: L1 `λ·Σ|θ|` or L2 `λ·Σθ²`, shape `(E,)`.

    `params` have the ensemble axis first. With `weights_only`, 1-D-per-member
    tensors (biases) are left out.
    """
    if kind in (None, "none"):
        return None
    total = None
    for p in params:
        if weights_only and p.dim() <= 2:
            continue
        flat = p.reshape(p.shape[0], -1)
        term = flat.abs().sum(1) if kind == "l1" else flat.pow(2).sum(1)
        total = term if total is None else total + term
    if total is None:
        return None
    if kind not in ("l1", "l2"):
        raise ValueError(f"unknown penalty {kind!r} (choose l1, l2 or none)")
    return total * lam


@dataclass(frozen=True)
class Penalty:
    """An explicit penalty added to every member's training loss (see `member_penalty`).

    kind: "l1" (λ·Σ|θ|) or "l2" (λ·Σθ²). lam: one λ, or one per member (E,).
    weights_only: leave the biases out.
    """

    kind: Literal["l1", "l2"]
    lam: float | tuple[float, ...] = 0.0
    weights_only: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("l1", "l2"):
            raise ValueError(f"unknown penalty {self.kind!r} (choose l1 or l2)")
        if isinstance(self.lam, Sequence):
            object.__setattr__(self, "lam", tuple(float(v) for v in self.lam))

