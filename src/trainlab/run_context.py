"""The run context: what an experiment's `run(cfg, ctx)` gets (layer 3).

Device, seed, resume flag, the run's `Report` (the experiment adds text, tables,
preformatted text and figures to it), metric logging with observers, named
checkpoints and seeded generators. The files themselves are `run_folder`'s job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainlab.report.blocks import Block, Figure, Pre, Report, Table, Text
from trainlab.run_folder import (
    Checkpoint,
    append_metrics,
    atomic_write_bytes,
    truncate_metrics,
)

MetricObserver = Callable[[list[dict]], None]


@dataclass
class LivePanel:
    """A panel of the live report: `draw(model) -> Block` for the fits named in `fits`
    (None: every fit)."""

    title: str
    draw: Callable[[Any], Block | list[Block]]
    fits: tuple[str, ...] | None = None


class LiveFit:
    """The callback of `RunContext.live_fit`: begins the fit on the live views at its
    first epoch, then hands them `rows(epoch, history)` after every evaluated epoch."""

    def __init__(self, ctx: RunContext, name: str, epochs: int,
                 rows: Callable[[int, Any], list[dict]]):
        self.ctx, self.name, self.epochs, self.rows = ctx, name, epochs, rows
        self.begun = False

    def on_epoch_end(self, epoch: int, model: Any, history: Any) -> None:
        """See `trainlab.callbacks`; never stops the fit."""
        if not self.begun:
            self.ctx.begin_fit(self.name, self.epochs, model, epoch - 1)
            self.begun = True
        if history.epochs and history.epochs[-1] == epoch:
            self.ctx.live_rows(self.rows(epoch, history))


class RunContext:
    """What an experiment's `run(cfg, ctx)` gets: device, seed, files, report blocks.

    Experiments add figures, tables and text to `ctx.report` (through the delegates
    `text`, `table`, `preformatted`, `figure`), log metric rows, and get named
    checkpoints for the training loop. `observers` see every batch of logged rows; an
    observer with a `begin_fit(ctx, name, epochs, model, start_epoch)` method is also
    told when `train.fit` starts a fit (the live report and the notebook view are such).
    """

    def __init__(self, path: Path, exp_id: str, device: torch.device, seed: int,
                 resume: bool = False, progress: bool = True, quiet: bool = False,
                 observers: Iterable[MetricObserver] = ()):
        self.path = Path(path)
        self.quiet = quiet
        self.exp_id = exp_id
        self.device = device
        self.seed = seed
        self.resume = resume
        self.progress = progress
        self.observers = list(observers)
        self.report = Report()
        self.panels: list[LivePanel] = []
        self.started = time.time()
        (self.path / "figures").mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.path / "metrics.jsonl"
        if not resume:
            self.metrics_path.write_text("")

    @property
    def blocks(self) -> list[Block]:
        """The report's blocks so far, in order."""
        return self.report.blocks

    def echo(self, text: str) -> None:
        """Print a result line on stdout (not with `--json`, where stdout is the summary)."""
        if not self.quiet:
            print(text, flush=True)

    # ----- report content (delegates to self.report)
    def text(self, markdown: str, title: str | None = None) -> Text:
        """A paragraph of the report (markdown subset: paragraphs, `code`, **bold**)."""
        return self.report.text(markdown, title)

    def table(self, rows: list[dict], title: str | None = None,
              columns: list[str] | None = None, caption: str = "") -> Table:
        """A table of the report; `rows` are dicts, `columns` picks and orders keys."""
        return self.report.table(rows, title, columns, caption)

    def preformatted(self, text: str, title: str | None = None) -> Pre:
        """Monospaced text (printed polynomials, matrices)."""
        return self.report.preformatted(text, title)

    def figure(self, fig: Any, name: str, caption: str) -> Path:
        """Save a matplotlib figure as PNG, SVG and its data as CSV under figures/ and add it to
        the report."""
        block: Figure = self.report.figure(fig, name, caption)
        png = self.path / "figures" / f"{block.name}.png"
        atomic_write_bytes(png, block.png)
        atomic_write_bytes(png.with_suffix(".svg"), block.svg)
        if block.csv is not None:
            atomic_write_bytes(png.with_suffix(".csv"), block.csv)
        return png

    # ----- metrics, checkpoints, generators
    def log(self, rows: Iterable[dict]) -> None:
        """Append metric rows (`{"epoch"|"step", "split", "model", <metric>: float}`)."""
        rows = list(rows)
        append_metrics(self.metrics_path, rows)
        for observer in self.observers:  # a sweep's pruner may raise StopRun here
            observer(rows)

    def begin_fit(self, name: str, epochs: int, model: Any, start_epoch: int = 0) -> None:
        """Called by `train.fit` as fit `name` (of `epochs` epochs, at `start_epoch`) starts."""
        for observer in self.observers:
            hook = getattr(observer, "begin_fit", None)
            if hook is not None:
                hook(self, name, epochs, model, start_epoch)

    def live_fit(self, name: str, epochs: int,
                 rows: Callable[[int, Any], list[dict]]) -> LiveFit:
        """A `train.fit` callback that shows a fit run without `ctx` (one that logs no
        metrics) in the live report: `rows(epoch, history)` gives the rows to draw after
        each evaluated epoch (say, a summary over many members); they are not written to
        metrics.jsonl and only the live views see them."""
        return LiveFit(self, name, epochs, rows)

    def live_rows(self, rows: list[dict]) -> None:
        """Rows for the live views only (the observers with `begin_fit`)."""
        for observer in self.observers:
            if hasattr(observer, "begin_fit"):
                observer(rows)

    def live_panel(self, title: str, draw: Callable[[Any], Block | list[Block]],
                   fits: Iterable[str] | None = None) -> None:
        """Add a panel to the live report: `draw(model)` returns a block or a list of
        blocks (`report.charts.LineChart`, `Heatmap`: SVG, milliseconds), drawn from the
        model being trained, in eval mode and without gradients, each time the page is
        rewritten; `fits` limits it to the fits of those names. It costs nothing when
        nobody watches."""
        self.panels.append(LivePanel(title, draw, None if fits is None else tuple(fits)))

    def truncate_metrics(self, fit: str, after_epoch: int) -> None:
        """Drop rows of `fit` past `after_epoch` (before resuming it from a checkpoint)."""
        truncate_metrics(self.metrics_path, fit, after_epoch)

    def checkpoint(self, name: str) -> Checkpoint:
        """The named checkpoint of this run (one per training phase)."""
        return Checkpoint(self.path / "checkpoints", name)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A CPU generator seeded from the run seed (plus an offset per use)."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + offset)
