"""`trainlab sweep`: the search space, in-memory sweeps of every sampler, pruning, bad input.

Trials run a test-only experiment whose objective is a known function of its config
(tests/sweeps/sweep_fake.py), so values can be checked exactly. Multi-process sweeps on
PostgreSQL and journal storages are in tests/sweeps/.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "sweeps"))

import sweep_fake  # noqa: E402
from sweep_fake import SPACE, write_space  # noqa: E402

from optional_deps import require  # noqa: E402
from trainlab.errors import BadInput  # noqa: E402
from trainlab.registry import get  # noqa: E402
from trainlab.sweeps import space as sp  # noqa: E402

require("optuna")



@pytest.fixture
def fake_exp():
    sweep_fake.register()
    yield sweep_fake.EXP_ID
    sweep_fake.unregister()


def _sweep(capsys, *args: str) -> tuple[int, str, str]:
    from trainlab.cli import main

    code = main(["sweep", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows(folder: Path) -> list[dict]:
    with (folder / "trials.csv").open() as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ the space


def _params(text: str, tmp_path: Path):
    path = write_space(tmp_path / "s.toml", text)
    return sp.build_space(sp.read_space_file(path), get(sweep_fake.EXP_ID), str(path))


def test_space_parses_nested_keys_lists_and_grids(fake_exp, tmp_path):
    params = _params("""
[x]
type = "float"
low = 0.001
high = 10.0
log = true
n = 3
[k]
type = "int"
low = 1
high = 9
step = 4
[lrs]
type = "float"
low = 0.0
high = 1.0
step = 0.25
[opt]
type = "categorical"
choices = ["b", "a"]
""", tmp_path)
    by = {p.key: p for p in params}
    assert by["x"].grid_values() == pytest.approx([0.001, 0.1, 10.0])
    assert by["k"].grid_values() == [1, 5, 9]
    assert by["lrs"].grid_values() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert by["lrs"].wrap and by["lrs"].config_value(0.5) == [0.5]
    assert by["opt"].grid_values() == ["b", "a"] and not by["opt"].wrap
    assert by["x"].distribution().log


@pytest.mark.parametrize("text,message", [
    ('[nope]\ntype="float"\nlow=0\nhigh=1', "unknown config key 'nope'"),
    ('[x]\ntype="float"\nlow=1\nhigh=1', "must be below 'high'"),
    ('[x]\ntype="float"\nlow=0\nhigh=1\nlog=true', "log distribution needs low > 0"),
    ('[x]\ntype="float"\nlow=0', "missing 'high'"),
    ('[x]\nlow=0\nhigh=1', "missing 'type'"),
    ('[x]\ntype="normal"\nlow=0\nhigh=1', "unknown type 'normal'"),
    ('[x]\ntype="float"\nlow=0\nhigh=1\nstep=-1', "'step' must be > 0"),
    ('[k]\ntype="int"\nlow=0.5\nhigh=3', "must be an integer"),
    ('[opt]\ntype="categorical"\nchoices=[]', "non-empty list"),
    ('[x]\ntype="float"\nlow=0\nhigh=1\nmean=3', "unknown field(s) mean"),
    ('[x]\ntype="float"\nlow=0\nhigh="1"', "'high' must be a number"),
    ('x = 3', "expected a table"),
])
def test_invalid_spaces_are_bad_input(fake_exp, tmp_path, text, message):
    with pytest.raises(BadInput, match=None) as info:
        _params(text, tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_values_the_config_rejects_are_bad_input(fake_exp, tmp_path):
    params = _params('[k]\ntype="int"\nlow=0\nhigh=3', tmp_path)  # k must be > 0
    with pytest.raises(BadInput, match=r"space \[k\]: value 0 is not valid"):
        sp.check_values(params, get(fake_exp), "smoke", None, {}, None)


def test_default_spaces(fake_exp):
    exp = get(fake_exp)
    tables, source, fixed = sp.default_space(exp)
    assert set(tables) == {"x", "opt"} and "declared" in source and fixed == {"k": 2}
    assert set(sp.derived_space(exp)) == {"lrs"}
    mnist = get("mnist")  # the genetic-algorithm exercise lives in mnist's own file
    tables, _, fixed = sp.default_space(mnist)
    assert set(tables) == {"batch_size", "lr", "gamma", "weight_decay"}
    assert fixed == {"epochs": 1} and mnist.sweep.objective == "test_loss"


# ------------------------------------------------------------ in-memory sweeps


def test_random_sweep_values_are_the_known_function(fake_exp, tmp_path, capsys):
    space = write_space(tmp_path / "space.toml", SPACE)
    out = tmp_path / "sweep"
    code, stdout, _ = _sweep(capsys, fake_exp, "--sampler", "random", "--trials", "8",
                             "--space", str(space), "--out", str(out), "--preset", "smoke",
                             "--seed", "1")
    assert code == 0
    assert stdout.strip().splitlines()[-1] == str(out)
    rows = _rows(out)
    assert len(rows) == 8 and all(r["state"] == "COMPLETE" for r in rows)
    for r in rows:
        expected = sweep_fake.objective(float(r["x"]), float(r["y"]), 1, r["opt"])
        assert float(r["value"]) == pytest.approx(expected, abs=1e-12)
        summary = json.loads((out / r["run_dir"] / "summary.json").read_text())
        assert summary["value"] == pytest.approx(expected, abs=1e-12)
    best = json.loads((out / "best.json").read_text())
    assert set(best) >= {"value", "params", "trial", "run_dir", "objective", "direction"}
    assert best["value"] == pytest.approx(min(float(r["value"]) for r in rows))
    assert best["objective"] == "value" and best["direction"] == "minimize"
    assert best["value"] == pytest.approx(sweep_fake.objective(**best["params"]))
    assert best["run_dir"] == f"trials/{best['trial']}"  # relative, as in trials.csv
    for name in ("history", "slice", "importance"):
        assert (out / "figures" / f"{name}.png").is_file()
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "<script" not in page


def test_same_seed_same_sweep(fake_exp, tmp_path, capsys):
    space = write_space(tmp_path / "space.toml", SPACE)
    values = []
    for name in ("a", "b"):
        code, _, _ = _sweep(capsys, fake_exp, "--sampler", "tpe", "--trials", "5", "--space",
                            str(space), "--out", str(tmp_path / name), "--preset", "smoke",
                            "--seed", "7")
        assert code == 0
        values.append([r["value"] for r in _rows(tmp_path / name)])
    assert values[0] == values[1]


def test_failed_and_diverged_trials_do_not_stop_the_sweep(fake_exp, tmp_path, capsys):
    space = write_space(tmp_path / "space.toml", SPACE)
    out = tmp_path / "sweep"
    code, _, err = _sweep(capsys, fake_exp, "--sampler", "random", "--trials", "6", "--space",
                          str(space), "--out", str(out), "--preset", "smoke", "--seed", "2",
                          "--set", "fail_above=0.0", "--set", "nan_above=0.5")
    assert code == 0, err
    rows = _rows(out)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert len(complete) == 6 and failed
    assert all(float(r["x"]) <= 0.0 and float(r["y"]) <= 0.5 for r in complete)
    for r in failed:
        assert float(r["x"]) > 0.0 or float(r["y"]) > 0.5
        assert "fail_above" in r["note"] or "not finite" in r["note"]


def test_grid_visits_every_point_once(fake_exp, tmp_path, capsys):
    space = write_space(tmp_path / "space.toml", """
[x]
type = "float"
low = 0.0
high = 1.0
step = 0.5
[opt]
type = "categorical"
choices = ["a", "b"]
""")
    out = tmp_path / "grid"
    code, _, _ = _sweep(capsys, fake_exp, "--sampler", "grid", "--space", str(space),
                        "--out", str(out), "--preset", "smoke")
    assert code == 0
    points = sorted((float(r["x"]), r["opt"]) for r in _rows(out))
    assert points == sorted((x, o) for x in (0.0, 0.5, 1.0) for o in ("a", "b"))
    assert json.loads((out / "sweep.json").read_text())["trials"] == 6


def test_ga_population_per_generation(fake_exp, tmp_path, capsys):
    space = write_space(tmp_path / "space.toml", SPACE)
    out = tmp_path / "ga"
    code, _, _ = _sweep(capsys, fake_exp, "--sampler", "ga", "--trials", "16",
                        "--population", "4", "--crossover", "blxalpha", "--mutation-prob",
                        "0.3", "--space", str(space), "--out", str(out), "--preset", "smoke",
                        "--seed", "3")
    assert code == 0
    rows = _rows(out)
    assert len(rows) == 16
    generations = [int(r["generation"]) for r in rows]
    assert generations[:4] == [0, 0, 0, 0] and max(generations) >= 3
    assert (out / "figures" / "ga-population.png").is_file()
    assert (out / "figures" / "ga-fitness.png").is_file()
    page = (out / "report.html").read_text()
    assert "Genetic algorithm" in page and "best 30 %" in page


def test_pruning_stops_bad_trials(fake_exp, tmp_path, capsys):
    space = write_space(tmp_path / "space.toml", SPACE)
    out = tmp_path / "pruned"
    code, _, err = _sweep(capsys, fake_exp, "--sampler", "random", "--trials", "14",
                          "--space", str(space), "--out", str(out), "--preset", "smoke",
                          "--seed", "4", "--pruner", "median", "--objective", "val_loss")
    assert code == 0, err
    rows = _rows(out)
    pruned = [r for r in rows if r["state"] == "PRUNED"]
    assert pruned and len([r for r in rows if r["state"] in ("COMPLETE", "PRUNED")]) == 14
    status = json.loads((out / pruned[0]["run_dir"] / "status.json").read_text())
    assert "pruned by the sweep" in status["reason"]


def test_missing_objective_key_is_bad_input(fake_exp, tmp_path, capsys):
    code, _, err = _sweep(capsys, fake_exp, "--sampler", "random", "--trials", "3",
                          "--objective", "nested.nope", "--out", str(tmp_path / "o"),
                          "--preset", "smoke")
    assert code == 2
    assert "nested.nope: not a number of sweep-fake's summary" in err
    assert "nested.values.#" in err and "val_loss" in err
    assert not (tmp_path / "o").exists()  # refused before any folder or trial


def test_polyfit_sweep_writes_the_folder(tmp_path, capsys):
    code, stdout, _ = _sweep(capsys, "polyfit", "--sampler", "tpe", "--trials", "2",
                             "--preset", "smoke", "--objective", "runs.0.final_loss",
                             "--set", "epochs=3", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0
    folder = Path(stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path / "runs" / "sweeps"
    assert (folder / "best.json").is_file() and (folder / "trials" / "0" / "summary.json").is_file()
    assert "sweeps/" in (tmp_path / "runs" / "index.html").read_text()


# --------------------------------------------------------------- bad input (CLI)


BAD_INPUTS = [  # (space, extra options, expected message)
    ('[nope]\ntype="float"\nlow=0\nhigh=1', [], "unknown config key 'nope'"),
    ('[x]\ntype="float"\nlow=2\nhigh=1', [], "'low' (2) must be below 'high' (1)"),
    ('[x]\ntype="float"\nlow=0\nhigh=1\nlog=true', [], "log distribution needs low > 0"),
    (SPACE, ["--storage", "postgresql://u:pw@127.0.0.1:9/db"], "cannot connect"),
    (SPACE, ["--workers", "2"], "several workers need a shared storage"),
    (SPACE, ["--storage", "mysql://x"], "expected journal:PATH"),
]


def test_bad_input_exits_2_with_one_line(tmp_path):
    """Each case in its own CLI process (run side by side: each start imports torch)."""
    procs = []
    for i, (space, extra, _) in enumerate(BAD_INPUTS):
        path = write_space(tmp_path / f"space{i}.toml", space)
        procs.append(subprocess.Popen(
            [sys.executable, str(sweep_fake.CLI), "sweep", sweep_fake.EXP_ID, "--sampler",
             "tpe", "--trials", "2", "--space", str(path), "--out", str(tmp_path / f"out{i}"),
             "--preset", "smoke", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=tmp_path, env=sweep_fake.cli_env()))
    for i, (proc, (_, _, message)) in enumerate(zip(procs, BAD_INPUTS, strict=True)):
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 2, (message, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in stderr, stderr
        assert lines[0].startswith("trainlab: error: ") and message in lines[0], lines[0]
        assert "pw@" not in lines[0]  # passwords are never printed
        assert stdout == "" and not (tmp_path / f"out{i}").exists()
