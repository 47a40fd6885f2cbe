"""A from-scratch NumPy MLP: manual backprop, L1/L2 penalties, SGD and momentum.

Only NumPy underneath; PyTorch serves the tests as an oracle. A tour::

    params = init_params([1, 16, 1], seed=0)                    # [(W, b), ...]
    out, cache = forward(params, x, "sigmoid")                 # x: (N, 1)
    value, grads = loss_and_grads(params, x, y, "mse", "l2", 1e-3)
    Momentum(lr=0.1, momentum=0.9).step(params, grads)         # in place
    history = train(params, x, y, epochs=100, batch_size=16, optimizer=SGD(0.1))
"""

from trainlab.numpy_nn.gradcheck import finite_difference_grads, flatten, max_relative_error
from trainlab.numpy_nn.layers import ACTIVATIONS, Cache, Params, backward, forward, init_params
from trainlab.numpy_nn.losses import (
    LOSSES,
    PENALTIES,
    cross_entropy,
    get_loss,
    get_penalty,
    l1_penalty,
    l2_penalty,
    loss_and_grads,
    mse,
)
from trainlab.numpy_nn.optim import SGD, Momentum
from trainlab.numpy_nn.train import evaluate, train

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "PENALTIES",
    "SGD",
    "Cache",
    "Momentum",
    "Params",
    "backward",
    "cross_entropy",
    "evaluate",
    "finite_difference_grads",
    "flatten",
    "forward",
    "get_loss",
    "get_penalty",
    "init_params",
    "l1_penalty",
    "l2_penalty",
    "loss_and_grads",
    "max_relative_error",
    "mse",
    "train",
]
