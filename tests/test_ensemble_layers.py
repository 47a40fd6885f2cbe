"""Ensemble layers: linear layers equal F.linear per member; dropout; per-member activations."""

import typing

import pytest
import torch
import torch.nn.functional as F

from trainlab.ensemble_layers import (
    ACTIVATIONS,
    ActivationName,
    EnsembleLinear,
    activate,
    dropout,
    member_activations,
)


def test_activation_names_are_the_table_of_activations():
    assert typing.get_args(ActivationName) == tuple(ACTIVATIONS)


def test_linear_features_major_equals_f_linear_per_member():
    layer = EnsembleLinear(3, 5, 4)
    torch.nn.init.normal_(layer.weight)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(3, 7, 5, dtype=torch.float32)
    out = layer(x)  # (E, B, out) from the (E, out, B) computation
    h = layer.forward_features_major(x.transpose(1, 2))
    for e in range(3):
        expected = F.linear(x[e], layer.weight[e], layer.bias[e])
        torch.testing.assert_close(out[e], expected)
        torch.testing.assert_close(h[e].T, expected)


def test_per_member_activations():
    x = torch.randn(3, 4, 5)
    out = activate(("relu", "tanh", "identity"), x)
    torch.testing.assert_close(out, torch.stack([x[0].relu(), x[1].tanh(), x[2]]))
    assert member_activations("relu", 2) == ["relu", "relu"]
    with pytest.raises(ValueError, match="2 activations for 3 members"):
        member_activations(("relu", "tanh"), 3)


def test_dropout_mask_scale_seed_and_gradient():
    x = torch.ones(200, 50, requires_grad=True)
    torch.manual_seed(3)
    y = dropout(x, 0.25, True)
    kept = y != 0
    assert torch.all(y[kept] == 1 / 0.75)
    assert abs(kept.float().mean().item() - 0.75) < 0.01
    torch.manual_seed(3)
    assert torch.equal(dropout(x, 0.25, True), y)  # torch's seed decides the mask
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient is the scaled mask
    assert dropout(x, 0.25, False) is x
