"""A killed multi-replicate run resumes to the same summary as an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import time

ENV = dict(os.environ, MPLBACKEND="Agg", TRAINLAB_THREADS="1")
ARGS = ["run", "linreg", "--preset", "smoke", "--seeds", "3", "--seed", "4",
        "--set", "epochs=400"]


def _no_paths(obj):
    # data_path points into each run's own folder
    if isinstance(obj, dict):
        return {k: _no_paths(v) for k, v in obj.items() if not k.endswith("path")}
    if isinstance(obj, list):
        return [_no_paths(v) for v in obj]
    return obj


def test_killed_between_replicates_resumes_to_the_same_summary(tmp_path):
    ref = tmp_path / "ref"
    done = subprocess.run([sys.executable, "-m", "trainlab", *ARGS, "--out", str(ref)],
                          env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "trainlab", *ARGS, "--out", str(out)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = out / "replicates" / "seed-5" / "checkpoints"
    t0 = time.time()
    while not second.exists():  # the first replicate is done, the second has started
        assert proc.poll() is None, "run finished before the second replicate checkpointed"
        assert time.time() - t0 < 300
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (out / "summary.json").exists()
    assert (out / "replicates" / "seed-4" / "summary.json").exists()
    res = subprocess.run([sys.executable, "-m", "trainlab", "resume", str(out)], env=ENV,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    got = json.loads((out / "summary.json").read_text())
    want = json.loads((ref / "summary.json").read_text())
    assert _no_paths(got) == _no_paths(want)
    assert [r["seed"] for r in got["replicates"]] == [4, 5, 6]
