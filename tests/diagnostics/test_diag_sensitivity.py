import torch
from torch import nn
from torch.autograd.functional import jacobian

from trainlab.diagnostics import jacobian_norms, loss_input_grad_norms


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
