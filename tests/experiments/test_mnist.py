"""mnist: smoke run, parameter counts against plain torch.nn models, confusion matrix."""

import json

import numpy as np
import pytest
from torch import nn

from trainlab.data import load_dataset
from trainlab.errors import BadInput
from trainlab.runner import execute


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("mnist", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    return out


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_smoke_summary_keys_and_accuracy(smoke):
    s = smoke.summary
    assert s["epochs"] == 2
    assert s["test_accuracy"] > 0.3  # chance is 0.1
    assert s["test_error"] == pytest.approx(100 * (1 - s["test_accuracy"]))
    assert 0 <= s["train_error"] < 70


def test_smoke_params_equal_plain_pytorch_model(smoke):
    # smoke preset: small cnn, channels [8, 16], no hidden FC layer, 28x28 input
    oracle = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
    assert smoke.summary["params"] == n_params(oracle)


def test_confusion_matrix_counts_the_test_set(smoke):
    cm = np.array(smoke.summary["confusion_matrix"])
    labels = load_dataset("mnist", seed=1).y_test.numpy()  # smoke keeps the whole test set
    assert cm.shape == (10, 10)
    assert cm.sum() == smoke.summary["n_test"] == len(labels)
    np.testing.assert_array_equal(cm.sum(1), np.bincount(labels, minlength=10))
    assert np.trace(cm) / cm.sum() == pytest.approx(smoke.summary["test_accuracy"], abs=1e-6)


def test_smoke_figures_and_metrics(smoke):
    figs = {p.stem for p in (smoke.path / "figures").glob("*.png")}
    assert {"curves", "error", "confusion", "activation-maps", "weight-histograms"} <= figs
    rows = [json.loads(line) for line in (smoke.path / "metrics.jsonl").read_text().splitlines()]
    epochs = {r["epoch"] for r in rows if r["split"] == "test"}
    assert epochs == {0, 1, 2}


@pytest.mark.parametrize("model,sets,oracle", [
    ("pytorch-examples-cnn", {}, lambda: nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10))),
    ("mlp", {"model.widths": [32, 16]}, lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
        nn.Linear(16, 10))),
])
def test_other_models_param_count(tmp_path, model, sets, oracle):
    out = execute("mnist", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                  sets={"model.name": model, "epochs": 1, "data.max_train": 128,
                        "data.max_test": 64, **sets})
    assert out.state == "completed", out.reason
    assert out.summary["params"] == n_params(oracle())
    assert np.array(out.summary["confusion_matrix"]).sum() == 64
    has_maps = (out.path / "figures" / "activation-maps.png").exists()
    assert has_maps == (model != "mlp")


def test_bad_image_index_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="image_index"):
        execute("mnist", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                sets={"data.max_test": 10, "image_index": 10})
    assert not any(tmp_path.rglob("config.json"))
