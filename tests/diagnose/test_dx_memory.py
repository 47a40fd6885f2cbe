"""The automatic `hvp_chunk`: what autograd saves grows linearly with the examples, the
chunk is the largest that fits the budget, and chunked products give the whole sample's
eigenvalues and trace."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import trainlab
from trainlab.diagnosis.memory import GRAPH_FACTOR, auto_chunk, saved_bytes
from trainlab.diagnostics import flatten_params


def _problem(n=40):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return model, x, y, flatten_params(model)


def test_saved_bytes_grow_linearly_with_the_examples():
    model, x, y, theta = _problem()
    s = [saved_bytes(model, F.cross_entropy, x[:k], y[:k], theta) for k in (1, 2, 3, 7)]
    step = s[1] - s[0]
    assert step > 0 and s[2] - s[1] == step and s[3] - s[2] == 4 * step


def test_auto_chunk_is_the_largest_that_fits(monkeypatch):
    import trainlab.diagnosis.memory as memory

    model, x, y, theta = _problem()
    one = saved_bytes(model, F.cross_entropy, x[:1], y[:1], theta)
    per = saved_bytes(model, F.cross_entropy, x[:2], y[:2], theta) - one
    assert auto_chunk(model, F.cross_entropy, x, y, theta, 10_000) == 0  # all 40 fit
    # a factor that makes 1 MiB hold 8.5 examples beyond the fixed part: 8 fit, not 9
    factor = (2**20 - (one - per)) / (8.5 * per)
    monkeypatch.setattr(memory, "GRAPH_FACTOR", factor)
    assert auto_chunk(model, F.cross_entropy, x, y, theta, 1) == 8
    monkeypatch.setattr(memory, "GRAPH_FACTOR", factor * 100)  # not even one fits: 1
    assert auto_chunk(model, F.cross_entropy, x, y, theta, 1) == 1
    assert GRAPH_FACTOR >= 5.5  # at least the ratio measured on the ResNet-18


def test_a_small_budget_chunks_and_keeps_the_whole_sample_hessian(tmp_path, monkeypatch):
    import trainlab.diagnosis.memory as memory

    model, x, y, _ = _problem()
    kw = {"only": ["hessian", "trace"], "preset": "smoke", "n_train": 0, "n_eval": 0}
    whole = trainlab.diagnose(model, (x, y), out=tmp_path / "w", **kw).summary
    monkeypatch.setattr(memory, "GRAPH_FACTOR", 1e4)  # the tiny graph now exceeds 1 MiB
    small = trainlab.diagnose(model, (x, y), out=tmp_path / "s", hvp_mib=1, **kw).summary
    assert whole["hvp_chunk"] == 0
    assert 0 < small["hvp_chunk"] < 40
    assert small["hessian_top"] == pytest.approx(whole["hessian_top"], rel=1e-9)
    assert small["hessian_trace"]["value"] == pytest.approx(whole["hessian_trace"]["value"],
                                                            rel=1e-9)
