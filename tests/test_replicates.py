"""Replicates: aggregation, claims, and N replicates against N separate single-seed runs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from trainlab import replicates
from trainlab.claims import Claim, Replicates, evaluate, lookup
from trainlab.errors import BadInput
from trainlab.registry import get
from trainlab.runner import execute

NEW_KEYS = ("replicates", "stats", "claims")


def _run(tmp_path, exp, name, **kw):
    out = execute(exp, preset="smoke", out=tmp_path / name, progress=False, quiet=True, **kw)
    assert out.state == "completed", out.reason
    return json.loads((out.path / "summary.json").read_text())


def _strip(summary):
    return {k: v for k, v in summary.items() if k not in NEW_KEYS}


# ------------------------------------------------------------------ aggregation


def test_aggregate_one_replicate_is_the_identity():
    s = {"a": 3, "b": [1.5, None, "x"], "c": {"d": True}}
    assert replicates.aggregate([s]) == s


def test_aggregate_means_elementwise_and_keeps_the_rest():
    a = {"n": 2, "same": 7, "x": 1.0, "curve": [1.0, 4.0], "name": "p", "flag": True,
         "none": None, "mixed": 1.0, "ragged": [1, 2], "nested": {"v": 0.0}, "only_a": 1}
    b = {"n": 3, "same": 7, "x": 2.0, "curve": [3.0, 8.0], "name": "q", "flag": False,
         "none": None, "mixed": None, "ragged": [1, 2, 3], "nested": {"v": 1.0}}
    got = replicates.aggregate([a, b])
    assert got["n"] == 2.5 and got["same"] == 7 and type(got["same"]) is int
    assert got["x"] == 1.5 and got["curve"] == [2.0, 6.0] and got["nested"] == {"v": 0.5}
    assert got["name"] == "p" and got["flag"] is True  # disagreeing non-numbers: the first
    assert got["none"] is None and got["mixed"] is None  # a missing value: no mean
    assert got["ragged"] == [1, 2] and got["only_a"] == 1


def test_headline_stats_describe_each_key():
    sums = [{"a": {"b": v}, "l": [v, 2 * v]} for v in (1.0, 2.0, 3.0)]
    st = replicates.headline_stats(sums, ("a.b", "l", "missing"))
    assert set(st) == {"a.b", "l"}
    assert st["a.b"]["mean"] == 2.0 and st["a.b"]["std"] == 1.0 and st["a.b"]["n"] == 3
    assert st["l"]["mean"] == [2.0, 4.0] and st["l"]["ci95"][1][0] < 4.0 < st["l"]["ci95"][1][1]


# ----------------------------------------------------------------------- claims


def test_claim_verdicts_from_replicate_values():
    high = Claim("c", "s", "src", "x", threshold=0.5, value=lambda s: s["x"])
    sums = [{"x": v} for v in (0.9, 0.95, 0.92)]
    assert evaluate(high, sums)["verdict"] == "reproduced"
    assert evaluate(high, [{"x": v} for v in (0.1, 0.12, 0.15)])["verdict"] == "not_reproduced"
    assert evaluate(high, [{"x": v} for v in (0.1, 0.9)])["verdict"] == "inconclusive"
    assert evaluate(high, [{"x": 0.9}])["verdict"] == "inconclusive"  # one replicate: no interval
    low = Claim("c", "s", "src", "x", threshold=0.5, direction="<", value=lambda s: s["x"])
    assert evaluate(low, sums)["verdict"] == "not_reproduced"
    broken = evaluate(high, [{"y": 1}, {"y": 2}])  # statistic undefined: no value
    assert broken["value"] is None and broken["n"] == 0 and broken["verdict"] == "inconclusive"


def test_pooled_spearman_claim():
    rng = np.random.default_rng(0)
    sums = [{"p": [{"a": a, "b": -a + 0.3 * rng.normal()} for a in rng.normal(size=40)]}
            for _ in range(2)]
    claim = Claim("neg", "s", "src", "rho", threshold=0.0, direction="<", estimator="spearman",
                  samples=lambda s: ([p["a"] for p in s["p"]], [p["b"] for p in s["p"]]))
    res = evaluate(claim, sums)
    assert res["n"] == 80 and res["value"] < -0.8 and res["verdict"] == "reproduced"


def test_claim_needs_one_statistic_and_lookup_walks_paths():
    with pytest.raises(ValueError):
        Claim("c", "s", "src", "x", threshold=0.0)
    assert lookup({"a": [{"b": 4}]}, "a.0.b") == 4 and lookup({"a": 1}, "a.b") is None
    assert Replicates(quick=3).default("quick") == 3 and Replicates().default("full") == 1


def test_every_experiment_declares_claims_and_replicates():
    from trainlab.registry import all_experiments

    for exp in all_experiments():
        rep = replicates.spec(exp)
        assert rep.smoke == 1, f"{exp.id}: smoke must stay one replicate"
        if rep.ensemble:
            assert callable(getattr(replicates._module(exp), "run_seeds", None)), exp.id


# ---------------------------------------------------------------------- running


def test_one_replicate_adds_keys_only(tmp_path):
    s = _run(tmp_path, "polyfit", "one")
    assert [r["seed"] for r in s["replicates"]] == [2020]
    assert s["replicates"][0]["summary"] == _strip(s)
    assert set(s["stats"]) == set(get("polyfit").headline) and s["stats"]["best_lr"]["n"] == 1


def test_separate_replicates_equal_single_seed_runs(tmp_path):
    assert not replicates.spec(get("linreg")).ensemble
    s = _run(tmp_path, "linreg", "three", seed=5, seeds=3)
    assert [r["seed"] for r in s["replicates"]] == [5, 6, 7]
    for r in s["replicates"]:
        single = _run(tmp_path, "linreg", f"seed{r['seed']}", seed=r["seed"])
        _assert_close(r["summary"], _strip(single))
        assert (tmp_path / "three" / "replicates" / f"seed-{r['seed']}" / "report.html").exists()
    diffs = [r["summary"]["max_abs_param_diff"] for r in s["replicates"]]
    assert s["max_abs_param_diff"] == pytest.approx(np.mean(diffs))
    st = s["stats"]["max_abs_param_diff"]
    assert st["n"] == 3 and st["ci95"][0] <= st["mean"] <= st["ci95"][1]
    rows = [json.loads(x) for x in (tmp_path / "three" / "metrics.jsonl").read_text().splitlines()]
    assert {r["seed"] for r in rows} == {5, 6, 7}
    assert (tmp_path / "three" / "figures" / "replicate-curves.csv").exists()


def _assert_close(got, want, path="summary"):
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for k in want:
            if not k.endswith("path"):  # files inside each run's own folder
                _assert_close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_close(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-7), path
    else:
        assert got == want, path


@pytest.mark.parametrize("exp,key", [("random-labels", "random_train_accuracy"),
                                     ("polyfit", "best_max_abs_coeff_error")])
def test_ensemble_replicates_equal_single_seed_runs(tmp_path, exp, key):
    s = _run(tmp_path, exp, "two", seed=3, seeds=2)
    assert replicates.spec(get(exp)).ensemble
    for r in s["replicates"]:
        _assert_close(r["summary"], _strip(_run(tmp_path, exp, f"seed{r['seed']}",
                                                seed=r["seed"])))
    assert s[key] == pytest.approx(np.mean([r["summary"][key] for r in s["replicates"]]))
    assert not (tmp_path / "two" / "replicates").exists()  # one ensemble, one folder


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "1001"])
def test_bad_seed_counts_exit_2_without_a_folder(tmp_path, value):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "trainlab", "run", "polyfit", "--preset",
                           "smoke", "--seeds", value, "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "--seeds" in proc.stderr
    assert not out.exists()


def test_an_ensemble_too_large_for_memory_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setattr(replicates, "_available_bytes", lambda device: 10 * 2**20)
    with pytest.raises(BadInput, match="GiB"):
        execute("random-labels", preset="smoke", seeds=50, out=tmp_path / "big")
    assert not (tmp_path / "big").exists()
