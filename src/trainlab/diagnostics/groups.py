"""Parameter groups: the slices of the flat vector ``theta`` that belong to one module.

``theta`` (shape ``(P,)``) concatenates the parameters in ``named_parameters()`` order
(see `flatten_params`), so every module's own parameters form one contiguous slice.
`restrict` turns a flat loss into the loss of one slice with the rest held fixed: its
Hessian is the diagonal block ``H[g, g]`` of the full Hessian.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from trainlab.errors import BadInput

from .params import LossFn


class ParamGroup(NamedTuple):
    """One module's parameters: ``theta[start:stop]``."""

    name: str
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Number of scalar parameters in the group."""
        return self.stop - self.start


def param_groups(model: nn.Module, by: str = "module") -> list[ParamGroup]:
    """The groups of ``model``'s flat parameter vector, in ``named_parameters()`` order.

    Args:
        by: ``"module"`` joins the parameters of one module (``"0.weight"`` and
            ``"0.bias"`` become group ``"0"``); ``"parameter"`` keeps one group per tensor.
    """
    if by not in ("module", "parameter"):
        raise BadInput(f"by must be 'module' or 'parameter', got {by!r}")
    groups: list[ParamGroup] = []
    start = 0
    for name, p in model.named_parameters():
        key = name.rsplit(".", 1)[0] if by == "module" and "." in name else name
        stop = start + p.numel()
        if groups and groups[-1].name == key and groups[-1].stop == start:
            groups[-1] = ParamGroup(key, groups[-1].start, stop)
        else:
            groups.append(ParamGroup(key, start, stop))
        start = stop
    return groups


def restrict(loss_fn: LossFn, params: Tensor, group: ParamGroup) -> tuple[LossFn, Tensor]:
    """The loss as a function of ``theta[group]`` alone, and that block's point.

    Returns ``(f_g, theta_g)`` with ``f_g(t) = loss_fn(theta with its slice replaced by
    t)`` for ``t`` of shape ``(group.size,)``; every Hessian diagnostic of ``f_g`` is one
    of the block ``H[start:stop, start:stop]``.
    """
    _check_fits(group, params)
    fixed = params.detach()
    before, after = fixed[: group.start], fixed[group.stop:]

    def f(t: Tensor) -> Tensor:
        return loss_fn(torch.cat([before.to(t.dtype), t, after.to(t.dtype)]))

    return f, fixed[group.start: group.stop].clone()


def block_operator(operator: Callable[[Tensor], Tensor], params: Tensor,
                   group: ParamGroup) -> Callable[[Tensor], Tensor]:
    """``v_g -> H[g, g] v_g`` from the full product ``v (P,) -> H v``: ``v_g`` padded with
    zeros to ``P`` numbers, multiplied, and the group's slice kept.

    The same block as the Hessian of `restrict`'s function, through any operator (e.g.
    `trainlab.diagnostics.eigen.chunked_hvp_operator`, whose memory is one micro-batch).
    """
    _check_fits(group, params)
    p = params.numel()

    def apply(v: Tensor) -> Tensor:
        if v.shape != (group.size,):
            raise BadInput(f"vector of shape {tuple(v.shape)} does not match the group's "
                           f"{group.size} parameters")
        full = v.new_zeros(p)
        full[group.start: group.stop] = v
        return operator(full)[group.start: group.stop]

    return apply


def _check_fits(group: ParamGroup, params: Tensor) -> None:
    if not 0 <= group.start < group.stop <= params.numel():
        raise BadInput(f"group {group.name!r} does not fit a vector of P={params.numel()}")
