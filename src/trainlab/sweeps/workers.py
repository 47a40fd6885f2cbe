"""Worker processes on this host: `--workers K` starts K copies of the sweep command.

Each worker is the same `trainlab sweep` command with `--workers 1` against the same
study (the storage URL travels in an environment variable, so that a password never
shows in the process list); its output goes to `<sweep>/workers/worker-<i>.log`. The
parent reports the study's progress, forwards an interrupt, and waits for all of them.
A worker that dies (SIGKILL) leaves a RUNNING trial that the others fail through the
heartbeat and run again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from trainlab.sweeps.engine import Settings, counts


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


def run_workers(s: Settings, study, child_argv: list[str]) -> tuple[list[int], list[Path]]:
    """Start `s.workers` processes of `child_argv`, report progress, wait for all of them."""
    logs_dir = s.sweep_dir / "workers"
    logs_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
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
                    worker_command() + child_argv + ["--worker-index", str(i)],
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
