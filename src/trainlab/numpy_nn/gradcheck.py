"""Numerical gradients by central differences, and how far two gradients are apart.

    ∂f/∂θ_i ≈ (f(θ + ε·e_i) − f(θ − ε·e_i)) / (2ε)      error O(ε²) plus rounding O(1e-16/ε)

    relative error = max over entries of |a − b| / max(|a| + |b|, tiny)

where ``tiny`` is the smallest positive normal float64 (so two exact zeros agree, with
error 0). Values below about 1e-7 mean the two gradients agree in float64.
"""

from __future__ import annotations

import numpy as np

from trainlab.numpy_nn.layers import Params


def finite_difference_grads(f, params: Params, eps: float = 1e-6) -> Params:
    """Central-difference gradient of the scalar ``f(params)``, shaped like ``params``.

    Each entry is nudged in place and put back, so ``params`` is unchanged afterwards.
    """
    grads = []
    for layer in params:
        pair = []
        for p in layer:
            g = np.zeros_like(p)
            for i in range(p.size):
                old = p.flat[i]
                p.flat[i] = old + eps
                up = f(params)
                p.flat[i] = old - eps
                down = f(params)
                p.flat[i] = old
                g.flat[i] = (up - down) / (2 * eps)
            pair.append(g)
        grads.append(tuple(pair))
    return grads


def flatten(grads) -> np.ndarray:
    """One vector of all entries of an array or of a ``[(W, b), ...]`` list."""
    if isinstance(grads, list | tuple):
        return np.concatenate([flatten(g) for g in grads]) if grads else np.zeros(0)
    return np.ravel(np.asarray(grads, dtype=np.float64))


def max_relative_error(a, b) -> float:
    """max |a − b| / max(|a| + |b|, tiny) over entries; arrays or ``[(W, b), ...]`` lists."""
    a, b = flatten(a), flatten(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare gradients of sizes {a.size} and {b.size}")
    if a.size == 0:
        return 0.0
    tiny = np.finfo(np.float64).tiny
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), tiny)))
