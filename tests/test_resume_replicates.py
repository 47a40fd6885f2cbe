"""A killed multi-replicate run resumes to the same summary as an uninterrupted one."""

import json
import math
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


def _same(got, want, path="summary"):
    """Equal, floats to 1e-12 relative or absolute: MKL's float64 BLAS may round the last
    bits apart between processes (seen under load in the least-squares solution, which does
    not depend on resuming at all, and in normal_vs_lstsq_max_diff, itself a difference of
    two solutions at the 1e-13 rounding level); structure, ints and strings exactly."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for k in want:
            _same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert isinstance(got, float) and math.isclose(got, want, rel_tol=1e-12,
                                                       abs_tol=1e-12), (path, got, want)
    else:
        assert got == want and type(got) is type(want), (path, got, want)


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
    _same(_no_paths(got), _no_paths(want))
    assert [r["seed"] for r in got["replicates"]] == [4, 5, 6]
