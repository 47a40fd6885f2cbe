"""The Python API: `trainlab.run`, `resume`, `diagnose`, `load`, `list_experiments`, `sweep`.

Same code path as the command line (`trainlab.runner`), so `trainlab.run("polyfit")`
and `trainlab run polyfit` give the same `summary.json` for the same seed. A `Run`
shows itself in Jupyter with its headline numbers and figures.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlab.errors import BadInput, RunFailed
from trainlab.registry import all_experiments, get
from trainlab.report.format import fmt, headline_numbers
from trainlab.report.html import data_uri, esc, table
from trainlab.run_folder import read_json, read_metrics


@dataclass
class Run:
    """A run folder, read back: config, status, summary, metrics and figures."""

    dir: Path

    @property
    def config(self) -> dict:
        return read_json(self.dir / "config.json")

    @property
    def status(self) -> dict:
        return read_json(self.dir / "status.json")

    @property
    def summary(self) -> dict | None:
        path = self.dir / "summary.json"
        return read_json(path) if path.exists() else None

    @property
    def metrics(self) -> list[dict]:
        """Rows of metrics.jsonl."""
        return read_metrics(self.dir / "metrics.jsonl")

    def metrics_frame(self):
        """metrics.jsonl as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise BadInput("metrics_frame() needs pandas: pip install pandas") from None
        return pd.DataFrame(self.metrics)

    @property
    def figures(self) -> list[Path]:
        return sorted((self.dir / "figures").glob("*.png"))

    @property
    def experiment(self) -> str:
        return self.config.get("experiment", "")

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, state={self.status.get('state')!r})"

    def _repr_html_(self) -> str:
        exp_id = self.experiment
        keys = _headline_keys(exp_id)
        numbers = headline_numbers(self.summary, keys)
        rows = table([{"key": k, "value": fmt(v)} for k, v in numbers.items()],
                     ["key", "value"], header=False)
        imgs = "".join(f"<img style='max-width:48%;margin:2px' alt='{esc(p.stem)}' "
                       f"src='{data_uri(p.read_bytes(), 'image/png')}'>" for p in self.figures)
        state = self.status.get("state", "?")
        return (f"<div><b>{esc(exp_id)}</b> — {esc(state)} — <code>{esc(self.dir)}</code>"
                f"{rows}<div>{imgs}</div></div>")


def _headline_keys(exp_id: str) -> tuple[str, ...]:
    """The summary keys a run of ``exp_id`` shows first (``diagnose`` is not registered)."""
    from trainlab.diagnosis.command import EXP_ID, HEADLINE

    if exp_id == EXP_ID:
        return HEADLINE
    try:
        return get(exp_id).headline
    except BadInput:
        return ()


def run(exp: str, preset: str = "full", seed: int | None = None, out: str | Path | None = None,
        runs_dir: str | Path = "runs", device: str = "auto", progress: bool | None = None,
        config_file: str | Path | None = None, seeds: int | None = None,
        keep_checkpoints: bool = False, live: bool = False, **overrides: Any) -> Run:
    """Run experiment `exp` and return its `Run`.

    live: in a Jupyter notebook, show the curves (and the experiment's live panels)
    in the cell, updated while it trains (`trainlab.live.NotebookLive`); elsewhere it
    only says that report.html is live. The run's report.html is live either way.

    seeds: the number of replicates (seeds seed, seed+1, …; default: the preset's); the
    summary then holds each replicate (`replicates`), `stats` and `claims`.
    keep_checkpoints: keep the checkpoints of the completed run whole (by default the
    `.prev.pt` copies and the optimizer states, which only resume needs, are dropped).

    Keyword overrides are config keys; use `__` for dots (`model__widths=[32]`) or pass
    `overrides={"model.widths": [32]}`. Raises `BadInput` for bad input and
    `RunFailed` when the run did not complete.
    """
    from trainlab.runner import execute

    sets = dict(overrides.pop("overrides", {}) or {})
    sets.update({k.replace("__", "."): v for k, v in overrides.items()})
    view = _live_view() if live else None
    try:
        outcome = execute(exp, preset=preset, sets=sets, config_file=config_file, seed=seed,
                          device=device, out=out, runs_dir=runs_dir, progress=progress,
                          quiet=True, seeds=seeds, sets_source="keyword arguments",
                          keep_checkpoints=keep_checkpoints, observers=[view] if view else ())
    finally:
        if view is not None:
            view.close()
    if outcome.state != "completed":
        raise RunFailed(f"{exp}: run {outcome.state}: {outcome.reason} ({outcome.path})")
    return Run(outcome.path)


def _live_view():
    """A `NotebookLive` in a Jupyter kernel; None (and a note) elsewhere."""
    from trainlab.progress import in_notebook

    if not in_notebook():
        print("trainlab: live=True shows curves in a Jupyter notebook; here, open the run's "
              "report.html (it reloads itself) or use `trainlab watch`", file=sys.stderr)
        return None
    from trainlab.live import NotebookLive

    return NotebookLive()


def resume(run_dir: str | Path, device: str | None = None,
           progress: bool | None = None) -> Run:
    """Continue an interrupted or killed run from its checkpoints (`trainlab resume`).

    A completed run is returned as it is. device: None for the run's own device (cpu
    when it is not available). Raises `BadInput` for a folder that is not a run and
    `RunFailed` when the run does not complete.
    """
    from trainlab.runner import resume as resume_run

    outcome = resume_run(run_dir, device=device, progress=progress, quiet=True)
    if outcome.state != "completed":
        raise RunFailed(f"resume: run {outcome.state}: {outcome.reason} ({outcome.path})")
    return Run(outcome.path)


def load(run_dir: str | Path) -> Run:
    """A `Run` for an existing run folder."""
    path = Path(run_dir)
    if not (path / "config.json").exists():
        raise BadInput(f"{path}: not a run folder (no config.json)")
    return Run(path)


def sweep(exp: str, sampler: str = "tpe", trials: int | None = None, *,
          space: str | Path | dict | None = None, objective: str | None = None,
          direction: str | None = None, storage: str | None = None, study: str | None = None,
          workers: int = 1, preset: str = "full", sets: dict[str, Any] | None = None,
          config_file: str | Path | None = None, seed: int | None = None,
          device: str = "auto", runs_dir: str | Path = "runs", out: str | Path | None = None,
          population: int = 30, crossover: str = "uniform", mutation_prob: float | None = None,
          pruner: str = "none", prune_on: str | None = None, seeds: int | None = None,
          report: bool = True, echo: bool = True) -> Path:
    """Run a hyperparameter sweep of experiment `exp` (like `trainlab sweep`); returns its folder.

    The options are those of the command, typed: `space` is a TOML file or its tables as
    a dict (`{"lrs": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}}`), None for
    the experiment's declared space; `objective` a dotted summary key (default: the
    experiment's); `sets` config values fixed for every trial (`{"epochs": 3}`);
    `storage` None (in memory), `journal:PATH`, `postgresql://…`, `sqlite:///…` or
    `env:VAR`; `seeds` replicates per trial (default: the preset's): the trial's value is
    their mean, its user attributes keep each value and the 95 % interval. `report=False`
    writes trials.csv and best.json but no figures or report.html; `echo=False` prints
    nothing (the trials' lines go to stderr otherwise).
    Raises `BadInput` (before anything is written) for bad input, and `RunFailed`
    when the study ends with fewer finished trials than `trials`.
    """
    from trainlab.sweeps.settings import Settings, run_sweep

    settings = Settings.from_options(
        exp, sampler=sampler, trials=trials, space=space, objective=objective,
        direction=direction, storage=storage, study=study, workers=workers, preset=preset,
        sets=sets, config_file=config_file, seed=seed, device=device, runs_dir=runs_dir,
        out=out, population=population, crossover=crossover, mutation_prob=mutation_prob,
        pruner=pruner, prune_on=prune_on, seeds=seeds)
    result = run_sweep(settings, report="page" if report else "tables", echo=echo)
    if result.exit_code != 0:
        raise RunFailed(f"sweep {exp}: {result.finished} of {result.target} trials finished"
                        + (f" ({result.why})" if result.why else "") + f" ({result.path})")
    return result.path


def diagnose(model, data, loss: Any = None, *, checkpoint: Any = None, compare: Any = None,
             trajectory: Any = None, only: list[str] | None = None, preset: str = "full",
             seed: int | None = None, out: str | Path | None = None,
             runs_dir: str | Path = "runs", device: str = "auto", progress: bool | None = None,
             **settings: Any) -> Run:
    """Every diagnostic of the lab on your own `nn.Module`; returns the `Run` (`trainlab diagnose`).

    `data` is `(x, y)` tensors, `{"train": (x, y), "test": (x, y)}` or an iterable of
    `(x, y)` batches (a `DataLoader`); `loss` is `"cross_entropy"` (default), `"mse"` or a
    callable `(output, target) -> scalar`. `checkpoint` / `compare` are state dicts,
    modules of the same layout or `.pt` paths; `trajectory` a folder or a list of them.
    The model is copied and measured in eval mode; your `model` is left as it is.
    Keyword `settings` are `trainlab.diagnosis.config.DiagnoseConfig` fields
    (`top_k=10`, `n_train=2048`). Raises `BadInput` (nothing written) or `RunFailed`.
    """
    from trainlab.diagnosis import run_diagnose

    outcome = run_diagnose(model, data, loss, checkpoint=checkpoint, compare=compare,
                           trajectory=trajectory, only=only, preset=preset, sets=settings,
                           seed=seed, device=device, out=out, runs_dir=runs_dir,
                           progress=progress, quiet=True)
    if outcome.state != "completed":
        raise RunFailed(f"diagnose: run {outcome.state}: {outcome.reason} ({outcome.path})")
    return Run(outcome.path)


def list_experiments() -> list[dict]:
    """`[{id, chapter, purpose}]` of every registered experiment."""
    return [{"id": e.id, "chapter": e.chapter, "purpose": e.purpose} for e in all_experiments()]
