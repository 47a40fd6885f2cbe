"""Several worker processes on one study (PostgreSQL and journal), one of them SIGKILLed.

The killed worker's trial must turn FAIL through the heartbeat, the other workers must
make up for it (its retry completes), the study must reach its target of finished
trials, no trial may be left RUNNING or WAITING, and a grid must be covered exactly
once. Every completed value is checked against the known objective of the test-only
experiment.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_fake
from sweep_fake import SPACE, run_cli, write_space

from optional_deps import require

optuna = require("optuna")
from optuna.trial import TrialState  # noqa: E402

GRID_SPACE = """
[x]
type = "float"
low = 0.0
high = 1.0
grid = [0.0, 0.5, 1.0]
[k]
type = "int"
low = 1
high = 2
[opt]
type = "categorical"
choices = ["a", "b"]
"""
GRID_POINTS = {(x, k, o) for x, k, o in itertools.product([0.0, 0.5, 1.0], [1, 2], ["a", "b"])}


def _storage(kind: str, request, tmp_path: Path) -> str:
    if kind == "postgres":
        return request.getfixturevalue("postgres_url")
    return f"journal:{tmp_path / 'study.journal'}"


def _load(url: str, name: str):
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:"):]))
    else:
        storage = optuna.storages.RDBStorage(url.replace("postgresql://",
                                                         "postgresql+psycopg://", 1))
    return optuna.load_study(study_name=name, storage=storage)


def _kill_one_running_trial(out: Path, parent: subprocess.Popen, timeout: float = 120):
    """SIGKILL the worker process of the first trial seen running; (trial number, pid)."""
    deadline = time.time() + timeout
    while time.time() < deadline and parent.poll() is None:
        for status in sorted(out.glob("trials/*/status.json")):
            try:
                state = json.loads(status.read_text())["state"]
                pid = json.loads((status.parent / "env.json").read_text())["pid"]
            except (OSError, ValueError, KeyError):
                continue
            if state == "running" and pid != parent.pid:
                os.kill(pid, signal.SIGKILL)
                return int(status.parent.name), pid
        time.sleep(0.02)
    raise AssertionError("no running trial of a worker was seen")


# Each storage once (workers start slowly on a loaded 2-core machine): the grid on
# PostgreSQL also checks that concurrent workers never share a point.
@pytest.mark.parametrize("kind,sampler", [("postgres", "grid"), ("journal", "random")])
def test_three_workers_one_killed(kind, sampler, request, tmp_path):
    url = _storage(kind, request, tmp_path)
    space = write_space(tmp_path / "space.toml", GRID_SPACE if sampler == "grid" else SPACE)
    out = tmp_path / "sweep"
    study = f"kill-{kind}-{sampler}"
    target = len(GRID_POINTS) if sampler == "grid" else 9
    cmd = [sys.executable, str(sweep_fake.CLI), "sweep", sweep_fake.EXP_ID, "--sampler", sampler,
           "--trials", str(target), "--workers", "3", "--storage", url, "--study", study,
           "--space", str(space), "--out", str(out), "--preset", "smoke", "--seed", "5",
           "--set", "sleep=0.6", "--heartbeat-interval", "1", "--grace-period", "3"]
    parent = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path, env=sweep_fake.cli_env())
    try:
        killed, pid = _kill_one_running_trial(out, parent)
        stdout, stderr = parent.communicate(timeout=150)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == str(out)
    assert "-9" in stderr  # the parent saw its worker die

    trials = _load(url, study).get_trials()
    states = {t.number: t.state for t in trials}
    assert set(states.values()) <= {TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED}
    assert states[killed] == TrialState.FAIL
    assert "fail_reason" not in trials[killed].user_attrs  # failed by the heartbeat
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == trials[killed].params
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert target <= len(done) <= target + 2
    assert len({t.number for t in trials}) == len(trials)
    ran = [t for t in trials if "run_dir" in t.user_attrs]
    assert len({t.user_attrs["run_dir"] for t in ran}) == len(ran)
    for t in trials:  # a trial that never ran: a worker lost a race for the last point
        assert "run_dir" in t.user_attrs or (t.state == TrialState.FAIL
                                             and "skipped" in t.user_attrs), t
    for t in done:  # every value is the known function of the trial's parameters
        expected = sweep_fake.objective(t.params["x"], t.params.get("y", 0.0),
                                        t.params.get("k", 1), t.params["opt"])
        assert t.value == pytest.approx(expected, abs=1e-12)
        summary = json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())
        assert summary["value"] == pytest.approx(t.value, abs=1e-12)
    if sampler == "grid":
        points = [(t.params["x"], t.params["k"], t.params["opt"]) for t in done]
        assert len(points) == len(set(points)) == len(GRID_POINTS)
        assert set(points) == GRID_POINTS
    with (out / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(int(r["number"]) for r in rows) == sorted(states)
    best = json.loads((out / "best.json").read_text())
    assert best["value"] == pytest.approx(min(t.value for t in done))
    assert (out / "report.html").is_file() and (out / "figures" / "history.png").is_file()
    # the killed trial's folder is not left "running", and nothing links its missing report
    dead = json.loads((out / "trials" / str(killed) / "status.json").read_text())
    assert dead["state"] == "failed" and "heartbeat" in dead["reason"]
    assert not (out / "trials" / str(killed) / "report.html").exists()
    assert f"trials/{killed}/report.html" not in (out / "report.html").read_text()
    row = next(r for r in rows if int(r["number"]) == killed)
    assert row["seconds"] == ""  # no run time for a trial that never ended


def test_wrong_password_is_bad_input(postgres_url, tmp_path):
    url = postgres_url.replace(sweep_fake_password(postgres_url), "not-the-password")
    res = run_cli("sweep", sweep_fake.EXP_ID, "--sampler", "random", "--trials", "2",
                  "--storage", url, "--out", str(tmp_path / "out"), "--preset", "smoke",
                  cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "password" in lines[0].lower() and "not-the-password" not in lines[0]
    assert not (tmp_path / "out").exists()


def sweep_fake_password(url: str) -> str:
    return url.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]


def test_workers_join_an_existing_study(postgres_url, tmp_path, fake_exp, capsys):
    """Two sweep commands on one study (as on two hosts): the second only tops it up."""
    from trainlab.cli import main

    space = write_space(tmp_path / "space.toml", SPACE)
    args = ["sweep", fake_exp, "--sampler", "tpe", "--storage", postgres_url, "--study",
            "joined", "--space", str(space), "--preset", "smoke", "--runs-dir",
            str(tmp_path / "runs")]
    assert main(args + ["--trials", "4"]) == 0
    assert main(args + ["--trials", "6"]) == 0
    trials = _load(postgres_url, "joined").get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 6
    assert [t.number for t in trials] == list(range(6))
    capsys.readouterr()
    other = args[:-2] + ["--runs-dir", str(tmp_path / "other"), "--objective", "val_loss"]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "exists with another objective" in err and not (tmp_path / "other").exists()
