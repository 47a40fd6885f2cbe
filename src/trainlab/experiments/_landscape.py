"""Grid points of a loss surface as the members of one `Ensemble` (used by `surface`).

The C points of a chunk, ``theta0 + a D[0] + b D[1]``, are loaded as the C members of
one ensemble of the model's architecture and run in one forward pass (batched matmuls
over the member axis) instead of one model reload and forward per point.

One more exact saving: a first linear layer's output ``W x + c`` is linear in its
weights, so on the plane it is ``h0 + a h1 + b h2`` with ``h0, h1, h2`` computed once for
the whole grid (three matmuls against the data instead of one per point); only the
layers after it run per point. For an MNIST MLP that first layer holds most of the
multiply-adds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from trainlab.losses import member_loss
from trainlab.models import Ensemble

MAX_NUMBERS = 2 ** 25  # activations of one chunk (128 MiB of float32)


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
        self.spec, self.loss, self.y = [tuple(s) for s in spec], loss, y
        self.origin, self.dirs = origin.to(x.dtype), directions.to(x.dtype)
        self._cache: dict[int, Ensemble] = {}
        probe = Ensemble(self.spec, input_shape, [0])
        self.widest = probe.widest_activation
        if self.spec[0][0] == "linear":
            out, fan_in = self.spec[0][1], math.prod(input_shape)
            n0 = out * fan_in + out
            xf = x.reshape(x.shape[0], -1)

            def first(theta: Tensor) -> Tensor:  # (N, out) = x W^T + c
                return torch.addmm(theta[out * fan_in:n0], xf,
                                   theta[:out * fan_in].reshape(out, fan_in).T)

            with torch.no_grad():
                self.h0 = first(self.origin)
                # the bias enters once, with the origin: directions act on W x + c linearly
                self.hd = torch.stack([first(d) for d in self.dirs])  # (k, N, out)
            self.tail_spec, self.tail_input = self.spec[1:], (out,)
            self.origin, self.dirs = self.origin[n0:], self.dirs[:, n0:]
            self.x = None
        else:
            self.tail_spec, self.tail_input, self.x = self.spec, tuple(input_shape), x

    def chunk(self, n: int) -> int:
        """Points per chunk so that one chunk's activations stay under `MAX_NUMBERS`."""
        return max(1, min(4096, MAX_NUMBERS // max(1, n * self.widest)))

    def _members(self, c: int) -> Ensemble:
        if c not in self._cache:
            self._cache = {c: Ensemble(self.tail_spec, self.tail_input, [0] * c).to(
                self.origin.device, self.origin.dtype)}
        return self._cache[c]

    def __call__(self, coeffs: Tensor) -> Tensor:
        c = coeffs.to(self.origin.device, self.origin.dtype)
        with torch.no_grad():
            if self.x is None:
                h = self.h0.unsqueeze(0) + torch.einsum("ck,knf->cnf", c, self.hd)
                if not self.tail_spec:
                    return member_loss(self.loss, h, self.y)
                inputs = h
            else:
                inputs = self.x
            model = self._members(c.shape[0])
            model.load_flat(self.origin.unsqueeze(0) + c @ self.dirs)
            return member_loss(self.loss, model(inputs), self.y)
