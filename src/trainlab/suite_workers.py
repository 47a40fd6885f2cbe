"""The worker processes of `trainlab suite --workers K`.

Each experiment runs in a child process of its own, one thread each, at most K at a time,
started in registry order and reported as each one ends. Two ways to start a child:

- **forked** (Linux, a CPU-only PyTorch build): the suite imports the lab once (torch,
  the experiments, matplotlib, scipy.stats: about 3 s of a child's start), then forks
  one child per experiment, which runs the `trainlab run|resume` command line in-process.
  Forking is safe here because the suite itself runs no tensor work before the children
  start and sets one intra-op thread first, so no OpenMP pool exists to be copied, and a
  CPU-only build has no CUDA state that a fork could break;
- **spawned** (anywhere else): ``python -m trainlab run|resume …`` as a new program.

Either way a child has its own session, so that Ctrl-C reaches the suite only; the suite
forwards exactly one SIGINT to each running child (a second could cut its final writes
short) and starts no more. A child's stdout and stderr go to files; the last line of its
stdout (the run folder), or else of its stderr (the error), is what the suite prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trainlab.runner import EXIT_INTERRUPTED

CHILD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TRAINLAB_THREADS": "1"}
POLL_S = 0.05

Result = tuple[str, int, float, str]  # (experiment id, exit code, seconds, folder or message)


def can_fork() -> bool:
    """True where children can be forked from this process (see the module docstring)."""
    if sys.platform != "linux" or os.environ.get("TRAINLAB_SPAWN_WORKERS"):
        return False
    import torch

    return torch.version.cuda is None and getattr(torch.version, "hip", None) is None


def preload() -> None:
    """Import, in this process, what every child would otherwise import again.

    That is every experiment module (through the registry) and what a run imports beyond
    the CLI; the plots module first: it picks the Agg backend unless MPLBACKEND says
    otherwise, before pyplot loads one.
    """
    import trainlab.report.plots  # noqa: F401
    from trainlab.registry import all_experiments

    all_experiments()

    import matplotlib.pyplot  # noqa: F401
    import scipy.stats  # noqa: F401

    import trainlab.report.render  # noqa: F401
    import trainlab.runner  # noqa: F401
    import trainlab.stats  # noqa: F401


@dataclass
class _Child:
    exp_id: str
    pid: int
    out: Path
    err: Path
    started: float = field(default_factory=time.perf_counter)
    proc: subprocess.Popen | None = None

    def poll(self) -> int | None:
        """The exit code once the child has ended (negative: killed by that signal)."""
        if self.proc is not None:
            return self.proc.poll()
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        return None if pid == 0 else os.waitstatus_to_exitcode(status)

    def interrupt(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def last_line(self) -> str:
        for path in (self.out, self.err):
            lines = path.read_text(errors="replace").strip().splitlines()
            if lines:
                return lines[-1]
        return ""


def _forked_child(argv: list[str], out: Path, err: Path) -> None:
    """In the forked child: own session, one thread, output to files, then the command."""
    code = 3
    try:
        os.setsid()
        os.environ.update(CHILD_ENV)  # read by what the child starts, not by loaded libraries
        for fd, path in ((1, out), (2, err)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        # fresh stream objects: a lock another thread of the suite held at the fork stays
        # held in this copy of the old ones
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from trainlab.cli import main

        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 3
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BaseException:  # noqa: BLE001 - never return into the suite's code
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


class SuiteWorkers:
    """Runs ``commands(exp_id)`` for each experiment in K child processes (`run_all`)."""

    def __init__(self, workers: int, fork: bool | None = None):
        self.workers = workers
        self.fork = can_fork() if fork is None else fork
        self.running: list[_Child] = []
        self.stopped = False

    def _start(self, exp_id: str, argv: list[str], tmp: Path) -> _Child:
        out, err = tmp / f"{exp_id}.out", tmp / f"{exp_id}.err"
        if not self.fork:
            cmd = [sys.executable, "-m", "trainlab", *argv]
            with out.open("w") as fo, err.open("w") as fe:
                proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True,
                                        env=dict(os.environ, **CHILD_ENV),
                                        start_new_session=True)
            return _Child(exp_id, proc.pid, out, err, proc=proc)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _forked_child(argv, out, err)  # never returns
        return _Child(exp_id, pid, out, err)

    def stop(self) -> None:
        """Start no more children; interrupt the running ones (they record `interrupted`)."""
        if not self.stopped:
            self.stopped = True
            for child in self.running:
                child.interrupt()

    def run_all(self, ids: Sequence[str], command: Callable[[str], list[str] | str],
                report: Callable[[Result], None]) -> list[Result]:
        """Run each id's command (argv after ``trainlab``, or a string: nothing to run, the
        line to print); ``report`` gets each result as it ends. Ctrl-C stops them all."""
        if self.fork:
            import torch
            from threadpoolctl import threadpool_limits

            preload()
            # the children copy these: one torch thread (so no OpenMP pool to copy either)
            # and one BLAS thread (NumPy's OpenBLAS read its count when the suite imported it)
            torch.set_num_threads(1)
            threadpool_limits(1)
        results: list[Result] = []
        queue = list(ids)
        with tempfile.TemporaryDirectory(prefix="trainlab-suite-") as tmp:
            try:
                while queue or self.running:
                    while queue and not self.stopped and len(self.running) < self.workers:
                        exp_id = queue.pop(0)
                        argv = command(exp_id)
                        if isinstance(argv, str):
                            results.append((exp_id, 0, 0.0, argv))
                            report(results[-1])
                            continue
                        self.running.append(self._start(exp_id, argv, Path(tmp)))
                    if self.stopped:
                        queue.clear()
                    self._reap(results, report)
                    if self.running:
                        time.sleep(POLL_S)
            except KeyboardInterrupt:
                self.stop()
                while self.running:  # the interrupted children write their last files
                    try:
                        self._reap(results, report)
                        time.sleep(POLL_S)
                    except KeyboardInterrupt:
                        continue  # each child has had its one SIGINT
                results.append(("", EXIT_INTERRUPTED, 0.0, "interrupted"))
        return results

    def _reap(self, results: list[Result], report: Callable[[Result], None]) -> None:
        for child in list(self.running):
            code = child.poll()
            if code is None:
                continue
            self.running.remove(child)
            results.append((child.exp_id, code, time.perf_counter() - child.started,
                            child.last_line()))
            report(results[-1])
            if code == EXIT_INTERRUPTED:  # a child stopped alone stops the suite
                self.stop()
