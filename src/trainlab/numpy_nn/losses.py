"""Losses and weight penalties, each returning its value and its gradient.

A loss takes the network's output (N, C) and the targets and returns
``(value, dvalue/doutput)``; both are means over the batch, as in PyTorch's default
``reduction="mean"``. A penalty takes the parameters and λ and returns
``(value, [(dW, db), ...])``.

Penalties act on the weights only: biases are not penalised (their gradient is zero),
as in the lab and in most textbooks — a bias shifts a unit, it does not make the
function more wiggly.

- L1: λ·Σ|W|, sub-gradient λ·sign(W) with sign(0) = 0 (the same choice as torch.abs).
- L2: λ·ΣW², gradient 2λW (no ½ in front: λ here is not PyTorch's weight_decay,
  which equals 2λ).
"""

from __future__ import annotations

import numpy as np

from trainlab.errors import BadInput
from trainlab.numpy_nn.layers import Params, backward, forward


def mse(output, target):
    """Mean squared error over all entries: mean((output - target)²)."""
    target = np.asarray(target, dtype=np.float64)
    if target.ndim == 1 and output.shape[1] == 1:
        target = target[:, None]
    if target.shape != output.shape:
        raise BadInput(f"targets of shape {target.shape} do not match outputs {output.shape}")
    diff = output - target
    return float(np.mean(diff**2)), 2.0 * diff / diff.size


def cross_entropy(output, target):
    """Softmax cross-entropy of raw scores (N, C) against integer labels (N,).

    value = mean over rows of logsumexp(z) - z[label]; its gradient is
    (softmax(z) - onehot(label)) / N.
    """
    labels = np.asarray(target)
    n, c = output.shape
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise BadInput(f"cross-entropy needs {n} integer labels, got shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= c:
        raise BadInput(f"labels must lie in 0..{c - 1}")
    shifted = output - output.max(axis=1, keepdims=True)  # stable softmax
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    grad = np.exp(log_probs)
    grad[rows, labels] -= 1.0
    return float(-log_probs[rows, labels].mean()), grad / n


def l1_penalty(params: Params, lam: float):
    """λ·Σ|W| over all weights, and its sub-gradient λ·sign(W) (0 at W = 0)."""
    value = lam * sum(np.abs(W).sum() for W, _ in params)
    return float(value), [(lam * np.sign(W), np.zeros_like(b)) for W, b in params]


def l2_penalty(params: Params, lam: float):
    """λ·ΣW² over all weights, and its gradient 2λW."""
    value = lam * sum((W**2).sum() for W, _ in params)
    return float(value), [(2.0 * lam * W, np.zeros_like(b)) for W, b in params]


LOSSES = {"mse": mse, "cross_entropy": cross_entropy}
PENALTIES = {"l1": l1_penalty, "l2": l2_penalty}


def get_loss(loss):
    """A loss function from its name (``"mse"``, ``"cross_entropy"``), or the callable itself."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise BadInput(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[loss]


def get_penalty(penalty):
    """A penalty from its name (``"l1"``, ``"l2"``); ``None`` or ``"none"`` means no penalty."""
    if penalty is None or penalty == "none":
        return None
    if penalty not in PENALTIES:
        raise BadInput(f"unknown penalty {penalty!r}; choose 'none', 'l1' or 'l2'")
    return PENALTIES[penalty]


def loss_and_grads(
    params: Params,
    x,
    y,
    loss="mse",
    penalty=None,
    lam: float = 0.0,
    activation: str = "sigmoid",
) -> tuple[float, Params]:
    """Total loss (data loss + penalty) on the batch ``(x, y)`` and its gradients."""
    loss_fn, penalty_fn = get_loss(loss), get_penalty(penalty)
    if not lam >= 0:
        raise BadInput(f"lambda must be >= 0, got {lam}")
    output, cache = forward(params, x, activation)
    value, grad_output = loss_fn(output, y)
    grads = backward(params, cache, grad_output)
    if penalty_fn is not None:
        extra, extra_grads = penalty_fn(params, lam)
        value += extra
        grads = [(gW + pW, gb + pb) for (gW, gb), (pW, pb) in zip(grads, extra_grads, strict=True)]
    return value, grads
