"""kill -9 or Ctrl-C in the middle of a run, then `trainlab resume`: same summary."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENV = dict(os.environ, MPLBACKEND="Agg")
SETS = ["--set", "epochs=1500", "--set", "snapshot_epochs=[1500]", "--seed", "5"]


def _start(out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainlab", "run", "polyfit", "--preset",
                             "smoke", "--out", str(out), *SETS], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(proc: subprocess.Popen, out: Path, timeout: float = 120) -> None:
    ckpt = out / "checkpoints" / "sgd.pt"
    t0 = time.time()
    while not ckpt.exists():
        assert proc.poll() is None, "run finished before its first checkpoint"
        assert time.time() - t0 < timeout
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = subprocess.run([sys.executable, "-m", "trainlab", "run", "polyfit", "--preset", "smoke",
                           "--out", str(out), *SETS], env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_to_identical_summary(tmp_path, reference, sig):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_checkpoint(proc, out)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    status = json.loads((out / "status.json").read_text())
    if sig == signal.SIGKILL:
        assert status["state"] == "running"  # nobody could write anything else
    else:
        assert proc.returncode == 130 and status["state"] == "interrupted"
    assert not (out / "summary.json").exists()
    res = subprocess.run([sys.executable, "-m", "trainlab", "resume", str(out)], env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "summary.json").read_text()) == reference
    assert json.loads((out / "status.json").read_text())["state"] == "completed"
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if '"lr=0.1"' in line]
    assert epochs == list(range(0, 1501))  # no epoch lost or logged twice
