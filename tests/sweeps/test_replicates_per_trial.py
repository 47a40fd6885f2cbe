"""`--seeds N` on a sweep: each trial's value is the mean over N replicates.

The oracle is the trial's own run folder: its summary.json keeps every replicate's
summary (`replicates`), so the trial's value must be the mean of their objectives and
its user attributes must hold each of them and scipy's Student-t 95 % interval.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sweep_fake
from study_capture import capture_study

import trainlab
from optional_deps import require

optuna = require("optuna")
scipy_stats = require("scipy.stats")


def _t_interval(values: list[float]) -> list[float]:
    v = np.asarray(values, dtype=float)
    half = scipy_stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return [float(v.mean() - half), float(v.mean() + half)]




def _check_trial(trial, out, objective: str, n: int) -> list[float]:
    run = out / "trials" / str(trial.number)
    summary = json.loads((run / "summary.json").read_text())
    reps = summary["replicates"]
    values = [float(r["summary"][objective]) for r in reps]
    assert len(values) == n
    assert trial.value == pytest.approx(float(np.mean(values)), rel=1e-12, abs=1e-12)
    u = trial.user_attrs
    assert u["replicate_values"] == pytest.approx(values, rel=1e-12)
    assert u["replicate_seeds"] == [r["seed"] for r in reps]
    assert u["replicate_ci95"] == pytest.approx(_t_interval(values), rel=1e-9)
    assert u["replicate_std"] == pytest.approx(float(np.std(values, ddof=1)), rel=1e-9)
    return values


def test_replicates_one_after_another(fake_exp, tmp_path, monkeypatch):
    """The test experiment runs its replicates in separate folders; value = objective +
    seed_term·seed, so three seeds 5, 6, 7 give known, different values."""
    studies = capture_study(monkeypatch)
    out = trainlab.sweep(fake_exp, sampler="random", trials=2, preset="smoke", seed=5,
                         seeds=3, sets={"seed_term": 0.25}, out=tmp_path / "s",
                         echo=False, report=False)
    assert json.loads((out / "sweep.json").read_text())["seeds"] == 3
    trials = studies[0].get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 2
    for t in trials:
        values = _check_trial(t, out, "value", 3)
        base = sweep_fake.objective(t.params["x"], 0.0, 2, t.params["opt"])
        assert values == pytest.approx([base + 0.25 * s for s in (5, 6, 7)], abs=1e-12)
        assert (out / "trials" / str(t.number) / "replicates" / "seed-7").is_dir()


def test_replicates_as_one_ensemble(tmp_path, monkeypatch):
    """polyfit trains its replicates as members of one ensemble (REPLICATES ensemble)."""
    studies = capture_study(monkeypatch)
    out = trainlab.sweep("polyfit", sampler="random", trials=1, preset="smoke", seed=0,
                         seeds=2, out=tmp_path / "p", echo=False, report=False)
    (trial,) = studies[0].get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    values = _check_trial(trial, out, "best_max_abs_coeff_error", 2)
    assert values[0] != values[1]  # two seeds, two different fits
    assert not (out / "trials" / "0" / "replicates").exists()  # one run, one ensemble


@pytest.mark.parametrize("text", ["0", "-1", "abc"])
def test_bad_seeds_exit_2_before_any_folder(fake_exp, tmp_path, capsys, text):
    from trainlab.cli import main

    out = tmp_path / "never"
    code = main(["sweep", fake_exp, "--sampler", "random", "--trials", "2", "--preset",
                 "smoke", "--seeds", text, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("trainlab: error: --seeds")
    assert not out.exists()
