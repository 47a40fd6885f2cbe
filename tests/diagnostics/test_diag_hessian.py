import pytest
import torch

from trainlab.diagnostics import (
    dense_hessian,
    flatten_params,
    hessian_eigenvalues,
    hvp,
    lanczos_top_k,
    make_loss_fn,
    spectral_density,
)
from trainlab.errors import BadInput

# torch.func.hessian (the oracle) loads torch's forward-AD decompositions via torch.jit.script
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


@pytest.fixture
def problem(make_mlp, regression_data):
    """A 297-parameter tanh MLP, MSE on 64 points, float64: loss, point, exact Hessian."""
    model = make_mlp()
    f = make_loss_fn(model, "mse", *regression_data)
    theta = flatten_params(model)
    h = torch.func.hessian(f)(theta)
    return f, theta, h


def quadratic(diag):
    a = torch.as_tensor(diag, dtype=torch.float64)
    return (lambda t: 0.5 * (a * t * t).sum()), torch.zeros_like(a)


def test_dense_hessian_equals_torch_func_hessian(problem):
    f, theta, h = problem
    assert h.shape == (297, 297)
    assert torch.allclose(dense_hessian(f, theta), h, rtol=0, atol=1e-5 * h.abs().max())


def test_hvp_single_and_batched(problem):
    f, theta, h = problem
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(297, generator=gen, dtype=torch.float64)
    assert torch.allclose(hvp(f, theta, v), h @ v, atol=1e-10)
    vs = torch.randn(3, 297, generator=gen, dtype=torch.float64)
    assert torch.allclose(hvp(f, theta, vs), vs @ h.T, atol=1e-10)


def test_dense_hessian_size_guard(problem):
    f, theta, _ = problem
    with pytest.raises(BadInput):
        dense_hessian(f, theta, max_params=100)


def test_eigenvalues_of_a_linear_loss_are_zero():
    eig = hessian_eigenvalues(lambda t: (3 * t).sum(), torch.ones(4))
    assert torch.equal(eig, torch.zeros(4, dtype=torch.float64))


def test_lanczos_top5_matches_eigvalsh(problem):
    f, theta, h = problem
    exact = torch.linalg.eigvalsh(h).flip(0)[:5]
    top = lanczos_top_k(f, theta, k=5, iters=100)
    assert top.shape == (5,)
    assert torch.allclose(top, exact, rtol=1e-4, atol=1e-4 * exact.abs().max())
    assert torch.allclose(hessian_eigenvalues(f, theta).flip(0)[:5], exact, atol=1e-10)


def test_lanczos_float32_model_agrees(make_mlp, regression_data):
    x, y = regression_data
    model = make_mlp(dtype=torch.float32)
    f32 = make_loss_fn(model, "mse", x.float(), y.float())
    exact = hessian_eigenvalues(f32, flatten_params(model)).flip(0)[:5]
    top = lanczos_top_k(f32, flatten_params(model), k=5)
    assert torch.allclose(top, exact, rtol=1e-3, atol=1e-4 * exact.abs().max())


def test_lanczos_restarts_find_repeated_eigenvalues():
    f, theta = quadratic([5.0, 5.0, 3.0, 1.0, 0.5, 0.0])
    top = lanczos_top_k(f, theta, k=3, iters=6, tol=0.0)
    assert torch.allclose(top, torch.tensor([5.0, 5.0, 3.0], dtype=torch.float64), atol=1e-10)


def test_spectral_density_integrates_to_one_around_exact_eigenvalues(problem):
    f, theta, h = problem
    exact = torch.linalg.eigvalsh(h)
    sd = spectral_density(f, theta, n_vectors=20, iters=297, seed=1)
    assert torch.trapezoid(sd.density, sd.grid) == pytest.approx(1.0, abs=1e-3)
    assert torch.allclose(sd.weights.sum(1), torch.ones(20, dtype=torch.float64))
    # full Lanczos: every node with weight is an exact eigenvalue
    gap = (sd.nodes.reshape(-1, 1) - exact.reshape(1, -1)).abs().min(1).values
    assert float(gap[sd.weights.reshape(-1) > 1e-12].max()) < 1e-6 * float(exact.abs().max())
    # the mean of the density is a Hutchinson estimate of trace(H) / P
    mean = torch.trapezoid(sd.grid * sd.density, sd.grid)
    assert float(mean) == pytest.approx(float((sd.weights * sd.nodes).sum(1).mean()), rel=1e-3)
    assert abs(float(mean) - float(exact.mean())) < 0.05 * float(exact.abs().max())
    # and the mass below the median eigenvalue is about one half
    below = float(sd.weights[sd.nodes <= exact.median()].sum() / 20)
    assert below == pytest.approx(0.5, abs=0.1)


def test_spectral_density_few_iterations_keeps_extremes(problem):
    f, theta, h = problem
    exact = torch.linalg.eigvalsh(h)
    sd = spectral_density(f, theta, n_vectors=3, iters=40, grid=500)
    assert sd.grid.shape == sd.density.shape == (500,)
    assert float(sd.nodes.max()) == pytest.approx(float(exact[-1]), rel=1e-6)
    assert torch.trapezoid(sd.density, sd.grid) == pytest.approx(1.0, abs=1e-3)


def test_spectral_density_through_an_operator_equals_its_own_products():
    # the same Lanczos runs from the same seeded vectors: the operator is only another
    # route to the same products (here the dense matrix itself)
    torch.manual_seed(5)
    a = torch.randn(12, 12, dtype=torch.float64)
    h = a @ a.T - 3 * torch.eye(12, dtype=torch.float64)

    def f(t):
        return 0.5 * t @ h @ t

    theta = torch.randn(12, dtype=torch.float64)
    own = spectral_density(f, theta, n_vectors=3, iters=12, grid=50, seed=1)
    via = spectral_density(None, theta, n_vectors=3, iters=12, grid=50, seed=1,
                           operator=lambda v: h @ v)
    assert torch.allclose(own.nodes, via.nodes, atol=1e-10)
    assert torch.allclose(own.density, via.density, atol=1e-10)
    exact = torch.linalg.eigvalsh(h)
    # 12 steps on a 12 x 12 matrix: the nodes are its eigenvalues
    assert torch.allclose(via.nodes[0].sort().values, exact, atol=1e-8)
