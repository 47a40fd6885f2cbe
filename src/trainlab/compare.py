"""`trainlab compare DIR DIR [DIR…]`: runs of one experiment side by side.

For every headline number: each run's mean over its replicates with the 95 % interval,
and for every run after the first its difference from the first with the 95 % Welch
interval and the Welch t test's p value (`stats.welch`, on the replicate values; with
one replicate a side there is a difference but no interval). Then each run's claim
verdicts, and the logged loss curves of the runs overlaid (replicate means). Written as
`compare.md` and `compare.html` (+ the figure and its CSV) into `--out DIR`, and printed
as a table.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from trainlab import stats
from trainlab.claims import lookup
from trainlab.errors import BadInput
from trainlab.registry import get
from trainlab.report.blocks import Figure, Report, Section, Table, Text
from trainlab.report.format import fmt
from trainlab.report.plots import new_figure
from trainlab.report.render import save_report
from trainlab.run_folder import atomic_write_bytes, read_json, read_metrics

MAX_CURVES = 6


def load_runs(dirs: list[str | Path]) -> list[dict]:
    """Each completed run folder's `{dir, name, config, summary, metrics}`; BadInput when a
    folder is not a completed run or the runs are of different experiments."""
    if len(dirs) < 2:
        raise BadInput("compare: give at least two run folders")
    runs = []
    for d in dirs:
        path = Path(d)
        if not (path / "config.json").is_file():
            raise BadInput(f"compare: {path} is not a run folder (no config.json)")
        if not (path / "summary.json").is_file():
            raise BadInput(f"compare: {path} has no summary.json (the run did not complete)")
        runs.append({"dir": path, "name": str(len(runs) + 1),
                     "config": read_json(path / "config.json"),
                     "summary": read_json(path / "summary.json"),
                     "metrics": read_metrics(path / "metrics.jsonl")})
    exps = {r["config"].get("experiment") for r in runs}
    if len(exps) != 1:
        names = ", ".join(sorted(map(str, exps)))
        raise BadInput(f"compare: the runs are of different experiments ({names})")
    return runs


def _values(summary: dict, key: str) -> list:
    reps = summary.get("replicates") or [{"summary": summary}]
    values = [lookup(r["summary"], key) for r in reps]
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def numbers_table(runs: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """One row per (headline number, run): mean, ci95, n; difference from the first run."""
    rows = []
    for key in keys:
        base = _values(runs[0]["summary"], key)
        for i, run in enumerate(runs):
            vals = _values(run["summary"], key)
            if not vals:
                continue
            d = stats.describe(vals)
            row = {"number": key, "run": run["name"], "mean": d["mean"], "n": d["n"],
                   "ci95": d["ci95"], "difference": None, "diff_ci95": None, "p_value": None}
            if i and base:
                w = stats.welch(base, vals)
                row.update(difference=w["difference"], diff_ci95=w["ci95"],
                           p_value=w["p_value"])
            rows.append(row)
    return rows


def claims_table(runs: list[dict]) -> list[dict]:
    """One row per claim: the verdict (and value) in every run."""
    rows: dict[str, dict] = {}
    for run in runs:
        for c in run["summary"].get("claims") or []:
            row = rows.setdefault(c["id"], {"claim": c["id"]})
            row[run["name"]] = f"{c['verdict']} ({fmt(c['value'])})"
    return list(rows.values())


def _mean_curves(metrics: list[dict]) -> dict:
    """(fit, model, split) -> (epochs, mean train/test loss over the run's seeds)."""
    acc: dict = defaultdict(lambda: defaultdict(list))
    for r in metrics:
        x, v = r.get("epoch", r.get("step")), r.get("loss")
        if x is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
            # replicates in one ensemble name their members "<model>/seed<S>"
            model = re.sub(r"/seed-?\d+$", "", str(r.get("model", "")))
            acc[(r.get("fit", ""), model, r.get("split", ""))][x].append(float(v))
    return {k: (sorted(by_x), [float(np.mean(by_x[x])) for x in sorted(by_x)])
            for k, by_x in acc.items() if len(by_x) > 1}


def curves_figure(runs: list[dict], out: Path) -> Figure | None:
    """The loss curves of the runs overlaid: one colour per run, one style per curve."""
    per_run = [_mean_curves(r["metrics"]) for r in runs]
    keys = [k for k in per_run[0] if all(k in c for c in per_run[1:])][:MAX_CURVES]
    if not keys:
        return None
    fig, axes = new_figure(width=7.0, height=4.2)
    ax = axes[0, 0]
    for i, (run, curves) in enumerate(zip(runs, per_run, strict=True)):
        for j, key in enumerate(keys):
            xs, ys = curves[key]
            ax.plot(xs, ys, color=f"C{i}", ls=("-", "--", ":", "-.")[j % 4], lw=1.2,
                    label=f"{run['name']}: {' · '.join(p for p in key if p)}")
    ax.set(xlabel="epoch", ylabel="loss (mean over replicates)", yscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="xx-small")
    block = Figure.of(fig, "compare-curves", "Logged loss curves of every run (colour) and "
                      "fit (line style), each the mean over the run's replicates.")
    for suffix, data in ((".png", block.png), (".svg", block.svg), (".csv", block.csv)):
        atomic_write_bytes(out / "figures" / f"{block.name}{suffix}", data)
    return block


def _cell(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return "" if v is None else fmt(v)


def compare(dirs: list[str | Path], out: str | Path) -> tuple[Path, str]:
    """Write compare.md / compare.html into `out`; returns the folder and a text table."""
    runs = load_runs(dirs)
    exp = get(runs[0]["config"]["experiment"])
    keys = tuple(exp.headline) or tuple(runs[0]["summary"].get("stats", {}))
    numbers = numbers_table(runs, keys)
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    shown = [{k: _cell(v) for k, v in r.items()} for r in numbers]
    blocks = [Text("Runs: " + ", ".join(f"{r['name']} = `{r['dir']}`" for r in runs)
                   + ". Differences are "
                   "against the first run, with the 95 % Welch interval and p value over "
                   "the replicates.")]
    if shown:
        blocks.append(Section("Headline numbers", [Table(shown, list(shown[0]))]))
    claims = claims_table(runs)
    if claims:
        blocks.append(Section("Claims", [Table(claims, list(claims[0]))]))
    fig = curves_figure(runs, out)
    if fig is not None:
        blocks.append(Section("Curves", [fig]))
    report = Report(f"compare: {exp.id}", blocks)
    save_report(out, report)
    (out / "report.md").rename(out / "compare.md")
    (out / "report.html").rename(out / "compare.html")
    return out, _text_table(shown)


def _text_table(rows: list[dict]) -> str:
    if not rows:
        return "(no headline numbers in common)"
    cols = list(rows[0])
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(lines)
