"""Run folders: atomic files, unique folders, metrics truncation, JSON without NaN."""

import json
import os
import threading

import pytest
import torch

from trainlab.runs import (
    RunContext,
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
