"""Ensemble layers equal their plain PyTorch members; budgets are met."""

import pytest
import torch
from torch import nn

from trainlab.models import (
    Ensemble,
    mlp,
    mlp_param_count,
    pytorch_examples_cnn_spec,
    size_to_budget,
    small_cnn_spec,
)


def test_mlp_members_equal_plain_modules():
    model = mlp([7, 5], 3, 2, seeds=[1, 2, 3], activation=["tanh", "relu"])
    x = torch.randn(11, 3)
    out = model(x)
    assert out.shape == (3, 11, 2)
    for e in range(3):
        plain = model.member(e)
        assert isinstance(plain[0], nn.Linear)
        torch.testing.assert_close(out[e], plain(x))


def test_member_init_equals_single_model_with_that_seed():
    ens = mlp([6], 2, 1, seeds=[10, 11, 12])
    single = mlp([6], 2, 1, seeds=[11])
    assert torch.equal(ens.member_vector(1), single.member_vector(0))


def test_default_init_matches_pytorch_bounds():
    model = mlp([50], 40, 1, seeds=[0])
    w = model.layers[0].weight[0]
    bound = 1 / 40 ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    normal = mlp([400], 40, 1, seeds=[0], init_std=0.02)
    assert normal.layers[0].weight.std().item() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("spec", [pytorch_examples_cnn_spec(), small_cnn_spec([4, 8], hidden=16)])
def test_cnn_members_equal_plain_modules(spec):
    model = Ensemble(spec, (1, 28, 28), seeds=[0, 1]).eval()
    x = torch.randn(5, 1, 28, 28)
    out = model(x)
    assert out.shape == (2, 5, 10)
    for e in range(2):
        plain = model.member(e).eval()
        torch.testing.assert_close(out[e], plain(x), rtol=1e-5, atol=1e-5)
        assert sum(p.numel() for p in plain.parameters()) == model.params_per_member()


def test_pytorch_examples_cnn_has_the_reference_parameter_count():
    # conv1 32*1*9+32, conv2 64*32*9+64, fc1 128*9216+128, fc2 10*128+10
    expected = 320 + 18496 + 1179776 + 1290
    assert Ensemble(pytorch_examples_cnn_spec(), (1, 28, 28), [0]).params_per_member() == expected


def test_per_member_inputs():
    model = mlp([4], 2, 1, seeds=[0, 1])
    x = torch.randn(2, 6, 2)  # a different batch for each member
    out = model(x)
    for e in range(2):
        torch.testing.assert_close(out[e], model.member(e)(x[e]))


def test_flat_roundtrip():
    model = mlp([3], 2, 1, seeds=[0, 1])
    flat = model.flat_parameters()
    assert flat.shape == (2, model.params_per_member())
    model.load_flat(flat * 2)
    torch.testing.assert_close(model.flat_parameters(), flat * 2)
    plain = torch.nn.utils.parameters_to_vector(model.member(1).parameters())
    torch.testing.assert_close(plain, flat[1] * 2)


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
@pytest.mark.parametrize("budget", [300, 1500, 18000])
def test_size_to_budget_within_two_percent(depth, budget):
    widths = size_to_budget(depth, budget, 1, 1)
    assert len(widths) == depth
    n = mlp_param_count(1, widths, 1)
    assert abs(n - budget) / budget <= 0.02
    model = mlp(widths, 1, 1, seeds=[0])
    assert model.params_per_member() == n


def test_bf16_autocast_forward_matches_plain_members():
    """Under bfloat16 autocast the ensemble runs its convolutions channels-last; the
    flatten order (C, H, W) must stay that of the plain member modules."""
    model = Ensemble(small_cnn_spec([4, 8], hidden=16), (1, 12, 12), seeds=[0, 1]).eval()
    x = torch.randn(6, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x).float()
        plain = [model.member(e)(x).float() for e in range(2)]
    for e in range(2):
        torch.testing.assert_close(out[e], plain[e], rtol=0.05, atol=0.02)
    with torch.no_grad():
        exact = [model.member(e)(x) for e in range(2)]
    assert max((out[e] - exact[e]).abs().max() for e in range(2)) < 0.05
