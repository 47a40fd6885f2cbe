"""Index cards say what their numbers come from: preset, seed, data, and units."""

import json
from pathlib import Path

from trainlab.report.format import unit
from trainlab.report.site import index_html


def _run(runs: Path, exp: str, stamp: str, preset: str, data: dict | None, summary: dict):
    d = runs / exp / stamp
    d.mkdir(parents=True)
    config = {"epochs": 1} if data is None else {"epochs": 1, "data": data}
    (d / "config.json").write_text(json.dumps({"experiment": exp, "preset": preset, "seed": 1,
                                               "config": config}))
    (d / "status.json").write_text(json.dumps({"state": "completed"}))
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "report.html").write_text("<p>report</p>")
    return d


def _card(html: str, exp: str) -> str:
    return next(c for c in html.split("<div class='card'>")[1:] if f"{exp}/" in c)


def test_cards_name_preset_data_and_units(tmp_path):
    mnist = {"test_accuracy": 0.946, "test_error": 5.4, "train_error": 1.0, "epochs": 1,
             "params": 10}
    _run(tmp_path, "mnist", "20261201-000000-aaaaaa", "quick",
         {"name": "mnist", "root": "", "max_train": 2000, "max_test": 0}, mnist)
    _run(tmp_path, "mnist", "20261201-000001-bbbbbb", "smoke",
         {"name": "fashion-mnist", "root": "scratch/idx", "max_train": 0, "max_test": 0},
         dict(mnist, test_accuracy=0.1, test_error=90.0))
    _run(tmp_path, "linreg", "20261201-000000-cccccc", "full",
         {"path": "data/my.csv", "target": "yield"}, {"max_abs_param_diff": 1e-6})
    _run(tmp_path, "polyfit", "20261201-000000-dddddd", "smoke", None, {"best_lr": 0.1})
    html = index_html(tmp_path)
    card = _card(html, "mnist")
    assert ("preset smoke · seed 1 · data fashion-mnist IDX files in scratch/idx" in card)
    assert ("<dt title='test_accuracy: fraction of examples classified correctly (0-1); on "
            "the held-out test set'>test_accuracy (fraction)</dt><dd>0.1</dd>") in card
    assert ">test_error (%)</dt><dd>90</dd>" in card
    assert ">epochs</dt>" in card  # no unit where none is known
    # the older run, listed under the card, says its setting and numbers too
    assert ("preset quick · seed 1 · data mnist (built-in), at most 2000 training examples · "
            "test_accuracy (fraction) 0.946, test_error (%) 5.4, train_error (%) 1, epochs 1, "
            "params 10</span>") in card
    assert "preset full · seed 1 · data my.csv" in _card(html, "linreg")
    assert "preset smoke · seed 1</p>" in _card(html, "polyfit")  # no data section


def test_units_follow_the_summary_conventions():
    assert [unit(k) for k in ("test_accuracy", "best_test_accuracy", "mnist_test_accuracies",
                              "test_error", "best_test_error", "train_error", "seconds",
                              "grid_seconds", "max_abs_coeff_error", "lstsq_max_abs_error",
                              "a.test_error", "epochs")] == [
        "fraction", "fraction", "fractions", "%", "%", "%", "s", "s", "", "", "%", ""]


def test_sweep_cards_name_their_objective(tmp_path):
    sweep = tmp_path / "sweeps" / "mnist-tpe"
    sweep.mkdir(parents=True)
    (sweep / "best.json").write_text(json.dumps({
        "value": 1.067, "params": {"lr": 0.1}, "trial": 12, "objective": "test_error",
        "direction": "minimize", "experiment": "mnist"}))
    card = _card(index_html(tmp_path), "sweeps/mnist-tpe")
    assert "best test_error 1.067 (minimize, trial 12)" in card
