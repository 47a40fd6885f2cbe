"""interpolation: the curve at α = 0, 1 (and between) against the checkpointed models."""

import json

import pytest
import torch
import torch.nn.functional as F

from trainlab.config import from_dict
from trainlab.experiments.interpolation import Config, alpha_grid, load_data
from trainlab.runner import execute

KEYS = ("alphas", "train_loss", "test_loss", "train_accuracy", "test_accuracy")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("interpolation", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    cfg = from_dict(Config, json.loads((out.path / "config.json").read_text())["config"])
    (xtr, ytr, xte, yte), _ = load_data(cfg, torch.device("cpu"))
    ckpt = out.path / "checkpoints"
    states = [torch.load(ckpt / f"model{i + 1}-batch-{bs}.pt", weights_only=True)["model"]
              for i, bs in enumerate(cfg.batch_sizes)]
    return out, cfg, {"train": (xtr, ytr), "test": (xte, yte)}, states


def _plain(state: dict, width: int) -> torch.nn.Sequential:
    net = torch.nn.Sequential(torch.nn.Linear(784, width), torch.nn.ReLU(),
                              torch.nn.Linear(width, 10))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.copy_(state[f"layers.{i}.weight"][0])
            net[i].bias.copy_(state[f"layers.{i}.bias"][0])
    return net


def _metrics(net, x, y) -> tuple[float, float]:
    with torch.no_grad():
        logits = net(x)
    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def test_summary_lists_have_equal_length(smoke):
    out, cfg, _, _ = smoke
    s = out.summary
    n = len(alpha_grid(cfg.alpha_min, cfg.alpha_max, cfg.alpha_step))
    assert n == 13  # -1 .. 2 in steps of 0.25
    assert all(len(s[k]) == n for k in KEYS)
    assert s["alphas"][0] == -1.0 and s["alphas"][-1] == 2.0
    assert (out.path / "figures" / "interpolation.png").exists()


@pytest.mark.parametrize("alpha, index", [(0.0, 0), (1.0, 1)])
def test_endpoints_are_the_trained_models(smoke, alpha, index):
    out, cfg, data, states = smoke
    s = out.summary
    i = s["alphas"].index(alpha)
    net = _plain(states[index], cfg.model.widths[0])
    for split, (x, y) in data.items():
        loss, acc = _metrics(net, x, y)
        assert s[f"{split}_loss"][i] == pytest.approx(loss, rel=1e-5)
        assert s[f"{split}_accuracy"][i] == pytest.approx(acc, abs=1e-6)
        assert s["models"][index][f"{split}_loss"] == pytest.approx(loss, rel=1e-5)


def test_extrapolated_point(smoke):
    """α = -0.5 and 1.5: plain PyTorch on (1 - α)·θ₁ + α·θ₂ built by hand."""
    out, cfg, data, states = smoke
    s = out.summary
    for alpha in (-0.5, 1.5):
        mixed = {k: (1 - alpha) * states[0][k] + alpha * states[1][k] for k in states[0]}
        net = _plain(mixed, cfg.model.widths[0])
        i = s["alphas"].index(alpha)
        loss, acc = _metrics(net, *data["test"])
        assert s["test_loss"][i] == pytest.approx(loss, rel=1e-4)
        assert s["test_accuracy"][i] == pytest.approx(acc, abs=1e-6)


def test_alpha_grid_hits_zero_and_one_exactly():
    grid = alpha_grid(-1.0, 2.0, 0.05)
    assert len(grid) == 61
    assert 0.0 in grid and 1.0 in grid and 0.5 in grid
    assert grid[0] == -1.0 and grid[-1] == 2.0
