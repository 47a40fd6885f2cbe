"""Run an experiment into a run folder: the one code path of the CLI and the API.

`execute` resolves and validates the config (bad input fails before any folder
exists), creates the folder, records config, environment and status, calls the
experiment, then writes `summary.json` and the report. `resume` re-enters a run
folder and continues from its checkpoints.
"""

from __future__ import annotations

import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from trainlab import engine
from trainlab.config import check_seed, from_dict, resolve, to_dict
from trainlab.errors import BadInput, RunFailed, StopRun
from trainlab.live import LiveReport
from trainlab.registry import Experiment, get
from trainlab.replicate_report import report_blocks
from trainlab.replicates import check_fits, parse_count, run_replicates, seed_list, spec
from trainlab.report.plots import fallback_metrics_figure
from trainlab.report.render import run_report, save_report
from trainlab.report.site import write_index
from trainlab.run_context import RunContext
from trainlab.run_env import (  # resolve_device is imported from here too
    environment,
    resolve_device,
    seed_everything,
)
from trainlab.run_folder import (
    RunLock,
    atomic_write_json,
    cannot_write,
    make_run_dir,
    new_run_dir,
    read_json,
    read_metrics,
    trim_checkpoints,
    utc_now,
    write_status,
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


def _call(exp: Experiment, cfg, ctx: RunContext, seeds: list[int], status: dict,
          created: bool) -> tuple[dict | None, str, str | None, int, str | None]:
    """Run the experiment: (summary, state, reason, exit code, state shown if not status')."""
    path = ctx.path
    try:
        summary = run_replicates(exp, cfg, seeds, ctx, on_replicate=_report_replicate(exp, status))
    except BadInput:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        else:
            status.update(state="failed", reason="bad input on resume", finished=utc_now())
            write_status(path, status)
        raise
    except RunFailed as exc:
        return None, "failed", str(exc), EXIT_FAILED, None
    except StopRun as exc:  # an observer (a sweep's pruner) ended it on purpose
        return None, "failed", str(exc), EXIT_FAILED, "pruned"
    except KeyboardInterrupt:
        return None, "interrupted", "interrupted by the user", EXIT_INTERRUPTED, None
    except OSError as exc:  # a full disk, a folder made read-only under the run
        return None, "failed", cannot_write(exc), EXIT_FAILED, None
    except Exception as exc:  # a bug: keep the traceback, fail the run cleanly
        try:
            (path / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        except OSError:
            (path / "error.txt").unlink(missing_ok=True)  # never an empty error.txt
        return None, "failed", f"internal error: {type(exc).__name__}: {exc}", EXIT_FAILED, None
    state, reason, code = _check_summary(exp, summary, path)
    return (summary if state == "completed" else None), state, reason, code, None


def _write_results(exp: Experiment, ctx: RunContext, status: dict, summary: dict | None,
                   seeds: list[int] | None, title: str) -> None:
    """summary.json (completed runs), then report.md and report.html."""
    path = ctx.path
    if summary is not None:
        atomic_write_json(path / "summary.json", summary)
    elif not ctx.report.figures():
        fig = fallback_metrics_figure(read_metrics(path / "metrics.jsonl"))
        if fig is not None:
            ctx.figure(fig, "metrics-so-far", "Loss curves recorded before the run stopped.")
        else:  # replicates in their own folders: the live report saw their rows
            _live_curves(ctx)
    report = run_report(
        exp_id=exp.id, title=title, question=exp.question,
        what_to_look_at=exp.what_to_look_at, config=read_json(path / "config.json"),
        status=status, summary=summary, blocks=ctx.report.blocks, headline_keys=exp.headline)
    save_report(path, _with_claims(report, exp, summary, ctx, seeds))


def _live_curves(ctx: RunContext) -> None:
    """The curves of the live report, for a run that stopped before its metrics.jsonl
    was filled (replicates that run one after another merge theirs at the end)."""
    live = next((o for o in ctx.observers if isinstance(o, LiveReport)), None)
    charts = live.curves.charts() if live is not None else []
    if charts:
        ctx.text("Curves recorded before the run stopped (each replicate's rows, as the "
                 "live report showed them).")
        for chart in charts:
            ctx.report.add(chart)


def _stopped(path: Path, status: dict, state: str, reason: str, code: int) -> Outcome:
    """An outcome of a run stopped before or after the experiment ran, recorded."""
    status.update(state=state, reason=reason, finished=utc_now())
    write_status(path, status)
    return Outcome(path, state, code, reason, None)


def _context(exp: Experiment, cfg, path: Path, device: torch.device, resume: bool,
             progress: bool | None, status: dict, quiet: bool,
             observers: Sequence[Callable]) -> RunContext | Outcome:
    """status.json says running, seeds and threads are set: the run's context, or the
    outcome of a run that could not start (a full disk, Ctrl-C)."""
    status.update(state="running", reason=None, finished=None)
    try:
        atomic_write_json(path / "status.json", status)
        seed_everything(cfg.seed)
        engine.apply_thread_request()  # `suite --workers K`: TRAINLAB_THREADS=1 each
        # CPU kernels are deterministic for a fixed thread count (the resume test checks
        # bit-identical results); `torch.use_deterministic_algorithms` would cost ~3 s of
        # imports per process, so on CUDA only cuDNN's autotuner is turned off.
        if device.type == "cuda":
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        show = True if progress is None else progress  # a bar, or lines in logs (progress.py)
        # report.html shows the run while it trains (trainlab.live), replaced at the end
        live = LiveReport(path, {
            "exp_id": exp.id, "title": cfg.title or exp.id, "question": exp.question,
            "what_to_look_at": exp.what_to_look_at, "config": read_json(path / "config.json"),
            "status": status}, seconds_before=status.get("seconds", 0.0))
        return RunContext(path, exp.id, device, cfg.seed, resume=resume, progress=show,
                          quiet=quiet, observers=[live, *observers])
    except OSError as exc:
        return _stopped(path, status, "failed", cannot_write(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return _stopped(path, status, "interrupted", "interrupted by the user",
                        EXIT_INTERRUPTED)


def _discard_results(path: Path) -> None:
    # status.json may say "completed" only with its summary and report on disk
    for name in ("summary.json", "report.md", "report.html"):
        try:
            (path / name).unlink(missing_ok=True)
        except OSError:
            pass


def _run_in(exp: Experiment, cfg, path: Path, device: torch.device, resume: bool,
            created: bool, progress: bool | None, status: dict, quiet: bool = False,
            seeds: list[int] | None = None, observers: Sequence[Callable] = (),
            keep_checkpoints: bool = False) -> Outcome:
    started = time.time()
    ctx = _context(exp, cfg, path, device, resume, progress, status, quiet, observers)
    if isinstance(ctx, Outcome):
        return ctx
    summary, state, reason, code, shown_state = _call(exp, cfg, ctx, seeds or [cfg.seed],
                                                       status, created)
    elapsed = status.get("seconds", 0.0) + time.time() - started
    status.update(state=state, reason=reason, finished=utc_now(), seconds=round(elapsed, 3))
    try:
        _write_results(exp, ctx, status, summary, seeds, cfg.title or exp.id)
    except (OSError, KeyboardInterrupt) as exc:
        _discard_results(path)
        why = (cannot_write(exc) if isinstance(exc, OSError)
               else "interrupted by the user while writing the report")
        if state == "completed":  # resume writes the results again
            fail = EXIT_FAILED if isinstance(exc, OSError) else EXIT_INTERRUPTED
            summary, reason, code = None, why, fail
            state = "failed" if isinstance(exc, OSError) else "interrupted"
        else:  # interrupted or failed already: that stays the state, resume still works
            reason = f"{reason}; {why}"
        status.update(state=state, reason=reason)
    if not write_status(path, status) and state == "completed":
        state, reason, code = "failed", "cannot write status.json", EXIT_FAILED
    if state == "completed" and not keep_checkpoints:
        try:
            trim_checkpoints(path)
        except OSError:
            pass  # the run is complete; untrimmed checkpoints only cost disk
    return Outcome(path, shown_state or state, code, reason, summary)


def execute(exp_id: str, *, preset: str = "full", sets: dict | None = None,
            config_file: str | Path | None = None, seed: int | None = None,
            device: str = "auto", out: str | Path | None = None,
            runs_dir: str | Path = "runs", progress: bool | None = None,
            quiet: bool = False, seeds: int | str | None = None,
            observers: Sequence[Callable] = (), sets_source: str = "--set",
            keep_checkpoints: bool = False) -> Outcome:
    """Run experiment `exp_id` and return its outcome (see module docstring).

    seeds: the number of replicates (seeds seed, seed+1, …); by default the preset's
    (the experiment's `REPLICATES`). observers: called with every batch of metric rows
    the run logs; one may raise `trainlab.errors.StopRun` to end the run (the outcome's
    state is then `pruned`, status.json says failed with the reason). sets_source: how
    messages name where `sets` came from. keep_checkpoints:
    keep every checkpoint of a completed run as it was (by default the `.prev.pt` copies
    and the optimizer states go; see `run_folder.trim_checkpoints`).
    """
    exp = get(exp_id)
    cfg = resolve(exp.config, exp.presets, preset, config_file, sets, seed, sets_source)
    n = None if seeds is None else parse_count(seeds)
    return execute_experiment(exp, cfg, preset=preset, device=resolve_device(device), out=out,
                              runs_dir=runs_dir, progress=progress, quiet=quiet, seeds=n,
                              observers=observers, keep_checkpoints=keep_checkpoints)


def _start_folder(path: Path, exp: Experiment, cfg, preset: str, dev: torch.device,
                  replicate_seeds: list[int], status: dict) -> None:
    """config.json, env.json and status.json; a folder where even they cannot be written,
    or whose start Ctrl-C interrupted, is removed."""
    try:
        atomic_write_json(path / "config.json", {
            "experiment": exp.id, "preset": preset, "seed": cfg.seed, "seeds": replicate_seeds,
            "device": str(dev), "config": to_dict(cfg)})
        atomic_write_json(path / "env.json", environment(dev))
        atomic_write_json(path / "status.json", status)
    except OSError as exc:
        shutil.rmtree(path, ignore_errors=True)
        raise BadInput(f"{path}: {cannot_write(exc)}") from None
    except KeyboardInterrupt:  # before the run had a status: nothing to resume, nothing left
        shutil.rmtree(path, ignore_errors=True)
        raise


def _update_index(runs_dir: str | Path) -> None:
    try:
        write_index(runs_dir)
    except OSError as exc:  # the run itself is intact; the index is rebuilt by any later one
        print(f"trainlab: warning: index not updated: {cannot_write(exc)}", file=sys.stderr)


def execute_experiment(exp: Experiment, cfg, *, preset: str, device: torch.device,
                       out: str | Path | None = None, runs_dir: str | Path = "runs",
                       progress: bool | None = None, quiet: bool = False,
                       seeds: int | None = None, observers: Sequence[Callable] = (),
                       keep_checkpoints: bool = False) -> Outcome:
    """Run an `Experiment` object with a resolved config into a new run folder.

    `execute` after the registry lookup; also the path of experiments that are not in
    the registry (`trainlab diagnose`). seeds: the number of replicates (None: the
    preset's). The folder is locked (`run.lock`) while the run is alive.
    """
    dev = device
    n = spec(exp).default(preset) if seeds is None else seeds
    check_seed(cfg.seed, count=n)
    check_fits(exp, cfg, n, dev)
    engine.check_environment()
    replicate_seeds = seed_list(cfg.seed, n)
    created = True
    if out is not None:
        path, created = make_run_dir(out)
    else:
        path = new_run_dir(runs_dir, exp.id)
    try:
        lock = RunLock(path).acquire()  # two `--out SAME`: the second one stops here
    except BadInput:
        if created:  # made by this call, so nobody else's: an unwritable folder
            shutil.rmtree(path, ignore_errors=True)
        raise
    try:
        status = {"state": "running", "reason": None, "started": utc_now(), "finished": None,
                  "seconds": 0.0}
        _start_folder(path, exp, cfg, preset, dev, replicate_seeds, status)
        try:
            if out is None:  # the index lists the run while it runs
                _update_index(runs_dir)
        except KeyboardInterrupt:  # the folder has a status now: it must tell the truth
            outcome = _stopped(path, status, "interrupted", "interrupted by the user",
                               EXIT_INTERRUPTED)
        else:
            outcome = _run_in(exp, cfg, path, dev, resume=False, created=True,
                              progress=progress, status=status, quiet=quiet,
                              seeds=replicate_seeds, observers=observers,
                              keep_checkpoints=keep_checkpoints)
    finally:
        lock.release()
    if out is None:
        _update_index(runs_dir)
    return outcome


def resume(run_dir: str | Path, device: str | None = None,
           progress: bool | None = None, quiet: bool = False,
           keep_checkpoints: bool = False) -> Outcome:
    """Continue an interrupted or killed run from its last checkpoints.

    Refused (BadInput) while the process that runs in the folder is alive.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise BadInput(f"{path}: not a run folder")
    RunLock(path).check()  # a live run may not have written its config yet
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
    lock = RunLock(path).acquire()
    try:
        status = read_json(path / "status.json")
        if status.get("state") == "completed":
            return Outcome(path, "completed", EXIT_OK, f"{path}: already completed, nothing to "
                           "resume", read_json(path / "summary.json"))
        cfg = from_dict(exp.config, saved["config"])
        dev = resolve_device(device or ("cuda" if saved.get("device", "cpu").startswith("cuda")
                                        and torch.cuda.is_available() else "cpu"))
        seeds = [int(s) for s in saved.get("seeds") or [cfg.seed]]
        outcome = _run_in(exp, cfg, path, dev, resume=True, created=False,
                          progress=progress, status=dict(status), quiet=quiet, seeds=seeds,
                          keep_checkpoints=keep_checkpoints)
    finally:
        lock.release()
    if (path.parent.parent / "index.html").is_file():  # the index said "stopped": now not
        _update_index(path.parent.parent)
    return outcome
