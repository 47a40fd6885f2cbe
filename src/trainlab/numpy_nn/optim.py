"""Plain SGD and SGD with momentum; both update the parameter arrays in place.

    SGD:       θ ← θ − α·g
    Momentum:  v ← μ·v − α·g;   θ ← θ + v        (v starts at 0)

PyTorch writes momentum as b ← μ·b + g; θ ← θ − α·b. With a constant α the two are the
same method (v = −α·b), so they follow the same trajectory.
"""

from __future__ import annotations

import numpy as np

from trainlab.errors import BadInput
from trainlab.numpy_nn.layers import Params


def _check_lr(lr):
    if not (np.isfinite(lr) and lr > 0):
        raise BadInput(f"learning rate must be a finite number > 0, got {lr}")
    return float(lr)


class SGD:
    """θ ← θ − α·g."""

    def __init__(self, lr: float):
        self.lr = _check_lr(lr)

    def step(self, params: Params, grads: Params) -> None:
        for (W, b), (gW, gb) in zip(params, grads, strict=True):
            W -= self.lr * gW
            b -= self.lr * gb


class Momentum:
    """v ← μ·v − α·g;  θ ← θ + v."""

    def __init__(self, lr: float, momentum: float = 0.9):
        self.lr = _check_lr(lr)
        if not 0 <= momentum < 1:
            raise BadInput(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.velocity = None  # one (vW, vb) per layer, created on the first step

    def step(self, params: Params, grads: Params) -> None:
        if self.velocity is None:
            self.velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
        for (W, b), (gW, gb), (vW, vb) in zip(params, grads, self.velocity, strict=True):
            vW *= self.momentum
            vW -= self.lr * gW
            vb *= self.momentum
            vb -= self.lr * gb
            W += vW
            b += vb
