"""param-count: parameter counts and final metrics against plain PyTorch."""

import json

import pytest
import torch
import torch.nn.functional as F

from trainlab.config import from_dict
from trainlab.experiments.param_count import Config, load_data
from trainlab.models import mlp
from trainlab.runner import execute


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("param-count", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    cfg = from_dict(Config, json.loads((out.path / "config.json").read_text())["config"])
    return out, cfg


def _plain(width: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(784, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, 10))


def test_summary_lists_every_width(smoke):
    out, cfg = smoke
    models = out.summary["models"]
    assert [m["width"] for m in models] == cfg.widths == [2, 8, 32]
    for m in models:
        assert 0 <= m["train_accuracy"] <= 1 and 0 <= m["test_accuracy"] <= 1
    assert (out.path / "figures" / "params.png").exists()


def test_param_counts_equal_plain_modules(smoke):
    out, _ = smoke
    for m in out.summary["models"]:
        plain = sum(p.numel() for p in _plain(m["width"]).parameters())
        member = mlp([m["width"]], 784, 10, seeds=[0]).member(0)
        assert m["params"] == plain == sum(p.numel() for p in member.parameters())
    assert out.summary["models"][0]["params"] == 1600  # 784·2 + 2 + 2·10 + 10


def test_final_metrics_equal_plain_evaluation(smoke):
    out, cfg = smoke
    (xtr, ytr, xte, yte), _ = load_data(cfg, torch.device("cpu"))
    for m in out.summary["models"]:
        w = m["width"]
        state = torch.load(out.path / "checkpoints" / f"width-{w}.pt",
                           weights_only=True)["model"]
        net = _plain(w)
        with torch.no_grad():
            for i in (0, 2):
                net[i].weight.copy_(state[f"layers.{i}.weight"][0])
                net[i].bias.copy_(state[f"layers.{i}.bias"][0])
            for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
                logits = net(x)
                assert m[f"{split}_loss"] == pytest.approx(float(F.cross_entropy(logits, y)),
                                                           rel=1e-4)
                acc = float((logits.argmax(1) == y).float().mean())
                assert m[f"{split}_accuracy"] == pytest.approx(acc, abs=1e-6)
