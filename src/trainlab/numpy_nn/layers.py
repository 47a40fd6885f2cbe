"""A multilayer perceptron in plain NumPy, with backpropagation written out by hand.

Parameters are a list of ``(W, b)`` float64 pairs, one per layer. ``W`` has shape
``(fan_in, fan_out)`` and a batch of rows flows through it as ``x @ W + b``. Every hidden
layer applies the same activation; the output layer is linear (its raw scores are what
the losses in `losses.py` take).

    forward:   a0 = x,   z_l = a_{l-1} @ W_l + b_l,   a_l = f(z_l)   (no f on the last layer)
    backward:  with g = dL/dz_l,
               dL/dW_l = a_{l-1}.T @ g,   dL/db_l = sum of g over the batch,
               dL/dz_{l-1} = (g @ W_l.T) * f'(z_{l-1})
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.errors import BadInput

Params = list[tuple[np.ndarray, np.ndarray]]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + e^-z), without overflow


# name -> (f(z), f'(z) written in terms of z and a = f(z))
ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(z.dtype)),  # f'(0) = 0
}


@dataclass
class Cache:
    """What `forward` remembers for `backward`: each layer's input and pre-activation."""

    activation: str
    inputs: list[np.ndarray]  # a_0 .. a_{L-1}: the input of every layer
    pre: list[np.ndarray]  # z_1 .. z_{L-1}: the pre-activations of the hidden layers


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise BadInput(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def init_params(widths, seed: int = 0, scale: float | str = "xavier") -> Params:
    """Random weights and zero biases for layers of the given ``widths`` (input first).

    ``scale`` is the standard deviation of the normal weights, or the name of a scheme:
    ``"xavier"`` (Glorot: sqrt(2 / (fan_in + fan_out))) or ``"he"`` (sqrt(2 / fan_in)).
    """
    widths = list(widths)
    if len(widths) < 2 or any(not isinstance(w, int | np.integer) or w < 1 for w in widths):
        raise BadInput(f"widths must be two or more positive integers, got {widths}")
    if isinstance(scale, str) and scale not in ("xavier", "he"):
        raise BadInput(f"unknown init scheme {scale!r}; choose 'xavier', 'he' or a number")
    if not isinstance(scale, str) and not (np.isfinite(scale) and scale >= 0):
        raise BadInput(f"init scale must be a finite number >= 0, got {scale}")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        if scale == "xavier":
            std = np.sqrt(2.0 / (fan_in + fan_out))
        elif scale == "he":
            std = np.sqrt(2.0 / fan_in)
        else:
            std = float(scale)
        params.append((rng.normal(0.0, std, size=(fan_in, fan_out)), np.zeros(fan_out)))
    return params


def forward(params: Params, x, activation: str = "sigmoid") -> tuple[np.ndarray, Cache]:
    """The network's output for a batch ``x`` of shape (N, widths[0]), and the cache."""
    f, _ = _activation(activation)
    h = np.asarray(x, dtype=np.float64)
    if h.ndim != 2 or h.shape[1] != params[0][0].shape[0]:
        raise BadInput(f"x must have shape (N, {params[0][0].shape[0]}), got {h.shape}")
    cache = Cache(activation, [], [])
    for i, (W, b) in enumerate(params):
        cache.inputs.append(h)
        z = h @ W + b
        if i == len(params) - 1:
            return z, cache  # linear output layer
        cache.pre.append(z)
        h = f(z)


def backward(params: Params, cache: Cache, grad_output) -> Params:
    """Gradients ``[(dW, db), ...]`` of a loss L given ``grad_output`` = dL/d(output)."""
    _, df = _activation(cache.activation)
    g = np.asarray(grad_output, dtype=np.float64)  # dL/dz of the current layer
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        W, _ = params[i]
        grads[i] = (cache.inputs[i].T @ g, g.sum(axis=0))
        if i > 0:  # step back through layer i's input a_{i} = f(z_{i})
            g = (g @ W.T) * df(cache.pre[i - 1], cache.inputs[i])
    return grads
