"""Run folders and the run context: atomic files, unique folders, metrics truncation,
JSON without NaN, metric observers, figures written and added to the report."""

import json
import os
import threading

import pytest
import torch

from trainlab import runs
from trainlab.report import Figure
from trainlab.run_context import RunContext
from trainlab.run_folder import (
    atomic_write_json,
    atomic_write_text,
    new_run_dir,
    read_metrics,
    to_json,
)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"x": 1})
    atomic_write_json(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_write_keeps_old_content(tmp_path, monkeypatch):
    path = tmp_path / "s.txt"
    atomic_write_text(path, "old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.txt"]


def test_json_has_no_nan_and_accepts_tensors():
    text = to_json({"a": float("nan"), "b": torch.tensor([1.0, float("inf")]), "c": [1, 2]})
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": [1, 2]}


def test_concurrent_runs_never_share_a_folder(tmp_path):
    made = []

    def make():
        for _ in range(20):
            made.append(new_run_dir(tmp_path, "exp"))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 80 and len(set(made)) == 80


def test_truncate_metrics_drops_rows_after_checkpoint(tmp_path):
    ctx = RunContext(tmp_path, "t", torch.device("cpu"), 0)
    ctx.log([{"fit": "a", "epoch": e, "split": "train", "model": "m", "loss": 1.0}
             for e in range(1, 6)])
    ctx.log([{"fit": "b", "epoch": 9, "split": "train", "model": "m", "loss": 1.0}])
    with ctx.metrics_path.open("a") as fh:
        fh.write('{"fit": "a", "epo')  # a line cut by kill -9
    ctx.truncate_metrics("a", 3)
    rows = read_metrics(ctx.metrics_path)
    assert [(r["fit"], r["epoch"]) for r in rows] == [("a", 1), ("a", 2), ("a", 3), ("b", 9)]


def test_observers_see_every_logged_batch(tmp_path):
    seen = []
    ctx = RunContext(tmp_path, "t", torch.device("cpu"), 0, observers=[seen.append])
    ctx.log([{"epoch": 1, "loss": 0.5}])
    ctx.log(iter([{"epoch": 2, "loss": 0.25}, {"epoch": 2, "loss": 0.125}]))
    assert not hasattr(runs, "METRIC_OBSERVERS")  # observers come by argument only
    assert [len(b) for b in seen] == [1, 2]
    assert [r["loss"] for r in read_metrics(ctx.metrics_path)] == [0.5, 0.25, 0.125]


def test_figure_is_written_and_added_to_the_report(tmp_path):
    import matplotlib.pyplot as plt

    ctx = RunContext(tmp_path, "t", torch.device("cpu"), 0)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = ctx.figure(fig, "a b/c", "falling line")
    assert png == tmp_path / "figures" / "a-b-c.png"
    (block,) = ctx.report.blocks
    assert isinstance(block, Figure) and block.name == "a-b-c"
    assert png.read_bytes() == block.png and png.read_bytes()[:4] == b"\x89PNG"
    assert png.with_suffix(".svg").read_bytes() == block.svg
    assert fig.number not in plt.get_fignums()  # the figure was closed
