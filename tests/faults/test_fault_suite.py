"""Ctrl-C stops a suite at once (exit 130), and `suite --resume` continues it: completed
experiments are kept, the interrupted one resumes from its checkpoints, the rest run."""

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fault_helpers import assert_truthful, trainlab
from trainlab import registry
from trainlab.cli import main
from trainlab.config import BaseConfig, option

CALLS: list[tuple[str, bool]] = []
INTERRUPT = {"fault-b"}  # raises KeyboardInterrupt (Ctrl-C) unless resumed


@dataclass
class _Cfg(BaseConfig):
    size: int = option(1, "unused")


def _fake(exp_id: str):
    def run(cfg, ctx):
        CALLS.append((exp_id, ctx.resume))
        if exp_id in INTERRUPT and not ctx.resume:
            raise KeyboardInterrupt
        return {"value": 1.0}
    return run


@pytest.fixture
def fakes():
    """fault-a, fault-b, fault-c in that order; the real experiments are skipped."""
    for exp_id in ("fault-a", "fault-b", "fault-c"):
        registry.experiment(exp_id, config=_Cfg, purpose="test-only", chapter="basics",
                            summary_keys=("value",))(_fake(exp_id))
    CALLS.clear()
    yield ["--only", "fault-a,fault-b,fault-c"]
    for exp_id in ("fault-a", "fault-b", "fault-c"):
        registry.unregister(exp_id)


def _states(runs: Path) -> dict[str, list[str]]:
    return {d.name: [assert_truthful(r) for r in sorted(d.iterdir()) if r.is_dir()]
            for d in sorted(runs.iterdir()) if d.is_dir()}


def test_ctrl_c_stops_the_suite_and_resume_continues_it(tmp_path, fakes, capsys):
    runs = tmp_path / "runs"
    base = ["suite", "--preset", "smoke", "--device", "cpu", "--runs-dir", str(runs), *fakes]
    assert main(base) == 130
    assert CALLS == [("fault-a", False), ("fault-b", False)]  # fault-c never started
    assert _states(runs) == {"fault-a": ["completed"], "fault-b": ["interrupted"]}
    assert "--resume" in capsys.readouterr().err
    CALLS.clear()
    assert main([*base, "--resume"]) == 0
    assert CALLS == [("fault-b", True), ("fault-c", False)]  # fault-a kept
    assert _states(runs) == {"fault-a": ["completed"], "fault-b": ["completed"],
                             "fault-c": ["completed"]}
    CALLS.clear()
    assert main([*base, "--resume"]) == 0 and CALLS == []  # all kept
    # another config (seed 3) is a new suite: it runs afresh, and Ctrl-C stops it again
    assert main([*base, "--resume", "--seed", "3"]) == 130
    assert CALLS == [("fault-a", False), ("fault-b", False)]


def test_ctrl_c_stops_a_suite_with_workers(tmp_path):
    runs = tmp_path / "runs"
    args = ["suite", "--preset", "smoke", "--device", "cpu", "--runs-dir", str(runs),
            "--only", "polyfit,critical-points", "--workers", "2"]
    proc = trainlab(*args)
    t0 = time.time()
    while not list(runs.glob("*/*/metrics.jsonl")):  # a run has started
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - t0 < 120
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # to the suite only: it forwards one to each child
    assert proc.wait(timeout=120) == 130, proc.stderr.read()
    states = _states(runs)
    assert set(states) <= {"polyfit", "critical-points"}
    # a child stopped before its run folder was made leaves none (never a half-written
    # one): its experiment's folder is empty and --resume runs it below
    assert all(s in ([], ["interrupted"], ["completed"]) for s in states.values()), states
    assert "interrupted" in sum(states.values(), [])
    assert main(["suite", "--resume", *args[1:-2]]) == 0  # inline this time
    # one folder each: the interrupted ones were resumed, not run again
    assert _states(runs) == {"critical-points": ["completed"], "polyfit": ["completed"]}
