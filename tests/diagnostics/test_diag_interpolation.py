import copy

import pytest
import torch
from torch import nn

from trainlab.diagnostics import flatten_params, interpolate, interpolation_curve
from trainlab.errors import BadInput


def test_interpolate_rows():
    t1 = torch.tensor([1.0, 2.0, 3.0])
    t2 = torch.tensor([3.0, 0.0, -1.0])
    rows = interpolate(t1, t2, [-1.0, 0.0, 0.5, 1.0, 2.0])
    assert rows.shape == (5, 3)
    assert torch.equal(rows[1], t1) and torch.equal(rows[3], t2)
    assert torch.allclose(rows[2], (t1 + t2) / 2)
    assert torch.allclose(rows[0], 2 * t1 - t2) and torch.allclose(rows[4], 2 * t2 - t1)
    with pytest.raises(BadInput):
        interpolate(t1, t2[:2], [0.0])


def test_curve_reproduces_both_models_exactly(make_mlp, regression_data):
    x, y = regression_data
    model_a = make_mlp(seed=0, dtype=torch.float32)
    model_b = make_mlp(seed=1, dtype=torch.float32)
    xf, yf = x.float(), y.float()

    def metrics(m):
        return {"loss": float(nn.functional.mse_loss(m(xf), yf).detach())}

    before = copy.deepcopy(model_a.state_dict())
    curve = interpolation_curve(
        model_a, flatten_params(model_a), flatten_params(model_b), [0.0, 0.3, 1.0, 1.5], metrics
    )
    assert [row["alpha"] for row in curve] == pytest.approx([0.0, 0.3, 1.0, 1.5])
    assert curve[0]["loss"] == metrics(model_a)["loss"]
    assert curve[2]["loss"] == metrics(model_b)["loss"]
    assert curve[1]["loss"] != curve[0]["loss"]
    for k, v in model_a.state_dict().items():  # the model given is untouched
        assert torch.equal(v, before[k])
