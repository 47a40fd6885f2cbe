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


def test_identical_individuals_reuse_the_value(fake_exp, tmp_path, capsys):
    """The GA breeds the same individual again: its stored value is reused, not retrained."""
    out = trainlab.sweep(fake_exp, sampler="ga", trials=8, population=2, preset="smoke",
                         space={"opt": {"type": "categorical", "choices": ["a", "b"]}},
                         seed=0, out=tmp_path / "ga", report=True)
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 8 and all(r["state"] == "COMPLETE" for r in rows)
    ran = {r["opt"]: r for r in rows if not r["note"]}  # trained: one per distinct individual
    assert len(list((out / "trials").iterdir())) == len(ran) <= 2
    for r in rows:
        assert float(r["value"]) == pytest.approx(sweep_fake.objective(0.0, 0.0, 1, r["opt"]))
        if r["note"]:
            assert r["note"].startswith(f"same parameters as trial {ran[r['opt']]['number']}")
            assert r["run_dir"] == ran[r["opt"]]["run_dir"] and r["seconds"] == ""
    best = json.loads((out / "best.json").read_text())
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == (f"trainlab sweep: best trial {best['trial']}: value = "
                         f"{best['value']:.6g} (opt={best['params']['opt']}) -> "
                         f"{out / best['run_dir']}")  # the closing line names the best
    page = (out / "report.html").read_text()
    assert "mutation prob default (1/1" in page  # not 'null'


def test_a_shared_study_refuses_other_fixed_settings(fake_exp, tmp_path):
    journal = f"journal:{tmp_path / 'j.journal'}"
    common = {"sampler": "random", "trials": 2, "space": SPACE, "storage": journal,
              "study": "shared", "echo": False, "report": False}
    trainlab.sweep(fake_exp, preset="smoke", out=tmp_path / "a", **common)
    for other, message in [({"sets": {"k": 3}}, "sets {} , not {'k': 3}"),
                           ({"seed": 4}, "seed None, not 4"),
                           ({"seeds": 2}, "seeds 1, not 2")]:
        with pytest.raises(BadInput) as info:
            trainlab.sweep(fake_exp, preset="smoke", out=tmp_path / "b", **common, **other)
        assert "exists with other fixed settings" in str(info.value)
        assert message.replace(" ,", ",") in str(info.value)
        assert not (tmp_path / "b").exists()
    config = tmp_path / "c.toml"
    config.write_text("epochs = 5\n")
    with pytest.raises(BadInput, match="config epochs different"):
        trainlab.sweep(fake_exp, preset="smoke", config_file=config, out=tmp_path / "b",
                       **common)
    config.write_text("epochs = 3\n")  # the smoke preset's value: the same trials
    trainlab.sweep(fake_exp, preset="smoke", config_file=config, out=tmp_path / "a", **common)


def test_an_interrupted_multi_worker_sweep_still_reports(fake_exp, tmp_path, monkeypatch):
    """Ctrl-C while workers run: the parent writes trials.csv, best.json and report.html."""
    from trainlab.sweeps import engine, workers
    from trainlab.sweeps.storage import Liveness

    def one_trial_then_ctrl_c(s, study):
        engine.work(s, study, Liveness(None, 1, 3), echo=False)  # as a worker would
        raise KeyboardInterrupt

    monkeypatch.setattr(workers, "run_workers", one_trial_then_ctrl_c)
    out = tmp_path / "w"
    with pytest.raises(KeyboardInterrupt):
        trainlab.sweep(fake_exp, sampler="random", trials=2, workers=2, space=SPACE,
                       storage=f"journal:{tmp_path / 'j.journal'}", preset="smoke", out=out)
    for name in ("trials.csv", "best.json", "report.html"):
        assert (out / name).is_file(), name
    assert json.loads((out / "best.json").read_text())["trial"] is not None


def test_sweep_figures_do_not_mislead(fake_exp, tmp_path, monkeypatch):
    """Failed trials are bands (no value), log ticks are labelled at decades only, and
    the parallel-coordinate plot has one line per completed trial; trial rows link only
    to run reports that exist."""
    import matplotlib.ticker

    from trainlab.sweeps import figures

    kept = {}
    real_save = figures._save

    def keep(fig, root, name):
        kept[name] = fig
        return real_save(fig, root, name)

    monkeypatch.setattr(figures, "_save", keep)
    monkeypatch.setattr("matplotlib.pyplot.close", lambda fig=None: None)
    space = {**SPACE, "k": {"type": "int", "low": 1, "high": 64, "log": True}}
    out = trainlab.sweep(fake_exp, sampler="random", trials=5, space=space, preset="smoke",
                         seed=2, sets={"fail_above": 0.0}, out=tmp_path / "f", echo=False)
    rows = list(csv.DictReader((out / "trials.csv").open()))
    failed = {int(r["number"]) for r in rows if r["state"] == "FAIL"}
    done = [r for r in rows if r["state"] == "COMPLETE"]
    assert failed and len(done) == 5
    ax = kept["history"].axes[0]
    for line in ax.get_lines():
        xs = list(line.get_xdata())
        if any(x in failed for x in xs):  # drawn across the whole axis, not at a value
            assert len(set(xs)) == 1 and list(line.get_ydata()) == [0, 1]
    for coll in ax.collections:  # the points are the completed trials only
        assert {int(x) for x, _ in coll.get_offsets()} <= {int(r["number"]) for r in done}
    k_axis = next(a for a in kept["slice"].axes if a.get_xlabel() == "k")
    assert k_axis.get_xscale() == "log"
    assert isinstance(k_axis.xaxis.get_minor_formatter(), matplotlib.ticker.NullFormatter)
    assert len(kept["parallel"].axes[0].get_lines()) == len(done) + len(space) + 1  # + rules
    assert (out / "figures" / "parallel.png").is_file()
    page = (out / "report.html").read_text()
    assert "Parallel coordinates" in page
    for r in rows:
        linked = f"{r['run_dir']}/report.html" in page
        assert linked == (out / r["run_dir"] / "report.html").is_file(), r
