import pytest
import torch
from torch import nn

from trainlab.diagnostics import (
    flatten_params,
    grad_norm,
    grad_norms_per_layer,
    loss_grad,
    loss_grad_norm,
    make_loss_fn,
)
from trainlab.errors import BadInput


def _autograd_flat(model, x, y):
    loss = nn.functional.mse_loss(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


def test_grad_norm_equals_flattened_autograd(mlp, regression_data):
    x, y = regression_data
    expected = _autograd_flat(mlp, x, y).norm()
    nn.functional.mse_loss(mlp(x), y).backward()
    assert grad_norm(mlp) == pytest.approx(float(expected), rel=1e-12)


def test_per_layer_norms(mlp, regression_data):
    x, y = regression_data
    nn.functional.mse_loss(mlp(x), y).backward()
    per_param = grad_norms_per_layer(mlp)
    assert list(per_param) == [n for n, _ in mlp.named_parameters()]
    for name, p in mlp.named_parameters():
        assert per_param[name] == pytest.approx(float(p.grad.norm()), rel=1e-12)
    per_module = grad_norms_per_layer(mlp, by="module")
    assert list(per_module) == ["0", "2", "4"]
    both = (mlp[0].weight.grad.norm() ** 2 + mlp[0].bias.grad.norm() ** 2).sqrt()
    assert per_module["0"] == pytest.approx(float(both), rel=1e-12)
    total = sum(v**2 for v in per_module.values()) ** 0.5
    assert total == pytest.approx(grad_norm(mlp), rel=1e-12)


def test_flat_loss_grad(mlp, regression_data):
    x, y = regression_data
    f = make_loss_fn(mlp, "mse", x, y)
    expected = _autograd_flat(mlp, x, y)
    theta = flatten_params(mlp)
    assert torch.allclose(loss_grad(f, theta), expected, atol=1e-12)
    assert loss_grad_norm(f, theta) == pytest.approx(float(expected.norm()), rel=1e-12)


def test_no_gradient_is_bad_input(mlp):
    with pytest.raises(BadInput):
        grad_norm(mlp)
