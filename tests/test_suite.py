"""`trainlab suite`: registry order, --only, --skip, failures that do not stop the others,
exit code 3, one seed for all, and the worker-process path."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainlab import registry
from trainlab.cli import main
from trainlab.config import BaseConfig, option
from trainlab.errors import RunFailed

CALLS: list[tuple[str, int]] = []


@dataclass
class _Cfg(BaseConfig):
    fail: bool = option(False, "raise RunFailed")


def _fake(exp_id: str):
    def run(cfg, ctx):
        CALLS.append((exp_id, cfg.seed))
        if cfg.fail:
            raise RunFailed(f"{exp_id} failed on purpose")
        return {"value": 1.0}
    return run


# id -> (chapter, fails): registry order is chapter order, then id
FAKES = {"suite-b": ("optimization", False), "suite-a": ("basics", False),
         "suite-c": ("basics", True)}


@pytest.fixture
def fakes():
    """Three test-only experiments; the real ones are skipped with --skip."""
    for exp_id, (chapter, fails) in FAKES.items():
        registry.experiment(exp_id, config=_Cfg, purpose="test-only", chapter=chapter,
                            presets={"smoke": {"fail": fails}},
                            summary_keys=("value",))(_fake(exp_id))
    real = [e.id for e in registry.all_experiments() if e.id not in FAKES]
    CALLS.clear()
    yield ",".join(real)
    for exp_id in FAKES:
        registry.unregister(exp_id)


def _suite(tmp_path: Path, *args: str) -> int:
    return main(["suite", "--preset", "smoke", "--runs-dir", str(tmp_path / "runs"),
                 "--device", "cpu", *args])


def _states(tmp_path: Path) -> dict[str, list[str]]:
    return {d.name: [json.loads((r / "status.json").read_text())["state"]
                     for r in sorted(d.iterdir()) if r.is_dir()]
            for d in sorted((tmp_path / "runs").iterdir()) if d.is_dir()}


def test_runs_in_registry_order_and_a_failure_does_not_stop_the_others(tmp_path, fakes,
                                                                         capsys):
    assert _suite(tmp_path, "--skip", fakes) == 3
    assert [c[0] for c in CALLS] == ["suite-a", "suite-c", "suite-b"]
    assert _states(tmp_path) == {"suite-a": ["completed"], "suite-b": ["completed"],
                                 "suite-c": ["failed"]}
    out, err = capsys.readouterr()
    assert "2/3 completed" in err and "failed: suite-c" in err
    assert out.strip() == str((tmp_path / "runs" / "index.html").resolve())
    assert (tmp_path / "runs" / "index.html").is_file()


def test_only_runs_the_named_experiments_in_the_given_order_with_one_seed(tmp_path, fakes):
    assert _suite(tmp_path, "--only", "suite-b,suite-a", "--seed", "7") == 0
    assert CALLS == [("suite-b", 7), ("suite-a", 7)]
    assert sorted(_states(tmp_path)) == ["suite-a", "suite-b"]


def test_skip_applies_after_only(tmp_path, fakes):
    assert _suite(tmp_path, "--only", "suite-a,suite-c", "--skip", "suite-c") == 0
    assert CALLS == [("suite-a", 0)]


@pytest.mark.parametrize("args, fragment", [
    (["--only", "suite-a,nope"], "unknown experiment 'nope'"),
    (["--skip", "nope"], "unknown experiment 'nope'"),
    (["--only", "suite-a", "--workers", "0"], "--workers must be at least 1"),
])
def test_bad_input_exits_2_before_running_anything(tmp_path, fakes, capsys, args, fragment):
    assert _suite(tmp_path, *args) == 2
    assert CALLS == []
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("start", ["forked", "spawned"])
def test_worker_processes_run_real_experiments(tmp_path, monkeypatch, start):
    if start == "spawned":  # a new `python -m trainlab` per experiment, as on a CUDA build
        monkeypatch.setenv("TRAINLAB_SPAWN_WORKERS", "1")
    assert _suite(tmp_path, "--only", "polyfit,critical-points", "--workers", "2") == 0
    assert _states(tmp_path) == {"critical-points": ["completed"], "polyfit": ["completed"]}


def _threads(cfg, ctx):
    import torch
    from threadpoolctl import threadpool_info

    return {"value": 1.0, "torch": torch.get_num_threads(),
            "blas": max(i["num_threads"] for i in threadpool_info())}


def test_forked_workers_run_on_one_thread_each(tmp_path, fakes):
    from trainlab.suite_workers import can_fork

    assert can_fork()  # this machine's build is the CPU one
    registry.experiment("suite-threads", config=_Cfg, purpose="test-only", chapter="basics",
                        summary_keys=("value",))(_threads)
    try:  # a test-registered experiment: only a forked child can see it
        assert _suite(tmp_path, "--only", "suite-threads,suite-a", "--workers", "2") == 0
    finally:
        registry.unregister("suite-threads")
    folder = next((tmp_path / "runs" / "suite-threads").iterdir())
    summary = json.loads((folder / "summary.json").read_text())
    assert (summary["torch"], summary["blas"]) == (1, 1)
    assert _states(tmp_path)["suite-a"] == ["completed"]
