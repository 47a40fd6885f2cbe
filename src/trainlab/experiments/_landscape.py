"""Grid points of a loss surface as the members of one `Ensemble` (used by `surface`).

The C points of a chunk, ``theta0 + a D[0] + b D[1]``, are loaded as the C members of
one ensemble of the model's architecture and run in one forward pass (batched matmuls
over the member axis) instead of one model reload and forward per point.

Two more exact savings:
- a first linear layer's output ``W x + c`` is linear in its weights, so on the plane it
  is ``h0 + a h1 + b h2``, with ``h0, h1, h2`` computed once for the whole grid (three
  matmuls against the data instead of one per point); only the layers after it run per
  point. For an MNIST MLP that first layer holds most of the multiply-adds;
- the examples are taken in blocks small enough that a chunk's activations stay in the
  CPU caches (the loss is a mean over examples, so block sums add up to it); the
  per-point work is then element-wise passes and small matmuls, bound by memory traffic,
  on one thread (`engine.one_thread`: on a shared 2-core machine a second thread's
  spinning OpenMP workers cost more than they save on blocks this small).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from trainlab.engine import one_thread
from trainlab.losses import member_loss
from trainlab.models import Ensemble

MAX_POINTS = 64  # grid points per chunk
BLOCK_NUMBERS = 2 ** 19  # activations of one chunk and example block (2 MiB of float32)
MIN_BLOCK = 64  # examples: below this the per-call overhead of a wide model's blocks wins
# (bench/surface.py, one thread, 51 x 51 grid, 4,000 images, 784-100-10: 2**21 numbers took
# 3.09 s, 2**20 1.80 s (session 4: 11.0x -> 19.6x the one-batch loop); session 5, one process
# on a quiet machine: 2**21 1.55-1.69 s, 2**20 1.13-1.35 s, 2**19 0.91-1.03 s, 2**18
# 1.08-1.15 s. 784-256-128-10 (widest 256): 2**19 with no floor (32 examples) 17.3 s against
# 15.7 s at 2**20 (64 examples), hence the floor of 64 examples, which keeps it at 2**20's.)
IN_PLACE = {"relu": torch.relu_, "tanh": torch.tanh_, "sigmoid": torch.sigmoid_}


def _loss_sum(loss: str, out: Tensor, y: Tensor) -> Tensor:
    """``(C,)`` sums over the examples of a block of the per-example loss."""
    if loss == "cross_entropy":  # log-sum-exp minus the true logit, without a copy of out
        true = out.gather(-1, y.expand(out.shape[0], -1).unsqueeze(-1)).squeeze(-1)
        return (torch.logsumexp(out, -1) - true).sum(1)
    return member_loss(loss, out, y) * out.shape[1]


class EnsembleGrid:
    """``coeffs (C, k) -> (C,)``: the loss at ``origin + coeffs @ directions`` on (x, y).

    Args:
        spec, input_shape: the architecture (`trainlab.models.Ensemble`'s spec).
        origin: ``(P,)``; directions: ``(k, P)``, both in the flat layout of
            `trainlab.diagnostics.params` (member order of `Ensemble.flat_parameters`).
        x: ``(N, *input_shape)``; y: targets; loss: a `trainlab.losses` name.
    """

    def __init__(self, spec: Sequence[tuple], input_shape: Sequence[int], origin: Tensor,
                 directions: Tensor, x: Tensor, y: Tensor, loss: str):
        self.spec, self.loss, self.y, self.n = [tuple(s) for s in spec], loss, y, x.shape[0]
        self.origin, self.dirs = origin.to(x.dtype), directions.to(x.dtype)
        self._cache: dict[int, Ensemble] = {}
        self.act = None
        if self.spec[0][0] == "linear":
            out, fan_in = self.spec[0][1], math.prod(input_shape)
            n0 = out * fan_in + out
            xf = x.reshape(x.shape[0], -1)

            def first(theta: Tensor, bias: bool) -> Tensor:  # (N, out) = x W^T (+ c)
                w = theta[:out * fan_in].reshape(out, fan_in).T
                return torch.addmm(theta[out * fan_in:n0], xf, w) if bias else xf @ w

            with torch.no_grad():
                # rows: h0 (with the bias), then one per direction (its own bias part)
                self.basis = torch.stack([first(self.origin, True)]
                                         + [first(d, True) for d in self.dirs])
            tail, shape = self.spec[1:], (out,)
            if tail and tail[0][0] == "act" and tail[0][1] in IN_PLACE:
                self.act, tail = IN_PLACE[tail[0][1]], tail[1:]
            self.tail_spec, self.tail_input, self.x = tail, shape, None
            self.origin, self.dirs = self.origin[n0:], self.dirs[:, n0:]
        else:
            self.tail_spec, self.tail_input, self.x = self.spec, tuple(input_shape), x
        self.widest = (Ensemble(self.tail_spec, self.tail_input, [0]).widest_activation
                       if self.tail_spec else math.prod(self.tail_input))

    def chunk(self, n: int | None = None) -> int:
        """Grid points per chunk (`loss_surface`'s ``chunk``); ``n`` is accepted for symmetry."""
        return MAX_POINTS

    def _members(self, c: int) -> Ensemble:
        if c not in self._cache:
            self._cache = {c: Ensemble(self.tail_spec, self.tail_input, [0] * c).to(
                self.origin.device, self.origin.dtype).eval()}
        return self._cache[c]

    def _block_inputs(self, c1: Tensor, start: int, stop: int) -> Tensor:
        if self.x is not None:
            return self.x[start:stop]
        rows = self.basis[:, start:stop]  # (1 + k, nb, out): h0 + a h1 + b h2 by one matmul
        h = (c1 @ rows.reshape(rows.shape[0], -1)).reshape(c1.shape[0], stop - start, -1)
        return self.act(h) if self.act is not None else h

    def __call__(self, coeffs: Tensor) -> Tensor:
        c = coeffs.to(self.origin.device, self.origin.dtype)
        C = c.shape[0]
        c1 = torch.cat([torch.ones_like(c[:, :1]), c], dim=1)
        block = max(MIN_BLOCK, BLOCK_NUMBERS // max(1, C * self.widest))
        total = torch.zeros(C, dtype=c.dtype, device=c.device)
        with torch.no_grad(), one_thread(c.device):
            model = self._members(C) if self.tail_spec else None
            if model is not None:
                model.load_flat(self.origin.unsqueeze(0) + c @ self.dirs)
            for start in range(0, self.n, block):
                stop = min(self.n, start + block)
                h = self._block_inputs(c1, start, stop)
                out = model(h) if model is not None else h
                total += _loss_sum(self.loss, out, self.y[start:stop])
        return total / self.n
