import pytest
import torch

from trainlab.diagnostics import hessian_eigenvalues, minimal_ratio
from trainlab.errors import BadInput


def test_diagonal_matrix_with_known_eigenvalues():
    diag = torch.tensor([4.0, 2.0, 1.0, 0.0, 0.0, -1.0, 1e-9, 3.0], dtype=torch.float64)
    f = lambda t: 0.5 * (diag * t * t).sum()  # noqa: E731  Hessian = diag(diag)
    eig = hessian_eigenvalues(f, torch.zeros(8))
    assert torch.allclose(eig, diag.sort().values)
    # threshold 1e-6 * 4: 4, 2, 1, 3 are positive; 0, 0, -1 and 1e-9 are not
    assert minimal_ratio(eig) == 4 / 8
    assert minimal_ratio(eig, tol=1e-10, relative=False) == 5 / 8
    assert minimal_ratio(eig, tol=0.3) == 3 / 8  # only > 1.2


def test_extremes():
    assert minimal_ratio([1.0, 2.0, 3.0]) == 1.0
    assert minimal_ratio([-1.0, -2.0]) == 0.0
    assert minimal_ratio(torch.zeros(5)) == 0.0


def test_dead_relu_unit_gives_zero_eigenvalues():
    torch.manual_seed(0)
    layer1 = torch.nn.Linear(1, 3).double()
    with torch.no_grad():  # unit 2 is dead on every positive input
        layer1.weight[:] = torch.tensor([[1.0], [0.5], [-1.0]])
        layer1.bias[:] = torch.tensor([0.1, 0.2, -0.5])
    model = torch.nn.Sequential(layer1, torch.nn.ReLU(), torch.nn.Linear(3, 1)).double()
    from trainlab.diagnostics import flatten_params, make_loss_fn

    x = torch.rand(20, 1, dtype=torch.float64) + 0.1
    f = make_loss_fn(model, "mse", x, torch.sin(3 * x))
    eig = hessian_eigenvalues(f, flatten_params(model))
    # the dead unit's weight, bias and outgoing weight are flat directions: 3 of 10
    flat = eig.abs() <= 1e-10 * eig.abs().max()
    assert int(flat.sum()) >= 3
    assert minimal_ratio(eig) <= 7 / 10


def test_bad_input():
    with pytest.raises(BadInput):
        minimal_ratio([])
    with pytest.raises(BadInput):
        minimal_ratio([1.0, float("nan")])
