"""`trainlab sweep EXP --sampler S --trials 2 --preset smoke` works for every experiment and
sampler with no other option: each experiment declares its objective, objectives and space.

The sweeps run in this process through `trainlab.sweep` with in-memory storage. A run
is a deterministic function of its experiment, config and seed, and the random, tpe and
ga samplers draw the same first points for the same seed (Optuna's TPE and NSGA-II
start from its random sampler), so `execute` is memoised per (experiment, config,
seed): each distinct run trains once and later trials get a copy of its folder. That
keeps 68 sweeps at about four smoke runs per experiment.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from optional_deps import require
from trainlab.registry import all_experiments

optuna = require("optuna")

SAMPLERS = ("grid", "random", "tpe", "ga")
IDS = [e.id for e in all_experiments()]
_RUNS: dict[str, object] = {}


@pytest.fixture
def memo_execute(monkeypatch):
    """engine.execute, run once per distinct (experiment, preset, sets, seed, config)."""
    from dataclasses import replace

    from trainlab.runner import execute
    from trainlab.sweeps import engine

    def run(exp_id, *, out, **kw):
        key = json.dumps([exp_id, kw.get("preset"), kw.get("sets"), kw.get("seed"),
                          str(kw.get("config_file"))], sort_keys=True, default=str)
        if key not in _RUNS:
            _RUNS[key] = execute(exp_id, out=out, **kw)
            return _RUNS[key]
        first = _RUNS[key]
        shutil.copytree(first.path, out, dirs_exist_ok=True)
        return replace(first, path=Path(out))

    monkeypatch.setattr(engine, "execute", run)


def _numbers(summary, pattern: str) -> list:
    """The values of `pattern` (`runs.#.final_loss`) in a summary, every index of a `#`."""
    values = [summary]
    for part in pattern.split("."):
        nxt = []
        for v in values:
            if part == "#" and isinstance(v, list):
                nxt += v
            elif part.isdigit() and isinstance(v, list) and int(part) < len(v):
                nxt.append(v[int(part)])
            elif isinstance(v, dict) and part in v:
                nxt.append(v[part])
        values = nxt
    return values


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("exp_id", IDS)
def test_sweep_with_declared_defaults(exp_id, sampler, tmp_path, memo_execute):
    import trainlab
    from trainlab.registry import get

    out = tmp_path / "sweep"
    folder = trainlab.sweep(exp_id, sampler=sampler, trials=2, preset="smoke", seed=0,
                            out=out, report=sampler == "tpe", echo=False)
    assert folder == out
    study = json.loads((out / "sweep.json").read_text())
    declared = get(exp_id).sweep
    assert study["objective"] == declared.objective
    assert study["direction"] == declared.direction
    assert set(study["space"]) == set(declared.space)
    trials = sorted(p for p in (out / "trials").iterdir())
    assert len(trials) == 2
    for trial in trials:
        summary = json.loads((trial / "summary.json").read_text())
        # every declared objective names numbers of the real summary
        for pattern in declared.objectives:
            found = _numbers(summary, pattern)
            assert found, (exp_id, pattern)
            assert all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                       for v in found), (exp_id, pattern, found[:3])
        value = _numbers(summary, declared.objective)[0]
        assert isinstance(value, (int, float)) and math.isfinite(value)
    if sampler == "tpe":
        best = json.loads((out / "best.json").read_text())
        assert best["objective"] == declared.objective and best["run_dir"].startswith("trials/")
