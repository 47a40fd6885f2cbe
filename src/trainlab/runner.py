"""Run an experiment into a run folder: the one code path of the CLI and the API.

`execute` resolves and validates the config (bad input fails before any folder
exists), creates the folder, records config, environment and status, calls the
experiment, then writes `summary.json` and the report. `resume` re-enters a run
folder and continues from its checkpoints.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlab import __version__, engine
from trainlab.config import from_dict, resolve, to_dict
from trainlab.errors import BadInput, RunFailed, StopRun
from trainlab.live import LiveReport
from trainlab.registry import Experiment, get
from trainlab.replicate_report import report_blocks
from trainlab.replicates import check_fits, parse_count, run_replicates, seed_list, spec
from trainlab.report.plots import fallback_metrics_figure
from trainlab.report.render import run_report, save_report
from trainlab.report.site import write_index
from trainlab.run_context import RunContext
from trainlab.run_folder import (
    atomic_write_json,
    new_run_dir,
    read_json,
    read_metrics,
    utc_now,
)

EXIT_OK, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130


@dataclass
class Outcome:
    """How a run ended: its folder, state, exit code, reason and summary (if completed)."""

    path: Path
    state: str
    exit_code: int
    reason: str | None
    summary: dict | None


def resolve_device(name: str) -> torch.device:
    """`auto` -> cuda when available else cpu; `cuda` without a GPU is bad input."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda: no CUDA device is available (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise BadInput(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict:
    """Versions, device, threads, git commit and command line, for env.json."""
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "trainlab": __version__, "platform": platform.platform(),
            "device": str(device),
            "cuda_device": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
            "threads": torch.get_num_threads(), "git_commit": _git_commit(),
            "command": sys.argv, "pid": os.getpid()}


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def _check_summary(exp: Experiment, summary, path: Path) -> tuple[str, str | None, int]:
    # A summary without the keys the experiment guarantees (its `summary_keys`) is a bug
    # of the experiment: the run fails at once, and error.txt keeps what was returned.
    if not isinstance(summary, dict):
        problem = f"is a {type(summary).__name__}, not a dict"
    else:
        missing = exp.missing_keys(summary)
        if not missing:
            return "completed", None, EXIT_OK
        problem = "lacks " + ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    reason = f"internal error: the summary of {exp.id} {problem} (see summary_keys)"
    (path / "error.txt").write_text(f"{reason}\n\nsummary returned by the experiment:\n"
                                    f"{summary!r}\n", encoding="utf-8")
    return "failed", reason, EXIT_FAILED


def _report_replicate(exp: Experiment, status: dict):
    """Writes the report of one replicate that ran in its own folder."""
    def write(ctx: RunContext, cfg, summary: dict) -> None:
        save_report(ctx.path, run_report(
            exp_id=exp.id, title=f"{cfg.title or exp.id} (seed {cfg.seed})",
            question=exp.question, what_to_look_at=exp.what_to_look_at,
            config={"experiment": exp.id, "seed": cfg.seed, "config": to_dict(cfg)},
            status={**status, "state": "completed", "finished": utc_now()},
            summary=summary, blocks=ctx.report.blocks, headline_keys=exp.headline))
    return write


def _with_claims(report, exp: Experiment, summary: dict | None, ctx: RunContext,
                 seeds: list[int] | None):
    # the claims and the replicate statistics open the page, right under the status line
    separate = len(seeds or ()) > 1 and not spec(exp).ensemble
    report.blocks[1:1] = report_blocks(exp, summary, ctx, separate)
    return report


def _run_in(exp: Experiment, cfg, path: Path, device: torch.device, resume: bool,
            created: bool, progress: bool | None, status: dict, quiet: bool = False,
            seeds: list[int] | None = None, observers: Sequence[Callable] = ()) -> Outcome:
    started = time.time()
    status.update(state="running", reason=None, finished=None)
    atomic_write_json(path / "status.json", status)
    _seed_everything(cfg.seed)
    engine.apply_thread_request()  # `suite --workers K`: TRAINLAB_THREADS=1 each
    # CPU kernels are deterministic for a fixed thread count (the resume test checks
    # bit-identical results); `torch.use_deterministic_algorithms` would cost ~3 s of
    # imports per process, so on CUDA only cuDNN's autotuner is turned off.
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    show = True if progress is None else progress  # a bar, or lines in logs (progress.py)
    title = cfg.title or exp.id
    # report.html shows the run while it trains (trainlab.live), replaced at the end
    live = LiveReport(path, {
        "exp_id": exp.id, "title": title, "question": exp.question,
        "what_to_look_at": exp.what_to_look_at, "config": read_json(path / "config.json"),
        "status": status}, seconds_before=status.get("seconds", 0.0))
    ctx = RunContext(path, exp.id, device, cfg.seed, resume=resume, progress=show,
                     quiet=quiet, observers=[live, *observers])
    summary = None
    state, reason, code = "completed", None, EXIT_OK
    shown_state = None  # when the Outcome says more than status.json (pruned)
    try:
        summary = run_replicates(exp, cfg, seeds or [cfg.seed], ctx,
                                 on_replicate=_report_replicate(exp, status))
    except BadInput:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        else:
            status.update(state="failed", reason="bad input on resume", finished=utc_now())
            atomic_write_json(path / "status.json", status)
        raise
    except RunFailed as exc:
        state, reason, code = "failed", str(exc), EXIT_FAILED
    except StopRun as exc:  # an observer (a sweep's pruner) ended it on purpose
        state, reason, code, shown_state = "failed", str(exc), EXIT_FAILED, "pruned"
    except KeyboardInterrupt:
        state, reason, code = "interrupted", "interrupted by the user", EXIT_INTERRUPTED
    except Exception as exc:  # a bug: keep the traceback, fail the run cleanly
        (path / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        state, reason, code = "failed", f"internal error: {type(exc).__name__}: {exc}", EXIT_FAILED
    if state == "completed":
        state, reason, code = _check_summary(exp, summary, path)
        summary = summary if state == "completed" else None
    elapsed = status.get("seconds", 0.0) + time.time() - started
    if state == "completed":
        atomic_write_json(path / "summary.json", summary)
    elif not ctx.report.figures():
        fig = fallback_metrics_figure(read_metrics(path / "metrics.jsonl"))
        if fig is not None:
            ctx.figure(fig, "metrics-so-far", "Loss curves recorded before the run stopped.")
    status.update(state=state, reason=reason, finished=utc_now(), seconds=round(elapsed, 3))
    try:
        report = run_report(
            exp_id=exp.id, title=title, question=exp.question,
            what_to_look_at=exp.what_to_look_at, config=read_json(path / "config.json"),
            status=status, summary=summary, blocks=ctx.report.blocks,
            headline_keys=exp.headline)
        save_report(path, _with_claims(report, exp, summary, ctx, seeds))
    finally:
        atomic_write_json(path / "status.json", status)
    return Outcome(path, shown_state or state, code, reason, summary)


def execute(exp_id: str, *, preset: str = "full", sets: dict | None = None,
            config_file: str | Path | None = None, seed: int | None = None,
            device: str = "auto", out: str | Path | None = None,
            runs_dir: str | Path = "runs", progress: bool | None = None,
            quiet: bool = False, seeds: int | str | None = None,
            observers: Sequence[Callable] = (), sets_source: str = "--set") -> Outcome:
    """Run experiment `exp_id` and return its outcome (see module docstring).

    seeds: the number of replicates (seeds seed, seed+1, …); by default the preset's
    (the experiment's `REPLICATES`). observers: called with every batch of metric rows
    the run logs; one may raise `trainlab.errors.StopRun` to end the run (the outcome's
    state is then `pruned`, status.json says failed with the reason). sets_source: how
    messages name where `sets` came from.
    """
    exp = get(exp_id)
    cfg = resolve(exp.config, exp.presets, preset, config_file, sets, seed, sets_source)
    n = None if seeds is None else parse_count(seeds)
    return execute_experiment(exp, cfg, preset=preset, device=resolve_device(device), out=out,
                              runs_dir=runs_dir, progress=progress, quiet=quiet, seeds=n,
                              observers=observers)


def execute_experiment(exp: Experiment, cfg, *, preset: str, device: torch.device,
                       out: str | Path | None = None, runs_dir: str | Path = "runs",
                       progress: bool | None = None, quiet: bool = False,
                       seeds: int | None = None, observers: Sequence[Callable] = ()) -> Outcome:
    """Run an `Experiment` object with a resolved config into a new run folder.

    `execute` after the registry lookup; also the path of experiments that are not in
    the registry (`trainlab diagnose`). seeds: the number of replicates (None: the
    preset's).
    """
    dev = device
    n = spec(exp).default(preset) if seeds is None else seeds
    check_fits(exp, cfg, n, dev)
    engine.check_environment()
    replicate_seeds = seed_list(cfg.seed, n)
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise BadInput(f"--out {path}: exists and is not an empty folder")
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = new_run_dir(runs_dir, exp.id)
    atomic_write_json(path / "config.json", {
        "experiment": exp.id, "preset": preset, "seed": cfg.seed, "seeds": replicate_seeds,
        "device": str(dev), "config": to_dict(cfg)})
    atomic_write_json(path / "env.json", environment(dev))
    status = {"state": "running", "reason": None, "started": utc_now(), "finished": None,
              "seconds": 0.0}
    if out is None:  # the index lists the run while it runs
        atomic_write_json(path / "status.json", status)
        write_index(runs_dir)
    outcome = _run_in(exp, cfg, path, dev, resume=False, created=True, progress=progress,
                      status=status, quiet=quiet, seeds=replicate_seeds, observers=observers)
    if out is None:
        write_index(runs_dir)
    return outcome


def resume(run_dir: str | Path, device: str | None = None,
           progress: bool | None = None, quiet: bool = False) -> Outcome:
    """Continue an interrupted or killed run from its last checkpoints."""
    path = Path(run_dir)
    if not path.is_dir():
        raise BadInput(f"{path}: not a run folder")
    saved = read_json(path / "config.json")
    if not isinstance(saved, dict) or "experiment" not in saved:
        raise BadInput(f"{path}/config.json: not a trainlab run config")
    if saved["experiment"] == "diagnose":  # its model and data lived only in the caller
        spec = (saved.get("config") or {}).get("spec") or "SPEC.py"
        raise BadInput(f"{path}: a diagnose run cannot be resumed: it keeps no "
                       f"checkpoints, and its model and data came from the caller, not the "
                       f"folder; run `trainlab diagnose {spec}` again")
    exp = get(saved["experiment"])
    engine.check_environment()
    status = read_json(path / "status.json")
    if status.get("state") == "completed":
        return Outcome(path, "completed", EXIT_OK, f"{path}: already completed, nothing to "
                       "resume", read_json(path / "summary.json"))
    cfg = from_dict(exp.config, saved["config"])
    dev = resolve_device(device or ("cuda" if saved.get("device", "cpu").startswith("cuda")
                                    and torch.cuda.is_available() else "cpu"))
    seeds = [int(s) for s in saved.get("seeds") or [cfg.seed]]
    return _run_in(exp, cfg, path, dev, resume=True, created=False, progress=progress,
                   status=dict(status), quiet=quiet, seeds=seeds)
