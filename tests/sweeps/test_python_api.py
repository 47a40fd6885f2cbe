"""`trainlab.sweep(...)`: typed options, no argv round trip, the caller's process untouched.

Values are checked against the test-only experiment's known objective
(tests/sweeps/sweep_fake.py); bad input must be refused before any folder exists.
"""

from __future__ import annotations

import csv
import importlib.util
import inspect
import json
import os

import pytest
import sweep_fake

import trainlab
from optional_deps import require
from trainlab.errors import BadInput, StopRun

optuna = require("optuna")

SPACE = {"x": {"type": "float", "low": -1.0, "high": 1.0},
         "y": {"type": "float", "low": -1.0, "high": 1.0},
         "opt": {"type": "categorical", "choices": ["a", "b"]}}


def test_sweep_stays_the_function_after_the_cli_is_built():
    from trainlab.cli import build_parser

    build_parser()  # used to import the module trainlab/sweep.py over the function
    assert inspect.isfunction(trainlab.sweep) and trainlab.sweep.__module__ == "trainlab.api"
    assert importlib.util.find_spec("trainlab.sweep") is None  # no module of that name
    params = inspect.signature(trainlab.sweep).parameters
    assert {"space", "objective", "direction", "storage", "sets", "report"} <= set(params)
    assert "Run a hyperparameter sweep" in (trainlab.sweep.__doc__ or "")


def test_typed_options_and_nothing_on_stdout(fake_exp, tmp_path, capsys):
    out = tmp_path / "sweep"
    folder = trainlab.sweep(fake_exp, sampler="random", trials=4, space=SPACE,
                            sets={"k": 3}, preset="smoke", seed=1, out=out, report=False)
    assert folder == out
    assert capsys.readouterr().out == ""  # the folder is returned, not printed and parsed
    assert not (out / "report.html").exists()  # report=False is a real boolean now
    with (out / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    for r in rows:  # sets={"k": 3} reached every trial as a typed value
        assert float(r["value"]) == pytest.approx(
            sweep_fake.objective(float(r["x"]), float(r["y"]), 3, r["opt"]), abs=1e-12)


def test_declared_defaults_need_no_options(fake_exp, tmp_path):
    out = trainlab.sweep(fake_exp, sampler="grid", preset="smoke", out=tmp_path / "g",
                         echo=False)
    info = json.loads((out / "sweep.json").read_text())
    assert info["objective"] == "value" and info["sets"] == {"k": 2}
    assert info["trials"] == 10  # 5 grid points of x times 2 choices
    best = json.loads((out / "best.json").read_text())
    assert best["value"] == pytest.approx(sweep_fake.objective(0.5, 0.0, 2, "a"))


@pytest.mark.parametrize("options,message", [
    ({"objective": "nested.nope"}, "not a number of sweep-fake's summary"),
    ({"objective": "nested.values"}, "not a number of sweep-fake's summary"),  # a list
    ({"direction": "minimise"}, "--direction minimise: choose minimize or maximize"),
    ({"space": {"nope": {"type": "float", "low": 0, "high": 1}}}, "unknown config key 'nope'"),
    ({"sampler": "anneal"}, "--sampler anneal: choose from"),
    ({"mutation_prob": 1.5}, "--mutation-prob 1.5: must be in [0, 1]"),
    ({"sets": {"x": 0.1}, "space": SPACE}, "--set x: the key is also in the search space"),
])
def test_bad_input_before_any_folder(fake_exp, tmp_path, options, message):
    out = tmp_path / "never"
    with pytest.raises(BadInput) as info:
        trainlab.sweep(fake_exp, **{"trials": 2, "preset": "smoke", "out": out, **options})
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not out.exists()


def test_objective_direction_comes_from_the_declaration(fake_exp, tmp_path):
    out = trainlab.sweep(fake_exp, sampler="random", trials=2, space=SPACE, objective="lr",
                         preset="smoke", out=tmp_path / "o", echo=False)
    assert json.loads((out / "sweep.json").read_text())["direction"] == "maximize"


def test_observers_reach_the_run_by_argument(fake_exp, tmp_path):
    """A pruner's signal is an observer passed to execute, not a module global."""
    from trainlab import runs
    from trainlab.runner import execute

    assert not hasattr(runs, "METRIC_OBSERVERS")
    seen = []

    def stop_at_two(rows):
        seen.extend(r["epoch"] for r in rows)
        if rows and rows[-1]["epoch"] == 2:
            raise StopRun("pruned by the sweep at epoch 2")

    outcome = execute(fake_exp, preset="smoke", out=tmp_path / "run", quiet=True,
                      progress=False, observers=[stop_at_two])
    assert seen == [1, 2] and outcome.state == "pruned" and outcome.exit_code == 3
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and status["reason"] == "pruned by the sweep at epoch 2"
    again = execute(fake_exp, preset="smoke", out=tmp_path / "free", quiet=True, progress=False)
    assert again.state == "completed"  # nothing is left behind in the module


def test_workers_leave_the_callers_environment_alone(tmp_path):
    before = dict(os.environ)
    out = trainlab.sweep("polyfit", sampler="random", trials=2, workers=2, preset="smoke",
                         storage=f"journal:{tmp_path / 'j.journal'}", out=tmp_path / "w",
                         sets={"epochs": 3}, echo=False)
    assert dict(os.environ) == before
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert sum(r["state"] == "COMPLETE" for r in rows) >= 2


def test_help_states_every_default():
    import argparse

    from trainlab.sweeps.command import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    helps = {a.dest: a.help or "" for a in parser._actions}
    for dest in ("objective", "study", "workers", "direction", "space", "preset", "trials"):
        assert "default" in helps[dest], (dest, helps[dest])
    assert "EXP-SAMPLER-TIMESTAMP" in helps["study"] and "default 1" in helps["workers"]
