import pytest
import torch
from torch import nn
from torch.autograd.functional import jacobian

from trainlab.diagnostics import jacobian_norms, loss_input_grad_norms
from trainlab.errors import BadInput


def _inputs(n=9):
    return torch.randn(n, 3, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)


def test_jacobian_norms_equal_per_example_loop(classifier):
    x = _inputs()
    expected = []
    for xi in x:
        jac = jacobian(lambda v: torch.softmax(classifier(v.unsqueeze(0))[0], -1), xi)
        expected.append(jac.norm())
    got = jacobian_norms(classifier, x, chunk_size=4)  # chunks of 4, 4, 1
    assert got.shape == (9,)
    assert torch.allclose(got, torch.stack(expected), rtol=1e-10)
    logits = jacobian_norms(classifier, x, softmax=False)
    first = jacobian(lambda v: classifier(v.unsqueeze(0))[0], x[0]).norm()
    assert torch.allclose(logits[0], first)


def test_jacobian_norms_conv_model():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()
    x = torch.randn(5, 1, 6, 6)
    got = jacobian_norms(net, x)
    for i in range(5):
        jac = jacobian(lambda v: torch.softmax(net(v.unsqueeze(0))[0], -1), x[i])
        assert torch.allclose(got[i], jac.norm(), rtol=1e-5)


def test_loss_input_grad_norms_equal_per_example_loop(classifier):
    x = _inputs()
    y = torch.arange(9) % 5
    got = loss_input_grad_norms(classifier, x, y)
    for i in range(9):
        xi = x[i : i + 1].clone().requires_grad_(True)
        loss = nn.functional.cross_entropy(classifier(xi), y[i : i + 1])
        (g,) = torch.autograd.grad(loss, xi)
        assert torch.allclose(got[i], g.norm(), rtol=1e-10)


def test_loss_input_grad_norms_mse_and_callable(classifier):
    x = _inputs(4)
    target = torch.zeros(4, 5, dtype=torch.float64)
    mse = loss_input_grad_norms(classifier, x, target, loss="mse")
    custom = loss_input_grad_norms(
        classifier, x, target, loss=lambda out, t: ((out - t) ** 2).sum(1)
    )
    assert torch.allclose(mse, custom)


def _loop(net, x, softmax=True):
    f = (lambda v: torch.softmax(net(v.unsqueeze(0))[0], -1)) if softmax else \
        (lambda v: net(v.unsqueeze(0))[0])
    return torch.stack([jacobian(f, xi).norm() for xi in x])


def test_jacobian_norms_wide_first_layer_in_uneven_triangular_blocks():
    # H = 70 < D = 100: the QR path, 70 columns in blocks of 18, 18, 18, 16; two equal
    # rows make W rank-deficient, which QR (unlike a Cholesky of W W^T) takes as it is
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(100, 70), nn.ReLU(), nn.Linear(70, 7)).double().eval()
    with torch.no_grad():
        net[0].weight[5] = net[0].weight[6]
    x = torch.randn(11, 100, dtype=torch.float64)
    assert torch.allclose(jacobian_norms(net, x, chunk_size=3), _loop(net, x), rtol=1e-10)
    assert torch.allclose(jacobian_norms(net, x, softmax=False), _loop(net, x, False),
                          rtol=1e-10)


class _PerPosition(nn.Module):
    """(n, T, D) -> (n, T, C): one output distribution per position, positions mixed."""

    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(4, 4)
        self.out = nn.Linear(3, 5)

    def forward(self, x):
        return self.out(torch.tanh(self.mix(x.transpose(1, 2)).transpose(1, 2)))


def test_jacobian_norms_of_several_outputs_per_example_take_softmax_per_position():
    torch.manual_seed(2)
    net = _PerPosition().double().eval()
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    assert torch.allclose(jacobian_norms(net, x), _loop(net, x), rtol=1e-10)


def test_jacobian_norms_of_an_output_that_ignores_the_input_are_zero():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    net[0].weight.data.zero_()
    x = torch.randn(4, 3)
    assert torch.equal(jacobian_norms(net, x, softmax=False), torch.zeros(4))


def test_jacobian_norms_refuse_a_model_that_mixes_the_batch_away():
    class Pooled(nn.Module):
        def forward(self, x):
            return x.mean(0)

    with pytest.raises(BadInput, match="expected \\(4, ...\\)"):
        jacobian_norms(Pooled(), torch.randn(4, 3))
