"""height-weight: learns above chance; N(0, 0.02²) init; word labels; logistic baseline."""

import json

import numpy as np
import pytest
import torch

from trainlab.data import read_csv_table, stratified_split, write_gender_height_weight
from trainlab.errors import BadInput
from trainlab.experiments.height_weight import build_model
from trainlab.runner import execute


def test_smoke_run_beats_chance_for_every_activation(tmp_path):
    out = execute("height-weight", preset="smoke", runs_dir=tmp_path, progress=False,
                  quiet=True)
    assert out.state == "completed"
    results = out.summary["results"]
    assert [r["activation"] for r in results] == ["sigmoid", "tanh", "relu"]
    for r in results:
        assert r["train_accuracy"] > 0.7 and r["test_accuracy"] > 0.7  # chance: 0.5


def test_init_std_gives_normal_weights_of_that_std():
    model = build_model(["relu"], [2000], seed=0, init_std=0.02)
    flat = model.flat_parameters()[0]
    assert flat.numel() == 2 * 2000 + 2000 + 2000 + 1
    assert flat.std().item() == pytest.approx(0.02, rel=0.03)
    assert abs(flat.mean().item()) < 0.002
    again = build_model(["relu"], [2000], seed=0, init_std=0.02)
    assert torch.equal(again.flat_parameters(), model.flat_parameters())  # seeded


def test_three_classes_are_refused_before_any_folder(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("h,w,label\n170,70,0\n180,80,2\n160,60,0\n165,62,1\n")
    runs = tmp_path / "runs"
    with pytest.raises(BadInput, match=r"line 5, column 'label': 3 classes .* needs exactly 2"):
        execute("height-weight", preset="smoke", runs_dir=runs, progress=False,
                quiet=True, sets={"data.path": str(csv)})
    assert not runs.exists() or not any(runs.rglob("config.json"))


@pytest.fixture(scope="module")
def gender_tables(tmp_path_factory):
    """The realistic 10,000-row Gender,Height,Weight copy, comma- and tab-separated."""
    folder = tmp_path_factory.mktemp("gender")
    return (write_gender_height_weight(folder / "weight-height.csv"),
            write_gender_height_weight(folder / "weight-height.tsv", delimiter="\t"))


def test_the_published_gender_table_runs_and_matches_the_logistic_baseline(tmp_path,
                                                                           gender_tables):
    csv_path, tsv_path = gender_tables
    comma, tab = read_csv_table(csv_path, classes=True), read_csv_table(tsv_path, classes=True)
    np.testing.assert_array_equal(comma.x, tab.x)
    np.testing.assert_array_equal(comma.y, tab.y)
    # Few epochs of larger batches: the test's budget; the baseline comparison is the point.
    out = execute("height-weight", preset="smoke", runs_dir=tmp_path, progress=False,
                  quiet=True, sets={"data.path": str(tsv_path), "batch_size": 64})
    assert out.state == "completed"
    s = out.summary
    assert s["label_column"] == "Gender" and s["classes"] == {"Female": 0, "Male": 1}
    assert json.loads((out.path / "labels.json").read_text())["classes"] == s["classes"]
    assert s["feature_names"] == ["Height", "Weight"] and s["n_test"] == 2000
    base = s["logistic_baseline"]
    assert 0.88 < base["test_accuracy"] < 0.95
    for r in s["results"]:  # every MLP within one point of the linear baseline
        assert abs(r["test_accuracy"] - base["test_accuracy"]) <= 0.01, (r, base)
    # The baseline's boundary in original units classifies the test rows as reported.
    _, te = stratified_split(comma.y, 0.2, seed=0)
    te = te.numpy()
    logit = comma.x[te] @ np.asarray(base["weights"]) + base["bias"]
    assert np.mean((logit > 0) == (comma.y[te] == 1)) == pytest.approx(base["test_accuracy"])
    assert "'Female' → 0, 'Male' → 1" in (out.path / "report.md").read_text()


def test_replicates_in_one_ensemble_match_single_seed_runs(tmp_path):
    """--seeds 2 trains 3 activations × 2 seeds as one ensemble; each replicate's summary
    is the run of that seed alone (its own table, split, initialization, batches)."""
    both = execute("height-weight", preset="smoke", runs_dir=tmp_path / "both", seed=3,
                   seeds=2, progress=False, quiet=True)
    assert both.state == "completed"
    reps = both.summary["replicates"]
    assert [r["seed"] for r in reps] == [3, 4]
    assert (both.path / "data" / "height_weight-seed4.csv").exists()
    for rep in reps:
        alone = execute("height-weight", preset="smoke", runs_dir=tmp_path / f"s{rep['seed']}",
                        seed=rep["seed"], seeds=1, progress=False, quiet=True).summary
        got = rep["summary"]
        assert got["n_train"] == alone["n_train"] and got["input_mean"] == alone["input_mean"]
        assert got["logistic_baseline"] == alone["logistic_baseline"]
        for a, b in zip(got["results"], alone["results"], strict=True):
            assert a["activation"] == b["activation"]
            for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (rep["seed"], key)
    # the two seeds drew different tables, so their numbers differ
    assert reps[0]["summary"]["input_mean"] != reps[1]["summary"]["input_mean"]
