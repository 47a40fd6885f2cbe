"""The example file that `trainlab show EXP` prints for each file-reading experiment is read."""

from __future__ import annotations

import importlib

import pytest

from trainlab.cli import main
from trainlab.data import read_csv_table

TABLE_EXPERIMENTS = {"linreg": "linreg", "curvefit": "curvefit", "height-weight": "height_weight"}


@pytest.mark.parametrize("exp_id", [*TABLE_EXPERIMENTS, "mnist"])
def test_show_prints_what_the_experiment_accepts(exp_id, capsys):
    assert main(["show", exp_id]) == 0
    out = capsys.readouterr().out
    assert "input files:" in out and ("data.path" in out or "data.root" in out)


@pytest.mark.parametrize("exp_id", list(TABLE_EXPERIMENTS))
def test_the_shown_two_line_example_is_a_table_the_reader_accepts(exp_id, tmp_path):
    module = importlib.import_module(f"trainlab.experiments.{TABLE_EXPERIMENTS[exp_id]}")
    example = [line.strip() for line in module.INPUT_FORMAT.splitlines()
               if line.startswith("    ")]
    assert len(example) == 2, example
    path = tmp_path / "example.csv"
    path.write_text("\n".join(example) + "\n")
    table = read_csv_table(path, classes=exp_id == "height-weight")
    assert len(table) == 1 and table.columns == example[0].split(",")
