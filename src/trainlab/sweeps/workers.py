"""Worker processes on this host: `--workers K` starts K copies of the sweep command.

Each worker is the same `trainlab sweep` command with `--workers 1` against the same
study (`child_argv`). The storage URL travels in the worker's environment, so that a
password never shows in the process list and the caller's environment is untouched.
A worker's output goes to `<sweep>/workers/worker-<i>.log`. The parent reports the
study's progress, forwards an interrupt, and waits for all of them. A worker that
dies (SIGKILL) leaves a RUNNING trial that the others fail through the heartbeat and
run again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from trainlab.errors import BadInput
from trainlab.sweeps.engine import counts
from trainlab.sweeps.settings import Settings

STORAGE_ENV = "TRAINLAB_SWEEP_STORAGE"


def worker_command() -> list[str]:
    """How to start this program again: the same script, else `python -m trainlab`."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name in ("trainlab", "trainlab.__main__"):
        return [sys.executable, "-m", "trainlab"]
    argv0 = sys.argv[0] if sys.argv else ""
    name = Path(argv0).name
    if argv0 and Path(argv0).is_file() and "pytest" not in name and name != "__main__.py":
        return [sys.executable, argv0]
    return [sys.executable, "-m", "trainlab"]


def child_argv(s: Settings) -> list[str]:
    """The command line of one worker process (same sweep, one worker, no report)."""
    argv = ["sweep", s.exp.id, "--sampler", s.sampler, "--trials", str(s.target),
            "--storage", f"env:{STORAGE_ENV}", "--study", s.study_name,
            "--out", str(s.sweep_dir.resolve()), "--workers", "1", "--no-report",
            "--objective", s.objective, "--direction", s.direction,
            "--population", str(s.population), "--crossover", s.crossover,
            "--pruner", s.pruner, "--preset", s.preset, "--device", s.device,
            "--seeds", str(s.seeds),
            "--heartbeat-interval", str(s.heartbeat_interval),
            "--grace-period", str(s.grace_period),
            "--space-json", json.dumps({p.key: p.as_table() for p in s.params})]
    if s.config_file:
        argv += ["--config", str(Path(s.config_file).resolve())]
    if s.mutation_prob is not None:
        argv += ["--mutation-prob", repr(s.mutation_prob)]
    if s.prune_on:
        argv += ["--prune-on", "/".join(s.prune_on)]
    if s.seed is not None:
        argv += ["--seed", str(s.seed)]
    for key, value in s.sets.items():
        argv += ["--set", f"{key}={json.dumps(value)}"]
    return argv


def run_workers(s: Settings, study) -> None:
    """Run the sweep in `s.workers` processes; BadInput when every one refused its input."""
    rcs, logs = _start_and_wait(s, study, child_argv(s))
    errors = [last_error_line(log) for log, rc in zip(logs, rcs, strict=True) if rc == 2]
    if errors and len(errors) == len(rcs) and errors[0]:
        raise BadInput(errors[0])
    killed = [i for i, rc in enumerate(rcs) if rc not in (0, 3)]
    if killed:
        print(f"trainlab sweep: worker(s) {', '.join(map(str, killed))} ended with "
              f"{', '.join(str(rcs[i]) for i in killed)} (see {s.sweep_dir}/workers/)",
              file=sys.stderr)


def _start_and_wait(s: Settings, study, argv: list[str]) -> tuple[list[int], list[Path]]:
    """Start `s.workers` processes of `argv`, report progress, wait for all of them."""
    logs_dir = s.sweep_dir / "workers"
    logs_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env[STORAGE_ENV] = s.storage.argument()
    threads = max(1, (os.cpu_count() or 1) // s.workers)
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env.setdefault("MKL_NUM_THREADS", str(threads))
    procs, logs = [], []
    try:
        for i in range(s.workers):
            log = logs_dir / f"worker-{i}.log"
            logs.append(log)
            with log.open("ab") as fh:
                procs.append(subprocess.Popen(
                    worker_command() + argv + ["--worker-index", str(i)],
                    stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))
        print(f"trainlab sweep: {s.workers} workers on study {s.study_name!r} "
              f"({s.storage.shown}); logs in {logs_dir}", file=sys.stderr, flush=True)
        last = None
        while any(p.poll() is None for p in procs):
            time.sleep(1.0)
            c = counts(study.get_trials(deepcopy=False))
            now = (c["finished"], c["RUNNING"], c["FAIL"])
            if now != last:
                last = now
                print(f"trainlab sweep: {c['finished']}/{s.target} finished, "
                      f"{c['RUNNING']} running, {c['FAIL']} failed", file=sys.stderr, flush=True)
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
        raise
    return [p.returncode for p in procs], logs


def last_error_line(log: Path) -> str | None:
    """The last `trainlab: error: …` line of a worker log."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("trainlab: error: "):
            return line[len("trainlab: error: "):]
    return None
