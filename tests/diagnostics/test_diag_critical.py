"""Oracle tests of trainlab.diagnostics.critical: closed-form Hessians against torch.func,
and Newton steps on functions whose critical points are known."""

import math

import pytest
import torch
from torch import nn

from trainlab.diagnostics import func_grad_hessian, load_flat, make_loss_fn
from trainlab.diagnostics.critical import (
    ACTIVATIONS,
    find_critical,
    mlp_forward,
    mlp_mse_grad_hessian,
    mlp_mse_objective,
)
from trainlab.errors import BadInput
from trainlab.models import mlp_param_count

MODULES = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "identity": nn.Identity,
           "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus}


pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


def n_params(sizes):
    """P of an MLP with layer sizes (d0, …, dL), by trainlab's one formula."""
    return mlp_param_count(sizes[0], sizes[1:-1], sizes[-1])


def sequential(sizes, activation):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(MODULES[activation]())
    return nn.Sequential(*layers).double()


@pytest.mark.parametrize("sizes,activation", [
    ([1, 10, 10, 1], "relu"), ([2, 5, 4, 3, 1], "relu"), ([3, 4, 1], "leaky_relu"),
    ([1, 4, 3, 2, 1], "identity"), ([1, 6, 5, 1], "tanh"), ([2, 4, 3, 3, 1], "tanh"),
    ([2, 4, 3, 1], "sigmoid"), ([2, 3, 4, 1], "softplus")])
def test_closed_form_hessian_equals_torch_func_per_member(sizes, activation):
    gen = torch.Generator().manual_seed(len(sizes) * 7 + len(activation))
    E, P = 3, n_params(sizes)
    theta = torch.randn(E, P, generator=gen, dtype=torch.float64)
    x = torch.randn(25, sizes[0], generator=gen, dtype=torch.float64)
    y = torch.randn(25, 1, generator=gen, dtype=torch.float64)
    loss, grad, hess = mlp_mse_grad_hessian(theta, x, y, sizes, activation)
    _, grad_only, none = mlp_mse_grad_hessian(theta, x, y, sizes, activation, hessian=False)
    assert none is None and hess.shape == (E, P, P)
    for e in range(E):
        net = sequential(sizes, activation)
        load_flat(net, theta[e])
        f = make_loss_fn(net, "mse", x, y)
        ref_h = torch.func.hessian(f)(theta[e])
        ref_g = torch.func.grad(f)(theta[e])
        scale = ref_h.abs().max()
        assert torch.allclose(loss[e], f(theta[e]), rtol=1e-12)
        assert torch.allclose(grad[e], ref_g, atol=1e-11 * scale)
        assert torch.allclose(grad_only[e], ref_g, atol=1e-11 * scale)
        assert torch.allclose(hess[e], ref_h, atol=1e-11 * scale)
        assert torch.allclose(mlp_forward(theta[e:e + 1], x, sizes, activation)[0], net(x))


def test_func_grad_hessian_matches_closed_form():
    sizes = [1, 5, 4, 1]
    theta = torch.randn(4, n_params(sizes), dtype=torch.float64)
    x = torch.linspace(-1, 1, 30, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)
    a = mlp_mse_objective(x, y, sizes, "tanh")(theta, True)
    b = mlp_mse_objective(x, y, sizes, "tanh", closed_form=False)(theta, True)
    for u, v in zip(a, b, strict=True):
        assert torch.allclose(u, v, atol=1e-10)
    assert set(ACTIVATIONS) == set(MODULES)


def sin_sin(t):
    return torch.sin(t[0]) * torch.sin(t[1])


def test_newton_reaches_known_critical_points_of_any_kind():
    # f = sin x sin y: critical where cos x = cos y = 0 (maxima/minima) or
    # sin x = sin y = 0 (saddles); Newton must find both kinds to 1e-8.
    gen = torch.Generator().manual_seed(0)
    start = (torch.rand(40, 2, generator=gen, dtype=torch.float64) - 0.5) * 6
    res = find_critical(lambda th, h: func_grad_hessian(sin_sin, th, h), start, tol=1e-8,
                        max_iter=50)
    assert bool(res.converged.all())
    assert float(res.grad_norm.max()) < 1e-8
    x, y = res.theta[:, 0], res.theta[:, 1]
    extremum = (torch.cos(x).abs() < 1e-7) & (torch.cos(y).abs() < 1e-7)
    saddle = (torch.sin(x).abs() < 1e-7) & (torch.sin(y).abs() < 1e-7)
    assert bool((extremum | saddle).all())
    assert bool(saddle.any()) and bool(extremum.any())
    # eigenvalues at the end are those of the true Hessian there
    lam = res.eigenvalues
    assert torch.allclose(lam[saddle].abs(), torch.ones_like(lam[saddle]), atol=1e-6)
    # from close to a saddle, Newton goes to that saddle (not downhill)
    near = torch.tensor([[0.05, -0.04], [math.pi + 0.03, 0.02]], dtype=torch.float64)
    res = find_critical(lambda th, h: func_grad_hessian(sin_sin, th, h), near, tol=1e-10)
    assert torch.allclose(res.theta, torch.tensor([[0.0, 0.0], [math.pi, 0.0]],
                                                  dtype=torch.float64), atol=1e-9)
    assert res.grad_norm_history.shape[1] == 2 and int(res.iterations.max()) <= 6


def test_linear_regression_is_solved_in_one_newton_step():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + 0.1 * torch.randn(
        50, 1, generator=gen, dtype=torch.float64)
    design = torch.cat([x, torch.ones(50, 1, dtype=torch.float64)], 1)
    exact = torch.linalg.lstsq(design, y).solution.squeeze(1)
    theta = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    res = find_critical(mlp_mse_objective(x, y, [3, 1], "identity"), theta, tol=1e-10)
    assert bool(res.converged.all()) and int(res.iterations.max()) == 1
    assert torch.allclose(res.theta, exact.expand(4, -1), atol=1e-10)


def test_deep_linear_network_critical_points():
    # A deep linear net has no bad local minima (Kawaguchi 2016): every critical point
    # without negative curvature has the least-squares loss; the others are saddles.
    sizes = [2, 3, 1]
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(40, 2, generator=gen, dtype=torch.float64)
    y = x @ torch.tensor([[1.5], [-1.0]], dtype=torch.float64) + 0.7
    theta = torch.randn(12, n_params(sizes), generator=gen, dtype=torch.float64)
    theta[:3] *= 1e-3  # near the saddle at 0
    res = find_critical(mlp_mse_objective(x, y, sizes, "identity"), theta, tol=1e-9,
                        max_iter=100)
    assert int(res.converged.sum()) >= 10
    design = torch.cat([x, torch.ones(40, 1, dtype=torch.float64)], 1)
    best = float((design @ torch.linalg.lstsq(design, y).solution - y).pow(2).mean())
    for e in torch.nonzero(res.converged).flatten().tolist():
        net = sequential(sizes, "identity")
        load_flat(net, res.theta[e])
        f = make_loss_fn(net, "mse", x, y)
        assert float(torch.func.grad(f)(res.theta[e]).norm()) < 1e-9
        lam = res.eigenvalues[e]
        if float(lam.min()) > -1e-8 * float(lam.abs().max()):
            assert float(res.loss[e]) == pytest.approx(best, rel=1e-9, abs=1e-12)
        else:
            assert float(res.loss[e]) > best


def test_bad_input_is_one_clear_error():
    x, y = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64)
    theta = torch.zeros(2, n_params([2, 3, 1]), dtype=torch.float64)
    with pytest.raises(BadInput, match="need 13"):
        mlp_forward(theta[:, :-1], x, [2, 3, 1])
    with pytest.raises(BadInput, match="unknown activation 'swish'"):
        mlp_mse_grad_hessian(theta, x, y, [2, 3, 1], "swish")
    with pytest.raises(BadInput, match="one output"):
        mlp_mse_grad_hessian(torch.zeros(2, n_params([2, 3, 2])), x, y, [2, 3, 2])
