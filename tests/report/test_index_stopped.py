"""A run killed with SIGKILL says "running" in status.json forever: the index tells the
truth from its `run.lock` (stopped, never linked to a missing report, no reload), and
its live report stops reloading. Headline keys carry tooltips; lists wrap between items."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from trainlab.registry import get
from trainlab.report.format import explain
from trainlab.report.html import key_values
from trainlab.report.site import REFRESH, index_html, write_index
from trainlab.report.style import CSS

LIVE = ("<!doctype html><html><head><meta http-equiv='refresh' content='2'>"
        "<title>r</title></head><body><main><h1>live</h1></main></body></html>")


def _dead_pid() -> int:
    """The pid of a process that has exited (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running(runs: Path, stamp: str, owner: int | None, report: str | None) -> Path:
    d = runs / "polyfit" / stamp
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"experiment": "polyfit", "preset": "smoke",
                                               "seed": 3, "config": {}}))
    (d / "status.json").write_text(json.dumps({"state": "running", "reason": None}))
    if owner is not None:
        (d / "run.lock").write_text(f"{owner} {socket.gethostname()}\n")
    if report is not None:
        (d / "report.html").write_text(report)
    return d


def test_killed_run_shows_stopped_without_a_link_or_reload(tmp_path):
    d = _running(tmp_path, "20261201-000000-aaaaaa", _dead_pid(), None)
    status = (d / "status.json").read_text()
    html = index_html(tmp_path)
    assert ("<span class='badge stopped'>stopped</span>" in html)
    assert (f"<p class='muted'>stopped (the process is gone; <code>trainlab resume {d}</code> "
            "continues it)</p>") in html
    assert "report.html" not in html  # nothing to link to
    assert REFRESH not in html
    assert "badge running" not in html
    assert (d / "status.json").read_text() == status  # resume relies on it


def test_run_without_a_lock_is_stopped_and_a_live_owner_is_running(tmp_path):
    gone = _running(tmp_path, "20261201-000000-aaaaaa", None, LIVE)
    alive = _running(tmp_path, "20261201-000001-bbbbbb", os.getpid(), LIVE)
    html = index_html(tmp_path)
    assert (f"<p><span class='badge running'>running</span> "
            f"<span class='muted'>{alive.name}</span></p>") in html
    assert (f"<a href='polyfit/{gone.name}/report.html'>{gone.name}</a> "
            f"<span class='stopped'>stopped</span> <span class='muted'>(the process is gone; "
            f"<code>trainlab resume {gone}</code> continues it)</span>") in html
    assert REFRESH in html  # one run is alive


def test_write_index_settles_the_live_report_of_a_stopped_run_only(tmp_path):
    gone = _running(tmp_path, "20261201-000000-aaaaaa", _dead_pid(), LIVE)
    alive = _running(tmp_path, "20261201-000001-bbbbbb", os.getpid(), LIVE)
    write_index(tmp_path)
    assert (gone / "report.html").read_text() == (
        "<!doctype html><html><head><title>r</title></head><body><main><p class='hint'>"
        "<span class='badge stopped'>stopped</span> (the process is gone; <code>trainlab "
        f"resume {gone}</code> continues it): what follows is its last live update.</p>"
        "<h1>live</h1></main></body></html>")
    assert (alive / "report.html").read_text() == LIVE
    before = (gone / "report.html").read_text()
    write_index(tmp_path)  # once static, left alone
    assert (gone / "report.html").read_text() == before


def test_lists_wrap_between_items_only():
    assert "anywhere" not in CSS and ".item { white-space:nowrap; }" in CSS
    assert key_values([("r", [0.125, 1e-06])]) == (
        "<dl class='kv'><dt>r</dt><dd>[<span class='item'>0.125</span>, "
        "<span class='item'>1.000e-06</span>]</dd></dl>")


def test_headline_tooltips_come_from_the_declaration_or_the_key():
    assert key_values([("a", 1)], {"a": "x < y"}) == (
        "<dl class='kv'><dt title='x &lt; y'>a</dt><dd>1</dd></dl>")
    assert explain("best_test_error") == (
        "best_test_error: percent of examples misclassified, 100 x (1 - accuracy); best over "
        "the settings compared; on the held-out test set")
    assert explain("n_saddle") == "n_saddle: number of saddle"
    assert explain("final_loss") == "final_loss: value of the loss; at the end of training"
    declared = get("weight-pca").headline_help
    assert set(declared) == set(get("weight-pca").headline)


def test_weight_pca_card_uses_its_declared_tooltips(tmp_path):
    d = tmp_path / "weight-pca" / "20261201-000000-aaaaaa"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"experiment": "weight-pca", "preset": "smoke",
                                               "seed": 1, "config": {}}))
    (d / "status.json").write_text(json.dumps({"state": "completed"}))
    (d / "summary.json").write_text(json.dumps({"explained_variance_ratio": [0.5, 0.25],
                                                "trajectory_explained_variance_ratio": [0.9]}))
    html = index_html(tmp_path)
    text = get("weight-pca").headline_help["explained_variance_ratio"]
    assert (f"<dt title='explained_variance_ratio: {text}'>explained_variance_ratio</dt><dd>["
            "<span class='item'>0.5</span>, <span class='item'>0.25</span>]</dd>") in html


def test_resume_of_a_stopped_run_updates_the_index(tmp_path):
    from trainlab.runner import execute, resume

    out = execute("polyfit", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                  keep_checkpoints=True)  # what resume continues from
    status = json.loads((out.path / "status.json").read_text())
    status.update(state="running", finished=None)  # as a kill -9 leaves it
    (out.path / "status.json").write_text(json.dumps(status))
    write_index(tmp_path)
    assert "badge stopped" in (tmp_path / "index.html").read_text()
    assert resume(out.path, quiet=True, progress=False).state == "completed"
    html = (tmp_path / "index.html").read_text()
    assert "badge stopped" not in html and "the process is gone" not in html
    assert "<span class='badge completed'>completed</span>" in html
