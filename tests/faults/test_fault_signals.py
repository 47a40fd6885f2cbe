"""Ctrl-C and kill -9 at a random point of a run, and two processes on one folder.

Whatever the point, the status tells the truth (completed only with summary and report,
interrupted with its reason, "running" only after a kill), the folder is locked while
its run is alive, and `trainlab resume` then completes it with no metric row twice.
"""

import json
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from fault_helpers import assert_truthful, state, trainlab, wait_for
from trainlab.cli import main

SETS = ["--preset", "smoke", "--set", "epochs=300", "--set", "snapshot_epochs=[300]"]


def _rows_once(run: Path) -> None:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    keys = Counter((r.get("fit"), r.get("model"), r.get("split"), r.get("seed"),
                    r.get("epoch", r.get("step"))) for r in rows)
    assert rows and max(keys.values()) == 1, keys.most_common(3)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_signal_at_a_random_point_then_resume(tmp_path, capsys, sig):
    run = tmp_path / "run"
    proc = trainlab("run", "polyfit", *SETS, "--out", str(run))
    wait_for(run / "run.lock", proc)
    # a live run refuses a second process in its folder
    assert main(["resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"process {proc.pid}" in err and len(err.splitlines()) == 1, err
    delay = random.uniform(0.0, 1.5)  # any point must do: the assertions hold for all
    time.sleep(delay)
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    got = assert_truthful(run)
    print(f"signal {sig} after {delay:.2f} s: exit {code}, state {got}")
    if code == 0:
        assert got == "completed"  # it finished before the signal came
    elif sig == signal.SIGINT:
        assert (code, got) == (130, "interrupted")
        assert not (run / "run.lock").exists()
    else:
        assert got == "running" and (run / "run.lock").exists()  # a stale lock: pid dead
    assert main(["resume", str(run), "--json"]) == 0
    assert assert_truthful(run) == "completed" and not (run / "run.lock").exists()
    _rows_once(run)


def test_two_runs_into_one_folder_one_wins(tmp_path):
    run = tmp_path / "run"
    procs = [trainlab("run", "polyfit", "--preset", "smoke", "--out", str(run))
             for _ in range(2)]
    codes = sorted(p.wait(timeout=180) for p in procs)
    assert codes == [0, 2], [p.stderr.read() for p in procs]
    assert state(run) == "completed" and assert_truthful(run) == "completed"
    _rows_once(run)
