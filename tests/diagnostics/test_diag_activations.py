import pytest
import torch
from torch import nn

from trainlab.diagnostics import activation_maps, weight_histograms
from trainlab.errors import BadInput


def _cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)
    )


def test_first_conv_maps_equal_manual_conv():
    net = _cnn()
    x = torch.randn(5, 1, 8, 8)
    maps = activation_maps(net, net[0], x)
    assert maps.shape == (5, 4, 6, 6)
    manual = nn.functional.conv2d(x, net[0].weight, net[0].bias)
    assert torch.equal(maps, manual)
    by_name = activation_maps(net, "2", x)
    assert torch.allclose(by_name, net[2](torch.relu(manual)))
    assert not net[0]._forward_hooks  # the hook is gone


def test_unknown_layer_name():
    with pytest.raises(BadInput):
        activation_maps(_cnn(), "conv9", torch.zeros(1, 1, 8, 8))


def test_weight_histograms_count_every_weight():
    net = _cnn()
    hist = weight_histograms(net, bins=10)
    assert list(hist) == [n for n, _ in net.named_parameters()]
    for name, p in net.named_parameters():
        counts, edges = hist[name]
        assert counts.shape == (10,) and edges.shape == (11,)
        assert int(counts.sum()) == p.numel()
        assert float(edges[0]) == pytest.approx(float(p.detach().min()))
        assert float(edges[-1]) == pytest.approx(float(p.detach().max()))
    weights_only = weight_histograms(net, bins=5, include_bias=False)
    assert list(weights_only) == ["0.weight", "2.weight", "4.weight"]


def test_constant_tensor_histogram():
    lin = nn.Linear(2, 2)
    nn.init.zeros_(lin.weight)
    counts, _ = weight_histograms(lin, bins=3)["weight"]
    assert int(counts.sum()) == 4
