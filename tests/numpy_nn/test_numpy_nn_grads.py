"""Gradients of the NumPy MLP against central differences and against torch autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainlab.errors import BadInput
from trainlab.numpy_nn import (
    cross_entropy,
    finite_difference_grads,
    forward,
    init_params,
    l1_penalty,
    l2_penalty,
    loss_and_grads,
    max_relative_error,
    mse,
)

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
LOSSES = ["mse", "cross_entropy"]
PENALTIES = [None, "l1", "l2"]
LAM = 0.05


def problem(activation, loss, seed=0, away_from_kinks=True):
    """A 3-5-4-k network with nonzero biases, a batch of 6 inputs and targets.

    No weight lies near 0 (the kink of |W|) and, for relu, no pre-activation lies near 0
    (checked unless ``away_from_kinks`` is False: torch needs no such care).
    """
    rng = np.random.default_rng(seed)
    k = 2 if loss == "mse" else 3
    params = init_params([3, 5, 4, k], seed=seed)
    for W, b in params:
        W[np.abs(W) < 0.1] = 0.1 * np.where(W[np.abs(W) < 0.1] < 0, -1.0, 1.0)
        b[:] = rng.normal(0.0, 0.3, size=b.shape)
    x = rng.normal(size=(6, 3))
    y = rng.normal(size=(6, k)) if loss == "mse" else rng.integers(0, k, size=6)
    if activation == "relu" and away_from_kinks:
        _, cache = forward(params, x, "relu")
        assert min(np.abs(z).min() for z in cache.pre) > 1e-3, "pick another seed"
    return params, x, y


def torch_loss_and_grads(params, x, y, loss, penalty, lam, activation):
    """The oracle: the same network in torch float64 with torch.nn.functional."""
    tparams = [
        (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
        for W, b in params
    ]
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu}[activation]
    h = torch.tensor(x)
    for i, (W, b) in enumerate(tparams):
        h = F.linear(h, W.T, b)
        if i < len(tparams) - 1:
            h = act(h)
    if loss == "mse":
        value = F.mse_loss(h, torch.tensor(y))
    else:
        value = F.cross_entropy(h, torch.tensor(y))
    if penalty == "l1":
        value = value + lam * sum(W.abs().sum() for W, _ in tparams)
    elif penalty == "l2":
        value = value + lam * sum((W**2).sum() for W, _ in tparams)
    value.backward()
    return value.item(), [(W.grad.numpy(), b.grad.numpy()) for W, b in tparams]


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation, loss, penalty):
    params, x, y = problem(activation, loss)
    value, grads = loss_and_grads(params, x, y, loss, penalty, LAM, activation)

    def f(p):
        return loss_and_grads(p, x, y, loss, penalty, LAM, activation)[0]

    # ε = 1e-5 balances truncation (ε²) against rounding (1e-16·|f|/ε): the smallest
    # gradient entries here are ~5e-5, and ε = 1e-6 would leave them only ~1e-6 accurate.
    numeric = finite_difference_grads(f, params, eps=1e-5)
    assert f(params) == value  # the check left the parameters as they were
    assert max_relative_error(grads, numeric) < 1e-6


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_equal_torch_autograd(activation, loss, penalty):
    params, x, y = problem(activation, loss, seed=1, away_from_kinks=False)
    value, grads = loss_and_grads(params, x, y, loss, penalty, LAM, activation)
    t_value, t_grads = torch_loss_and_grads(params, x, y, loss, penalty, LAM, activation)
    assert value == pytest.approx(t_value, rel=1e-12, abs=1e-14)
    for (gW, gb), (tW, tb) in zip(grads, t_grads, strict=True):
        assert gW.shape == tW.shape and gb.shape == tb.shape
        np.testing.assert_allclose(gW, tW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, tb, rtol=1e-10, atol=1e-12)


def test_relu_gradient_at_zero_preactivation_matches_torch():
    params = init_params([2, 3, 1], seed=3)
    x = np.array([[0.0, 0.0], [1.0, -2.0]])  # first row: every hidden z is exactly 0
    _, cache = forward(params, x, "relu")
    assert np.all(cache.pre[0][0] == 0.0)
    y = np.array([[1.0], [0.5]])
    _, grads = loss_and_grads(params, x, y, "mse", None, 0.0, "relu")
    _, t_grads = torch_loss_and_grads(params, x, y, "mse", None, 0.0, "relu")
    for (gW, gb), (tW, tb) in zip(grads, t_grads, strict=True):
        np.testing.assert_allclose(gW, tW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, tb, rtol=1e-12, atol=1e-15)


def test_l1_subgradient_at_exact_zero_weight_is_zero():
    params = init_params([3, 4, 2], seed=0)
    params[0][0][1, 2] = 0.0
    params[1][0][3, 0] = 0.0
    _, pgrads = l1_penalty(params, 0.7)
    assert pgrads[0][0][1, 2] == 0.0 and pgrads[1][0][3, 0] == 0.0
    assert np.all(np.abs(pgrads[0][0][params[0][0] != 0]) == 0.7)
    # the total gradient at a zero weight is the data gradient alone, as in torch
    x, y = np.random.default_rng(0).normal(size=(5, 3)), np.zeros((5, 2))
    _, plain = loss_and_grads(params, x, y, "mse", None)
    _, with_l1 = loss_and_grads(params, x, y, "mse", "l1", 0.7)
    assert with_l1[0][0][1, 2] == plain[0][0][1, 2]
    _, t_grads = torch_loss_and_grads(params, x, y, "mse", "l1", 0.7, "sigmoid")
    np.testing.assert_allclose(with_l1[0][0], t_grads[0][0], rtol=1e-12, atol=1e-15)


def test_penalty_values_and_gradients_by_hand():
    W, b = np.array([[1.0, -2.0], [0.0, 3.0]]), np.array([5.0, -7.0])
    value, grads = l1_penalty([(W, b)], 0.5)
    assert value == 0.5 * 6
    np.testing.assert_array_equal(grads[0][0], 0.5 * np.array([[1, -1], [0, 1]]))
    value, grads = l2_penalty([(W, b)], 0.5)
    assert value == 0.5 * 14
    np.testing.assert_array_equal(grads[0][0], 2 * 0.5 * W)


@pytest.mark.parametrize("penalty_fn", [l1_penalty, l2_penalty])
def test_penalties_leave_biases_alone(penalty_fn):
    params = init_params([2, 3, 1], seed=0)
    before, grads = penalty_fn(params, 0.3)
    for _, b in params:
        b += 10.0
    after, _ = penalty_fn(params, 0.3)
    assert before == after
    assert all(np.all(gb == 0) for _, gb in grads)


def test_cross_entropy_is_stable_and_matches_torch_on_large_scores():
    scores = np.array([[1000.0, -1000.0, 0.0], [-800.0, 800.0, 799.0]])
    labels = np.array([2, 1])
    value, grad = cross_entropy(scores, labels)
    t_scores = torch.tensor(scores, requires_grad=True)
    t_value = F.cross_entropy(t_scores, torch.tensor(labels))
    t_value.backward()
    assert np.isfinite(value) and value == pytest.approx(t_value.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t_scores.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_mse_matches_torch_and_takes_flat_targets():
    out = np.array([[0.5], [2.0], [-1.0]])
    value, grad = mse(out, np.array([1.0, 2.0, 3.0]))
    t_out = torch.tensor(out, requires_grad=True)
    t_value = F.mse_loss(t_out, torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64))
    t_value.backward()
    assert value == pytest.approx(t_value.item(), rel=1e-15)
    np.testing.assert_allclose(grad, t_out.grad.numpy(), rtol=1e-15)


def test_gradcheck_catches_a_wrong_gradient():
    params, x, y = problem("tanh", "mse")
    _, grads = loss_and_grads(params, x, y, "mse", None, 0.0, "tanh")
    wrong = [(gW.copy(), gb.copy()) for gW, gb in grads]
    wrong[0][0][0, 0] *= 1.0001
    numeric = finite_difference_grads(
        lambda p: loss_and_grads(p, x, y, "mse", None, 0.0, "tanh")[0], params
    )
    assert max_relative_error(wrong, numeric) > 1e-6
    # and L2's gradient without the factor 2 (λW instead of 2λW) is caught too
    _, l2 = loss_and_grads(params, x, y, "mse", "l2", LAM, "tanh")
    half = [(gW - LAM * W, gb) for (gW, gb), (W, _) in zip(l2, params, strict=True)]
    numeric = finite_difference_grads(
        lambda p: loss_and_grads(p, x, y, "mse", "l2", LAM, "tanh")[0], params
    )
    assert max_relative_error(half, numeric) > 1e-3


def test_finite_differences_of_a_quadratic_and_the_error_formula():
    W, b = np.array([[1.0, -2.0]]), np.array([3.0])
    grads = finite_difference_grads(lambda p: (p[0][0] ** 2).sum() + 4 * p[0][1].sum(), [(W, b)])
    np.testing.assert_allclose(grads[0][0], 2 * W, rtol=1e-9)
    np.testing.assert_allclose(grads[0][1], [4.0], rtol=1e-9)
    assert max_relative_error(np.array([1.0, 0.0]), np.array([1.1, 0.0])) == pytest.approx(
        0.1 / 2.1
    )
    assert max_relative_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError):
        max_relative_error(np.zeros(2), np.zeros(3))


def test_init_params_shapes_scales_and_seed():
    params = init_params([4, 300, 2], seed=5)
    assert [(W.shape, b.shape) for W, b in params] == [((4, 300), (300,)), ((300, 2), (2,))]
    assert all(W.dtype == np.float64 and np.all(b == 0) for W, b in params)
    assert params[0][0].std() == pytest.approx(np.sqrt(2 / 304), rel=0.1)
    assert init_params([4, 300, 2], seed=5, scale="he")[0][0].std() == pytest.approx(
        np.sqrt(2 / 4), rel=0.1
    )
    assert init_params([4, 300, 2], seed=5, scale=0.02)[0][0].std() == pytest.approx(0.02, rel=0.1)
    again = init_params([4, 300, 2], seed=5)
    assert all(np.array_equal(W, V) for (W, _), (V, _) in zip(params, again, strict=True))
    assert not np.array_equal(params[0][0], init_params([4, 300, 2], seed=6)[0][0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: init_params([3], seed=0),
        lambda: init_params([3, 0, 1], seed=0),
        lambda: init_params([3, 2], scale="glorious"),
        lambda: forward(init_params([3, 2]), np.zeros((4, 2))),
        lambda: forward(init_params([3, 2]), np.zeros((4, 3)), "swish"),
        lambda: loss_and_grads(init_params([3, 2]), np.zeros((4, 3)), np.zeros((4, 3))),
        lambda: loss_and_grads(init_params([3, 2]), np.zeros((4, 3)), np.zeros((4, 2)), "hinge"),
        lambda: loss_and_grads(
            init_params([3, 2]), np.zeros((4, 3)), np.zeros((4, 2)), "mse", "l3"
        ),
        lambda: loss_and_grads(
            init_params([3, 2]), np.zeros((4, 3)), np.zeros((4, 2)), "mse", "l2", -1.0
        ),
        lambda: cross_entropy(np.zeros((2, 3)), np.array([0, 3])),
        lambda: cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])),
    ],
)
def test_bad_input_is_refused(call):
    with pytest.raises(BadInput):
        call()
