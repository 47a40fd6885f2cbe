"""deep-vs-shallow: smoke run; parameter counts against the real modules and the budget."""

import numpy as np
import pytest
import torch

from trainlab.experiments.deep_vs_shallow import cnn_channels, converged_epoch
from trainlab.models import Ensemble, mlp, small_cnn_spec
from trainlab.runner import execute


def numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_smoke_run(tmp_path):
    out = execute("deep-vs-shallow", preset="smoke", runs_dir=tmp_path, progress=False,
                  quiet=True)
    assert out.state == "completed", out.reason
    s = out.summary
    assert [f["target"] for f in s["functions"]] == ["sin(x)+x**2", "sign(sin(5*pi*x))"]
    budget = s["budget"]
    for f in s["functions"]:
        assert [m["depth"] for m in f["models"]] == [1, 2, 3]
        for m in f["models"]:
            assert len(m["widths"]) == m["depth"]
            for e in (0, 1):  # the reported count is that of the trained members
                member = mlp(m["widths"], 1, 1, [e, e + 1]).member(e)
                assert numel(member) == m["params"]
            assert abs(m["params"] - budget) <= 0.02 * budget
            assert np.isfinite(m["final_loss"]) and 0 <= m["converged_epoch"] <= 4
            assert m["final_loss"] == pytest.approx(np.mean(m["final_loss_per_seed"]))
    assert len(s["mnist"]) == 3
    for m in s["mnist"]:
        member = Ensemble(small_cnn_spec(m["channels"]), (1, 28, 28), [0]).member(0)
        assert numel(member) == m["params"]
        assert 0 <= m["test_accuracy"] <= 1
    for name in ("functions", "mnist"):
        assert (out.path / "figures" / f"{name}.png").exists()


def test_budgets_of_the_full_preset():
    from trainlab.experiments.deep_vs_shallow import Config
    from trainlab.models import size_to_budget

    cfg = Config()
    for depth in cfg.depths:
        widths = size_to_budget(depth, cfg.budget)
        assert abs(numel(mlp(widths, 1, 1, [0]).member(0)) - cfg.budget) <= 0.02 * cfg.budget
    counts = [cnn_channels(d, cfg.mnist.budget)[1] for d in cfg.mnist.depths]
    assert max(counts) / min(counts) < 1.25


def test_converged_epoch():
    epochs = [0, 1, 2, 3, 4, 5]
    assert converged_epoch(epochs, np.array([10, 5, 1.2, 1.05, 1.3, 1.0]), 0.1) == 3
    assert converged_epoch(epochs, np.array([10, 5, 1.6, 1.4, 1.3, 1.0]), 0.5) == 3
    assert converged_epoch(epochs, np.ones(6), 0.1) == 0
    assert converged_epoch(epochs, np.array([6.0, 5, 4, 3, 2, 1]), 0.5) == 5
