"""random-labels: per-member targets, the saved labels and epochs_to_fit against oracles."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainlab.config import from_dict, resolve
from trainlab.errors import BadInput
from trainlab.experiments.random_labels import PRESETS, Config, epochs_to_fit, load_data
from trainlab.runner import execute
from trainlab.runs import read_metrics


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("random-labels", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True, sets={"fit_threshold": 0.5})
    assert out.state == "completed", out.reason
    cfg = from_dict(Config, json.loads((out.path / "config.json").read_text())["config"])
    return out, cfg


def _member(state: dict, e: int):
    """Member e of the saved ensemble as a plain nn.Sequential."""
    net = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 10))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.copy_(state[f"layers.{i}.weight"][e])
            net[i].bias.copy_(state[f"layers.{i}.bias"][e])
    return net


def test_smoke_summary_and_figure(smoke):
    out, _ = smoke
    s = out.summary
    assert s["label_noise"] == 1.0
    assert (out.path / "figures" / "curves.png").exists()


def test_random_labels_differ_from_true_ones(smoke):
    out, cfg = smoke
    labels = np.load(out.path / "labels.npz")
    (_, ytr, _, _), classes = load_data(cfg, torch.device("cpu"))
    np.testing.assert_array_equal(labels["true"], ytr.numpy())
    changed = float(np.mean(labels["random"] != labels["true"]))
    assert 0.85 < changed < 0.95  # 1 - 1/10 of the labels change
    assert out.summary["labels_changed_fraction"] == pytest.approx(changed)
    assert labels["relabelled"].all()
    # the random labels are spread over all classes, not a shifted copy of the true ones
    assert len(np.unique(labels["random"])) == classes


def test_each_member_trained_on_its_own_labels(smoke):
    """Final train accuracies = plain-PyTorch evaluation of the checkpointed members."""
    out, cfg = smoke
    labels = np.load(out.path / "labels.npz")
    (xtr, _, xte, yte), _ = load_data(cfg, torch.device("cpu"))
    state = torch.load(out.path / "checkpoints" / "train.pt", weights_only=True)["model"]
    for e, name in enumerate(("true", "random")):
        net = _member(state, e)
        y = torch.from_numpy(labels[name])
        with torch.no_grad():
            train_acc = float((net(xtr).argmax(1) == y).float().mean())
            test_acc = float((net(xte).argmax(1) == yte).float().mean())
            train_loss = float(F.cross_entropy(net(xtr), y))
        assert out.summary[name]["train_accuracy"] == pytest.approx(train_acc, abs=1e-6)
        assert out.summary[name]["test_accuracy"] == pytest.approx(test_acc, abs=1e-6)
        assert out.summary[name]["train_loss"] == pytest.approx(train_loss, rel=1e-4)


def test_epochs_to_fit_matches_metrics(smoke):
    out, cfg = smoke
    rows = [r for r in read_metrics(out.path / "metrics.jsonl") if r["split"] == "train"]
    for name in ("true", "random"):
        hits = [r["epoch"] for r in rows if r["model"] == name and r["epoch"] > 0
                and r["accuracy"] >= cfg.fit_threshold]
        assert out.summary[name]["epochs_to_fit"] == (min(hits) if hits else None)
    assert out.summary["true"]["epochs_to_fit"] is not None  # 0.5 is reached in smoke


def test_epochs_to_fit_rule():
    acc = np.array([0.1, 0.5, 0.99, 1.0])
    assert epochs_to_fit([0, 1, 2, 3], acc, 0.99) == 2
    assert epochs_to_fit([0, 1, 2, 3], acc, 1.01) is None
    assert epochs_to_fit([0, 5], np.array([1.0, 0.2]), 0.9) is None  # epoch 0 does not count


def test_bad_noise_is_rejected():
    with pytest.raises(BadInput):
        resolve(Config, PRESETS, "smoke", sets={"label_noise": 1.5})
