"""Hutchinson's estimator of the Hessian trace, with an interval over probe vectors.

For Rademacher vectors ``v`` (independent ``±1`` entries), ``E[v^T H v] = trace(H)``
(Hutchinson 1989; as in PyHessian, Yao et al. 2020). The same products give the trace
of every diagonal block: ``E[v_g^T (H v)_g] = trace(H[g, g])`` since the entries of ``v``
are independent, so per-layer traces cost nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from trainlab.errors import BadInput

from .groups import ParamGroup
from .hessian import hvp_operator
from .intervals import Estimate, t_interval
from .params import LossFn


class TraceEstimate(NamedTuple):
    """`hutchinson_trace` output: the estimate, the ``(n,)`` probe samples, per-group ones."""

    estimate: Estimate
    samples: Tensor
    groups: dict[str, Estimate]


def hutchinson_trace(
    loss_fn: LossFn,
    params: Tensor,
    n_probes: int = 100,
    batch: int = 1,
    seed: int = 0,
    groups: Sequence[ParamGroup] = (),
    level: float = 0.95,
    operator: Callable[[Tensor], Tensor] | None = None,
) -> TraceEstimate:
    """Estimate ``trace(H)`` at ``params`` (shape ``(P,)``) from ``n_probes`` Rademacher probes.

    The probes go through the Hessian ``batch`` at a time (one vmapped double backward
    per batch, see `hvp_operator`); memory grows with ``batch`` times the loss graph, and
    on a CPU one probe at a time (``batch=1``, the default) is faster (2.8 against
    3.4 ms a probe at P = 4.4k, N = 1,024). ``operator``
    (``v (P,) -> H v``, e.g. `chunked_hvp_operator`) replaces the products of ``loss_fn``;
    it takes one probe at a time.

    Returns:
        `TraceEstimate` with the mean of the ``n_probes`` samples ``v^T H v`` and its
        t-interval, the samples themselves, and the same for each of ``groups``.
    """
    if n_probes < 1 or batch < 1:
        raise BadInput("hutchinson_trace needs n_probes >= 1 and batch >= 1")
    p = params.numel()
    op = operator if operator is not None else hvp_operator(loss_fn, params)
    if operator is not None:
        batch = 1
    gen = torch.Generator().manual_seed(seed)
    totals: list[Tensor] = []
    parts: dict[str, list[Tensor]] = {g.name: [] for g in groups}
    done = 0
    while done < n_probes:
        b = min(batch, n_probes - done)
        v = (torch.randint(0, 2, (b, p), generator=gen) * 2 - 1).to(params)
        hv = op(v) if b > 1 else op(v[0])[None]
        prod = (v * hv).double()
        totals.append(prod.sum(1).cpu())
        for g in groups:
            parts[g.name].append(prod[:, g.start: g.stop].sum(1).cpu())
        done += b
    samples = torch.cat(totals)
    per_group = {name: t_interval(torch.cat(vals), level) for name, vals in parts.items()}
    return TraceEstimate(t_interval(samples, level), samples, per_group)
