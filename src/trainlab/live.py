"""The live report: a running run's `report.html`, rewritten while it trains (layer 3).

`LiveReport` is a metrics observer of the run's `RunContext` (it sees every batch of
rows the run logs) and is told by `train.fit` when a fit starts (`begin_fit`: its name,
its epoch count and the model). From the first evaluation on it rewrites `report.html`
and `report.md` — at most every `interval` seconds (2 by default), so that the cost
stays a few per cent of the run (bench/live.py measures it) — with:

- a `LiveStatus` line: running, the fit and its epoch k of N, elapsed time, an estimate
  of what is left (from this fit's pace so far), and a `<meta http-equiv=refresh>` in
  the page's head so that a browser reloads it every `refresh` seconds, from `file://`
  too: no server is needed;
- the curves so far (`LiveCurves`: one SVG chart per fit and metric, one line per split
  and model; replicates — rows with a `seed` or members named `.../seedS` — drawn as
  their mean with a 95 % band);
- the experiment's live panels (`RunContext.live_panel`: a function of the model being
  trained that returns a report block, e.g. the learned curve or the decision
  boundary), drawn from the current model in eval mode without gradients;
- the blocks the experiment has already added to its report.

The runner's final report replaces the page when the run ends (completed, failed or
interrupted); it has no refresh. `NotebookLive` shows the same curves in a Jupyter
cell (`trainlab.run(..., live=True)`), updated through an IPython display handle.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainlab.report.blocks import Block, Text
from trainlab.report.charts import Curve, LineChart, thin
from trainlab.report.html import badge, esc
from trainlab.report.render import run_report, save_report
from trainlab.stats import LEVEL

INTERVAL_S = 2.0  # the page is rewritten at most this often
REFRESH_S = 3  # and a browser reloads it this often
MAX_LINES = 10  # curves per chart (the first ones logged)
_SEED = re.compile(r"^(.*)/seed(-?\d+)$")


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else (
        f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s} s")


@dataclass
class LiveStatus(Block):
    """The state line of a running run; its head markup makes the page reload itself."""

    exp_id: str
    fit: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    elapsed: float = 0.0
    left: float | None = None
    refresh: int = REFRESH_S
    title: str | None = None

    def _parts(self) -> list[str]:
        parts = []
        if self.epochs:
            parts.append(f"{self.fit}: epoch {self.epoch or 0} of {self.epochs}")
        parts.append(f"elapsed {_duration(self.elapsed)}")
        parts.append(f"about {_duration(self.left)} left" if self.left is not None
                     else "time left not known yet")
        return parts

    def render_markdown(self) -> list[str]:
        return [f"Experiment `{self.exp_id}` — status: **running** · "
                + " · ".join(self._parts()), ""]

    def render_html(self) -> str:
        return (f"<p class='live'><code>{esc(self.exp_id)}</code> · {badge('running')} · "
                + " · ".join(esc(p) for p in self._parts())
                + f" <span class='muted'>(this page reloads every {self.refresh} s)</span></p>")

    def render_head(self):
        return [f"<meta http-equiv='refresh' content='{int(self.refresh)}'>"]


class _Moments:
    """Running count, mean and sum of squared deviations of one epoch's replicate values
    (Welford's update): the band costs O(1) per logged value, never a re-read."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def push(self, y: float) -> None:
        """Add one replicate's value."""
        self.n += 1
        d = y - self.mean
        self.mean += d / self.n
        self.m2 += d * (y - self.mean)


class LiveCurves:
    """Accumulates metric rows into curves: `(fit, metric) -> line -> replicate -> points`,
    and for replicates `(fit, metric) -> line -> x -> _Moments`, updated as rows arrive, so
    that drawing the charts costs the same whatever the number of replicates."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], dict[str, dict[Any, tuple[list, list]]]] = {}
        self.moments: dict[tuple[str, str], dict[str, dict[Any, _Moments]]] = {}

    def add(self, rows: list[dict]) -> None:
        """Append metric rows (`{"fit", "epoch"|"step", "split", "model", metric: value}`)."""
        for r in rows:
            x = r.get("epoch", r.get("step"))
            if x is None:
                continue
            model = str(r.get("model", ""))
            found = _SEED.match(model)
            rep = r.get("seed", found.group(2) if found else None)
            line = f"{r.get('split', '')}/{found.group(1) if found else model}"
            for metric in ("loss", "accuracy"):
                value = r.get(metric)
                if value is not None:
                    self._point((str(r.get("fit", "")), metric), line, rep, x, float(value))

    def _point(self, key: tuple[str, str], line: str, rep: Any, x, y: float) -> None:
        lines = self.series.setdefault(key, {})
        reps = lines.setdefault(line, {})
        if rep not in reps and len(lines) > MAX_LINES:
            return
        xs, ys = reps.setdefault(rep, ([], []))
        xs.append(x)
        ys.append(y)
        at = self.moments.setdefault(key, {}).setdefault(line, {})
        if x not in at:
            at[x] = _Moments()
        at[x].push(y)

    def charts(self) -> list[LineChart]:
        """One chart per fit and metric; log y for losses that stay positive."""
        out = []
        for key, lines in self.series.items():
            fit, metric = key
            curves = [_curve(label, reps, self.moments[key][label])
                      for label, reps in list(lines.items())[:MAX_LINES]]
            curves = [c for c in curves if c.x]
            positive = all(y > 0 for c in curves for y in c.y)
            out.append(LineChart(curves, ylabel=metric, logy=metric == "loss" and positive,
                                 caption=f"{fit}: {metric} per epoch so far"
                                 + (" (replicates: mean and 95 % band)"
                                    if any(c.lo is not None for c in curves) else "")))
        return out


def _curve(label: str, reps: dict[Any, tuple[list, list]], at: dict[Any, _Moments]) -> Curve:
    """One line; several replicates become, at each epoch, the mean and 95 % Student-t
    band (`stats.mean_band`'s) of those that have reached it (a replicate still running
    counts where it has values), from the running moments `at` (x -> _Moments)."""
    if len(reps) == 1:
        xs, ys = next(iter(reps.values()))
        return Curve(label, xs, ys)
    xs, _ = thin(*([sorted(at)] * 2))
    n, mean, sd = _summarise([at[x] for x in xs])
    from scipy import stats as sps

    half = np.zeros_like(mean)
    many = n > 1
    half[many] = sps.t.ppf(0.5 + LEVEL / 2, n[many] - 1) * sd[many] / np.sqrt(n[many])
    return Curve(f"{label} ({len(reps)} replicates)", xs, mean.tolist(),
                 (mean - half).tolist(), (mean + half).tolist())


def _summarise(moments: list[_Moments]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, mean, sample sd) arrays of shape (T,) from T epochs' running moments; sd is 0
    where only one replicate has a value."""
    n = np.array([m.n for m in moments], dtype=float)
    mean = np.array([m.mean for m in moments])
    m2 = np.array([m.m2 for m in moments])
    sd = np.sqrt(np.divide(m2, n - 1, out=np.zeros_like(m2), where=n > 1))
    return n, mean, sd


class SeedTagged:
    """Passes rows to `observer` with `seed` added (a replicate that runs in its own
    folder feeds the live report of the whole run); forwards `begin_fit`."""

    def __init__(self, observer, seed: int):
        self.observer, self.seed = observer, seed

    def __call__(self, rows: list[dict]) -> None:
        self.observer([{**r, "seed": self.seed} for r in rows])

    def begin_fit(self, ctx, name: str, epochs: int, model, start_epoch: int = 0) -> None:
        self.observer.begin_fit(ctx, name, epochs, model, start_epoch)


def draw_panels(ctx, fit: str | None, model) -> list[Block]:
    """The live panels of `ctx` for fit `fit`, each drawn from `model` (eval, no grad).

    A panel that raises is replaced by a line saying so: the live view must never end
    the run it watches.
    """
    blocks: list[Block] = []
    panels = [p for p in getattr(ctx, "panels", ()) if p.fits is None or fit in p.fits]
    if model is None or not panels:
        return blocks
    was_training = model.training
    model.eval()
    try:
        for p in panels:
            try:
                with torch.no_grad():
                    drawn = p.draw(model)
                drawn = list(drawn) if isinstance(drawn, (list, tuple)) else [drawn]
                if len(drawn) == 1 and drawn[0].title is None:
                    drawn[0].title = p.title
                else:  # the panel's title over its blocks
                    blocks.append(Text(f"**{p.title}**"))
                blocks += drawn
            except Exception as exc:  # shown on the page; the run goes on
                blocks.append(Text(f"(live panel not drawn: {type(exc).__name__}: {exc})",
                                   p.title))
    finally:
        model.train(was_training)
    return blocks


class LiveReport:
    """Rewrites a running run's report at most every `interval` s (module docstring).

    page: the `run_report` keyword fields of the run (exp_id, title, question,
    what_to_look_at, config, status); `seconds_before`: time already spent (resume).
    """

    def __init__(self, path: str | Path, page: dict, *, interval: float = INTERVAL_S,
                 refresh: int = REFRESH_S, seconds_before: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        self.path, self.page = Path(path), page
        self.interval, self.refresh, self.clock = interval, refresh, clock
        self.started = clock() - seconds_before
        self.curves = LiveCurves()
        self.last: float | None = None
        self.writes = 0
        self.ctx = self.fit = self.model = None
        self.epochs = self.epoch = None
        self.fit_t0, self.fit_e0 = self.started, 0

    def begin_fit(self, ctx, name: str, epochs: int, model, start_epoch: int = 0) -> None:
        """`train.fit` starts (or resumes at `start_epoch`) fit `name` of `epochs` epochs."""
        self.ctx, self.fit, self.model, self.epochs = ctx, name, model, epochs
        self.epoch, self.fit_t0, self.fit_e0 = start_epoch, self.clock(), start_epoch

    def __call__(self, rows: list[dict]) -> None:
        """Observer of logged rows: record them; rewrite the page when it is due."""
        self.curves.add(rows)
        epochs = [r.get("epoch") for r in rows if r.get("fit") == self.fit]
        if epochs and all(isinstance(e, int) for e in epochs):
            self.epoch = max(epochs)
        now = self.clock()
        # the last evaluation of a fit is always shown: what follows it (plots, another
        # fit's setup) may log nothing for a while
        last_of_fit = bool(epochs) and self.epochs is not None and self.epoch == self.epochs
        if self.last is None or now - self.last >= self.interval or last_of_fit:
            self.write(now)

    def status_block(self, now: float) -> LiveStatus:
        """The state line as of clock time `now` (ETA from this fit's pace so far)."""
        left = None
        done = (self.epoch or 0) - self.fit_e0
        if self.epochs and done > 0:
            left = (now - self.fit_t0) / done * (self.epochs - self.epoch)
        return LiveStatus(self.page["exp_id"], self.fit, self.epoch, self.epochs,
                          now - self.started, left, self.refresh)

    def write(self, now: float | None = None) -> None:
        """Write report.html and report.md as they stand now."""
        now = self.clock() if now is None else now
        blocks: list[Block] = [*self.curves.charts(),
                               *draw_panels(self.ctx, self.fit, self.model)]
        if self.ctx is not None:
            blocks += self.ctx.report.blocks
        status = {**self.page["status"], "state": "running"}
        report = run_report(**{**self.page, "status": status}, summary=None, blocks=blocks)
        report.blocks[0] = self.status_block(now)
        try:
            save_report(self.path, report, sync=False)
        except OSError:  # a full disk: the run goes on, its end reports the problem
            pass
        self.last, self.writes = self.clock(), self.writes + 1


class NotebookLive:
    """The curves (and live panels) of a run in a Jupyter cell, updated while it trains.

    An observer like `LiveReport`: it shows the page through an IPython display handle
    (`display(obj, display_id=True)`; `display` can be given, for tests) and updates it
    at most every `interval` s and once more at `close()`; the kernel's other output
    (progress bar, prints) goes on around it.
    """

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 display: Callable | None = None):
        from IPython.display import HTML
        from IPython.display import display as ipython_display

        display = display or ipython_display
        self.HTML, self.interval, self.clock = HTML, interval, clock
        self.curves = LiveCurves()
        self.ctx = self.fit = self.model = None
        self.last: float | None = None
        self.handle = display(HTML("<p>waiting for the first evaluation…</p>"),
                              display_id=True)

    def begin_fit(self, ctx, name: str, epochs: int, model, start_epoch: int = 0) -> None:
        """See `LiveReport.begin_fit`."""
        self.ctx, self.fit, self.model = ctx, name, model

    def __call__(self, rows: list[dict]) -> None:
        """Observer of logged rows: update the cell when it is due."""
        self.curves.add(rows)
        now = self.clock()
        if self.last is None or now - self.last >= self.interval:
            self.show()
            self.last = now

    def close(self) -> None:
        """The last update, with every row logged."""
        self.show()

    def show(self) -> None:
        """Update the cell's display with the curves and panels as they stand."""
        from trainlab.report.blocks import block_html

        blocks = [*self.curves.charts(), *draw_panels(self.ctx, self.fit, self.model)]
        self.handle.update(self.HTML("".join(block_html(b) for b in blocks)))
