"""How many examples one Hessian-product graph may hold: the automatic ``hvp_chunk``.

A Hessian-vector product by double backward keeps the tensors the forward pass and the
gradient (taken with ``create_graph=True``) save for the second backward, and those grow
with the number of examples. Counting what autograd saves for one and for two examples
(``torch.autograd.graph.saved_tensors_hooks``) gives the cost of one more example without
the per-model constant (weights saved once). The product itself needs more than what is
saved: the second backward makes a gradient of every saved activation and keeps
intermediate buffers. On the 11.2M-parameter ResNet-18 of bench/diagnose_memory.py
(16 MiB saved per example) the peak grew by 88 MiB per example (6.7 GiB for 64 examples,
2.5 GiB for micro-batches of 16), 5.5x what is saved: `GRAPH_FACTOR` rounds that up.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.diagnostics import make_loss_fn

GRAPH_FACTOR = 6  # peak memory of a product / bytes saved by its graph (measured 5.5)


def saved_bytes(model, criterion, x: Tensor, y: Tensor, theta: Tensor) -> int:
    """Bytes autograd saves for the loss of ``(x, y)`` and its ``create_graph`` gradient."""
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        # a tensor saved twice (a weight used by two nodes) is stored once
        seen[id(t)] = t.numel() * t.element_size()
        return t

    f = make_loss_fn(model, criterion, x, y)
    t = theta.detach().clone().requires_grad_(True)
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = f(t)
        torch.autograd.grad(loss, t, create_graph=True)
    return sum(seen.values())


def auto_chunk(model, criterion, x: Tensor, y: Tensor, theta: Tensor, budget_mib: int) -> int:
    """Examples per micro-batch so that one product's graph stays within ``budget_mib``.

    Returns 0 (one graph of all ``N`` examples, the fastest) when they all fit. The
    estimate is linear in the examples, measured at one and two (``x`` is ``(N, ...)``),
    times `GRAPH_FACTOR`.
    """
    n = x.shape[0]
    if n <= 2:
        return 0
    one = saved_bytes(model, criterion, x[:1], y[:1], theta)
    two = saved_bytes(model, criterion, x[:2], y[:2], theta)
    saved = max(two - one, 1)
    fixed = max(one - saved, 0)  # weights and other per-model tensors, saved once
    per_example = saved * GRAPH_FACTOR
    room = budget_mib * 2**20 - fixed
    fits = int(room // per_example) if room > 0 else 1
    return 0 if fits >= n else max(fits, 1)
