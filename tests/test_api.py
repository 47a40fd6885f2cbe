"""The Python API is the CLI's code path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import trainlab
from trainlab.errors import BadInput


def test_api_and_cli_give_identical_summaries(tmp_path):
    run = trainlab.run("polyfit", preset="smoke", runs_dir=tmp_path / "api", lrs=[0.1, 0.01])
    proc = subprocess.run([sys.executable, "-m", "trainlab", "run", "polyfit", "--preset",
                           "smoke", "--set", "lrs=[0.1, 0.01]", "--runs-dir",
                           str(tmp_path / "cli")], capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr
    cli_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert json.loads((cli_dir / "summary.json").read_text()) == run.summary


def test_load_and_repr_html(tmp_path):
    run = trainlab.run("polyfit", preset="smoke", runs_dir=tmp_path, title="<b>x</b>")
    again = trainlab.load(run.dir)
    assert again.summary == run.summary and again.status["state"] == "completed"
    assert again.config["config"]["title"] == "<b>x</b>"
    assert again.metrics and {"epoch", "split", "model", "loss"} <= set(again.metrics[0])
    assert [p.suffix for p in again.figures] == [".png"] * len(again.figures)
    page = again._repr_html_()
    assert "data:image/png;base64," in page and "http" not in page
    assert "best_lr" in page
    with pytest.raises(BadInput):
        trainlab.load(tmp_path / "nope")


def test_list_experiments():
    ids = [e["id"] for e in trainlab.list_experiments()]
    assert "polyfit" in ids


def test_sweep_from_python(tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('[epochs]\ntype = "categorical"\nchoices = [5, 20]\n')
    folder = trainlab.sweep("polyfit", sampler="grid", space=str(space), preset="smoke",
                            objective="best_max_abs_coeff_error", runs_dir=str(tmp_path))
    best = json.loads((folder / "best.json").read_text())
    assert best["params"]["epochs"] == 20  # more epochs get closer to the true coefficients
    assert (folder / "trials.csv").exists()
