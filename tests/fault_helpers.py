"""Helpers of tests/faults: runs in child processes, waiting for files, truthful states."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ENV = dict(os.environ, MPLBACKEND="Agg", TRAINLAB_THREADS="1")


def trainlab(*args: str) -> subprocess.Popen:
    """`python -m trainlab ARGS` in a child process (stdout and stderr captured)."""
    return subprocess.Popen([sys.executable, "-m", "trainlab", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def state(run: Path) -> str:
    """The `state` of a run folder's status.json."""
    return json.loads((run / "status.json").read_text())["state"]


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until `path` exists while `proc` still runs."""
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"finished before {path.name} appeared: " + (
            proc.stderr.read() if proc.stderr else "")
        assert time.time() - t0 < timeout, f"{path} did not appear"
        time.sleep(0.02)


def assert_truthful(run: Path) -> str:
    """The status tells the truth: completed only with summary.json and report.html;
    failed with a reason; no temporary files and no empty error.txt left behind."""
    st = json.loads((run / "status.json").read_text())
    if st["state"] == "completed":
        assert (run / "summary.json").is_file() and (run / "report.html").is_file()
    else:
        assert not (run / "summary.json").exists()
    if st["state"] in ("failed", "interrupted"):
        assert st["reason"], st
    assert not list(run.glob("**/*.tmp")), list(run.glob("**/*.tmp"))
    err = run / "error.txt"
    assert not err.exists() or err.read_text().strip()
    return st["state"]
