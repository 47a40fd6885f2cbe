"""The NumPy optimizers against torch.optim.SGD, and the training loop."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainlab.errors import BadInput, Diverged
from trainlab.numpy_nn import (
    SGD,
    Momentum,
    evaluate,
    init_params,
    loss_and_grads,
    train,
)


def regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 1))
    return x, np.sin(2 * x) + 0.5 * x


def copy(params):
    return [(W.copy(), b.copy()) for W, b in params]


def torch_trajectory(params, x, y, make_optimizer, steps):
    """Parameters after each of ``steps`` full-batch steps of a torch optimizer (MSE, sigmoid)."""
    tparams = [
        (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
        for W, b in params
    ]
    opt = make_optimizer([t for pair in tparams for t in pair])
    tx, ty = torch.tensor(x), torch.tensor(y)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        h = tx
        for i, (W, b) in enumerate(tparams):
            h = F.linear(h, W.T, b)
            if i < len(tparams) - 1:
                h = torch.sigmoid(h)
        F.mse_loss(h, ty).backward()
        opt.step()
        trajectory.append(
            [(W.detach().numpy().copy(), b.detach().numpy().copy()) for W, b in tparams]
        )
    return trajectory


def numpy_trajectory(params, x, y, optimizer, steps):
    params = copy(params)
    trajectory = []
    for _ in range(steps):
        _, grads = loss_and_grads(params, x, y, "mse")
        optimizer.step(params, grads)
        trajectory.append(copy(params))
    return trajectory


def assert_same_trajectory(ours, theirs, tol=1e-10):
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        for (W, b), (V, c) in zip(mine, other, strict=True):
            np.testing.assert_allclose(W, V, rtol=tol, atol=tol)
            np.testing.assert_allclose(b, c, rtol=tol, atol=tol)


def test_sgd_steps_equal_torch_sgd():
    x, y = regression(16)
    params = init_params([1, 8, 1], seed=1)
    ours = numpy_trajectory(params, x, y, SGD(lr=0.3), steps=10)
    theirs = torch_trajectory(params, x, y, lambda p: torch.optim.SGD(p, lr=0.3), steps=10)
    assert_same_trajectory(ours, theirs)
    assert not np.allclose(ours[-1][0][0], params[0][0])  # it did move


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_momentum_trajectory_equals_torch_sgd_momentum(mu):
    # torch: b ← μb + g, θ ← θ − αb;  ours: v ← μv − αg, θ ← θ + v.  v = −αb at constant α.
    x, y = regression(16)
    params = init_params([1, 8, 1], seed=2)
    ours = numpy_trajectory(params, x, y, Momentum(lr=0.1, momentum=mu), steps=15)
    theirs = torch_trajectory(
        params, x, y, lambda p: torch.optim.SGD(p, lr=0.1, momentum=mu), steps=15
    )
    assert_same_trajectory(ours, theirs)
    plain = numpy_trajectory(params, x, y, SGD(lr=0.1), steps=15)
    assert not np.allclose(ours[-1][0][0], plain[-1][0][0])  # momentum is not plain SGD


def test_momentum_zero_is_plain_sgd():
    x, y = regression(16)
    params = init_params([1, 8, 1], seed=3)
    assert_same_trajectory(
        numpy_trajectory(params, x, y, Momentum(lr=0.2, momentum=0.0), steps=5),
        numpy_trajectory(params, x, y, SGD(lr=0.2), steps=5),
        tol=1e-14,
    )


def test_training_lowers_the_loss_of_a_small_regression():
    x, y = regression(64)
    x_test, y_test = regression(32, seed=1)
    params = init_params([1, 16, 1], seed=0)
    start = evaluate(params, x, y)
    history = train(
        params,
        x,
        y,
        epochs=150,
        batch_size=16,
        optimizer=Momentum(lr=0.05, momentum=0.9),
        loss="mse",
        penalty=None,
        lam=0.0,
        seed=0,
        x_test=x_test,
        y_test=y_test,
    )
    assert history["epoch"] == list(range(1, 151))
    assert len(history["train_loss"]) == len(history["test_loss"]) == 150
    assert history["train_loss"][-1] < 0.1 * start
    assert history["test_loss"][-1] < 0.1 * evaluate(
        init_params([1, 16, 1], seed=0), x_test, y_test
    )
    assert history["train_loss"][-1] == evaluate(params, x, y)  # params were trained in place


def test_training_a_classifier_with_cross_entropy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=90)
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    x = centers[labels] + rng.normal(0, 0.5, size=(90, 2))
    params = init_params([2, 10, 3], seed=0)
    history = train(
        params,
        x,
        labels,
        epochs=40,
        batch_size=10,
        optimizer=SGD(0.5),
        loss="cross_entropy",
        penalty="l2",
        lam=1e-4,
        seed=0,
        activation="tanh",
    )
    assert history["train_loss"][-1] < 0.2
    assert history["test_loss"] == []
    assert all(p > 0 for p in history["penalty"])


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_a_large_penalty_shrinks_the_weights(penalty):
    x, y = regression(64)
    norm = {"l1": lambda W: np.abs(W).sum(), "l2": lambda W: (W**2).sum()}[penalty]
    sizes = {}
    for lam in (0.0, 0.05):
        params = init_params([1, 16, 1], seed=0)
        train(
            params,
            x,
            y,
            epochs=100,
            batch_size=16,
            optimizer=SGD(0.1),
            loss="mse",
            penalty=penalty,
            lam=lam,
            seed=0,
        )
        sizes[lam] = sum(norm(W) for W, _ in params)
    assert sizes[0.05] < 0.5 * sizes[0.0]


def test_minibatches_follow_the_seeded_permutation():
    x, y = regression(10)
    params = init_params([1, 4, 1], seed=0)
    trained = copy(params)
    train(trained, x, y, epochs=2, batch_size=4, optimizer=SGD(0.1), seed=7)
    rng, opt = np.random.default_rng(7), SGD(0.1)
    for _ in range(2):
        order = rng.permutation(10)
        for batch in (order[:4], order[4:8], order[8:]):
            opt.step(params, loss_and_grads(params, x[batch], y[batch])[1])
    assert_same_trajectory([trained], [params], tol=0)
    again = init_params([1, 4, 1], seed=0)
    train(again, x, y, epochs=2, batch_size=4, optimizer=SGD(0.1), seed=8)
    assert not np.array_equal(again[0][0], params[0][0])


def test_a_diverging_learning_rate_raises_diverged():
    x, y = regression(64)
    params = init_params([1, 16, 1], seed=0)
    with pytest.raises(Diverged) as caught:
        train(params, x, y, epochs=200, batch_size=16, optimizer=SGD(lr=10.0), seed=0)
    assert 1 <= caught.value.epoch < 200
    assert not np.isfinite(caught.value.loss)


@pytest.mark.parametrize(
    "call",
    [
        lambda: SGD(lr=0.0),
        lambda: SGD(lr=float("nan")),
        lambda: Momentum(lr=0.1, momentum=1.0),
        lambda: train(
            init_params([1, 2, 1]), *regression(8), epochs=0, batch_size=4, optimizer=SGD(0.1)
        ),
        lambda: train(
            init_params([1, 2, 1]), *regression(8), epochs=1, batch_size=0, optimizer=SGD(0.1)
        ),
        lambda: train(
            init_params([1, 2, 1]),
            np.zeros((8, 1)),
            np.zeros((7, 1)),
            epochs=1,
            batch_size=4,
            optimizer=SGD(0.1),
        ),
        lambda: train(
            init_params([1, 2, 1]),
            *regression(8),
            epochs=1,
            batch_size=4,
            optimizer=SGD(0.1),
            x_test=np.zeros((3, 1)),
        ),
    ],
)
def test_bad_settings_are_refused(call):
    with pytest.raises(BadInput):
        call()
