"""Minibatch training of the NumPy MLP."""

from __future__ import annotations

import numpy as np

from trainlab.errors import BadInput, Diverged
from trainlab.numpy_nn.layers import Params, forward
from trainlab.numpy_nn.losses import get_loss, get_penalty, loss_and_grads


def evaluate(params: Params, x, y, loss="mse", activation: str = "sigmoid") -> float:
    """The data loss (no penalty) of the network on ``(x, y)``."""
    output, _ = forward(params, x, activation)
    return get_loss(loss)(output, y)[0]


def train(
    params: Params,
    x,
    y,
    epochs: int,
    batch_size: int,
    optimizer,
    loss="mse",
    penalty=None,
    lam: float = 0.0,
    seed: int = 0,
    x_test=None,
    y_test=None,
    activation: str = "sigmoid",
) -> dict:
    """Train ``params`` in place with ``optimizer`` (anything with ``step(params, grads)``).

    Each epoch visits the examples in a new order drawn from a generator seeded with
    ``seed``, in minibatches of ``batch_size`` (the last one may be smaller), minimising
    data loss + penalty. After each epoch the data loss (without the penalty) is measured
    on the whole training set and, if given, the test set.

    Returns ``{"epoch": [1, 2, ...], "train_loss": [...], "test_loss": [...] (empty
    without a test set), "penalty": [...]}``. Raises `Diverged` as soon as a loss is NaN
    or infinite.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    if len(x) != len(y):
        raise BadInput(f"x has {len(x)} rows but y has {len(y)}")
    if (x_test is None) != (y_test is None):
        raise BadInput("give both x_test and y_test, or neither")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not (isinstance(value, int | np.integer) and value > 0):
            raise BadInput(f"{name} must be a positive integer, got {value!r}")
    penalty_fn = get_penalty(penalty)
    rng = np.random.default_rng(seed)
    history = {"epoch": [], "train_loss": [], "test_loss": [], "penalty": []}

    def check(epoch, value):
        if not np.isfinite(value):
            raise Diverged(epoch, float(value))
        return value

    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up surfaces as Diverged
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                batch = order[start : start + batch_size]
                value, grads = loss_and_grads(
                    params, x[batch], y[batch], loss, penalty, lam, activation
                )
                check(epoch, value)
                optimizer.step(params, grads)
            history["epoch"].append(epoch)
            history["train_loss"].append(check(epoch, evaluate(params, x, y, loss, activation)))
            if x_test is not None:
                test = evaluate(params, x_test, y_test, loss, activation)
                history["test_loss"].append(check(epoch, test))
            history["penalty"].append(penalty_fn(params, lam)[0] if penalty_fn else 0.0)
    return history
