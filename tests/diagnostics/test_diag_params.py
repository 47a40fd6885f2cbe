import pytest
import torch
from torch import nn

from trainlab.diagnostics import (
    count_params,
    flatten_params,
    load_flat,
    make_loss_fn,
    unflatten_like,
)
from trainlab.errors import BadInput


def test_flatten_matches_parameters_to_vector(mlp):
    flat = flatten_params(mlp)
    assert flat.shape == (count_params(mlp),) == (297,)
    assert torch.equal(flat, nn.utils.parameters_to_vector(mlp.parameters()).detach())
    flat[0] += 1.0  # a copy: the model is untouched
    assert not torch.equal(flat, flatten_params(mlp))


def test_unflatten_round_trip_keeps_names_and_shapes(mlp):
    pieces = unflatten_like(mlp, flatten_params(mlp))
    for name, p in mlp.named_parameters():
        assert torch.equal(pieces[name], p.detach())
    with pytest.raises(BadInput):
        unflatten_like(mlp, torch.zeros(5))


def test_load_flat_writes_the_model(mlp):
    new = torch.arange(count_params(mlp), dtype=torch.float64)
    load_flat(mlp, new)
    assert torch.equal(flatten_params(mlp), new)


def test_loss_fn_equals_model_loss_and_has_gradient(mlp, regression_data):
    x, y = regression_data
    f = make_loss_fn(mlp, "mse", x, y)
    theta = flatten_params(mlp).requires_grad_(True)
    loss = f(theta)
    assert torch.allclose(loss, nn.functional.mse_loss(mlp(x), y), rtol=0, atol=1e-14)
    (g,) = torch.autograd.grad(loss, theta)
    mlp.zero_grad()
    nn.functional.mse_loss(mlp(x), y).backward()
    expected = torch.cat([p.grad.reshape(-1) for p in mlp.parameters()])
    assert torch.allclose(g, expected, atol=1e-12)


def test_float32_model_evaluated_in_float64(regression_data):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)  # float32
    x, y = regression_data
    f = make_loss_fn(model, nn.functional.mse_loss, x.float(), y.float())
    assert f(flatten_params(model).double()).dtype == torch.float64


def test_unknown_loss_name(mlp, regression_data):
    with pytest.raises(BadInput):
        make_loss_fn(mlp, "hinge", *regression_data)


def test_one_flat_layout_everywhere():
    """Ensemble, diagnostics and the critical-point search read (E, P) the same way."""
    from trainlab.diagnostics.critical import mlp_forward, mlp_mse_grad_hessian
    from trainlab.models import mlp, mlp_param_count

    sizes = [2, 3, 4, 1]
    model = mlp(sizes[1:-1], sizes[0], sizes[-1], seeds=[0, 1, 2], activation="tanh").double()
    flat = model.flat_parameters()
    P = mlp_param_count(sizes[0], sizes[1:-1], sizes[-1])
    assert flat.shape == (3, P) and model.params_per_member() == P == 30
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(7, 1, generator=gen, dtype=torch.float64)
    for e in range(3):
        net = model.member(e)
        assert count_params(net) == P
        assert torch.equal(flat[e], flatten_params(net))
        assert torch.equal(flat[e], model.member_vector(e).detach())
        # the critical-point search's MLP reads row e as member e
        assert torch.allclose(mlp_forward(flat[e:e + 1], x, sizes, "tanh")[0], net(x),
                              rtol=0, atol=1e-14)
    loss, _, _ = mlp_mse_grad_hessian(flat, x, y, sizes, "tanh", hessian=False)
    assert torch.allclose(loss, nn.functional.mse_loss(model(x), y.expand(3, 7, 1),
                                                       reduction="none").mean((1, 2)))
    # writing: Ensemble.load_flat and diagnostics.load_flat put the same numbers in place
    new = torch.arange(3 * P, dtype=torch.float64).reshape(3, P) / 100
    model.load_flat(new)
    assert torch.equal(model.flat_parameters(), new)
    for e in range(3):
        net = model.member(e)
        assert torch.equal(flatten_params(net), new[e])
        load_flat(net, new[e].flip(0))
        assert torch.equal(flatten_params(net), new[e].flip(0))
        assert torch.equal(net[0].weight.detach().reshape(-1), new[e].flip(0)[:6])
