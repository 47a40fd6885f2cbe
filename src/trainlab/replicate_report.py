"""The top of a run's report: its claims, and what its replicates add.

`report_blocks(exp, summary, ctx, separate)` returns the sections that open the page:
"Claims" (the verdict table, and a figure with every replicate's value of each claim,
its 95 % interval and threshold) and, with more than one replicate, "N replicates"
(mean, std and interval of every headline number; for replicates that ran one after
another, the loss and accuracy curves of every fit as the replicate mean with a shaded
95 % band, drawn from the run's merged `metrics.jsonl`, links to each replicate's own
report, and the first replicate's own figures). Figures are saved beside the others,
with their data as CSV.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from trainlab.claims import Claim, replicate_values
from trainlab.registry import Experiment
from trainlab.replicates import claims_of
from trainlab.report.blocks import Block, Figure, Section, Table, Text
from trainlab.report.plots import new_figure
from trainlab.run_context import RunContext
from trainlab.run_folder import atomic_write_bytes, read_metrics
from trainlab.stats import mean_band

MAX_CURVES = 8
VERDICT_COLORS = {"reproduced": "tab:green", "not_reproduced": "tab:red",
                  "inconclusive": "tab:orange"}


def _interval(ci) -> str:
    return "" if not ci else f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def claims_table(claims: list[dict]) -> Table:
    """The claims of a run as a report table (verdict first)."""
    rows = [{"verdict": c["verdict"], "claim": c["statement"], "source": c["source"],
             "statistic": c["statistic"], "value": c["value"], "ci95": _interval(c["ci95"]),
             "n": c["n"], "threshold": f"{c['direction']} {c['threshold']:g}"}
            for c in claims]
    return Table(rows, ["verdict", "claim", "source", "statistic", "value", "ci95", "n",
                        "threshold"],
                 caption="reproduced: the 95 % interval lies wholly on the claim's side of "
                         "the threshold; not_reproduced: wholly on the other side; "
                         "inconclusive: it touches or straddles the threshold.")


def _save(ctx: RunContext, fig, name: str, caption: str) -> Figure:
    block = Figure.of(fig, name, caption)
    base = ctx.path / "figures" / block.name
    for suffix, data in ((".png", block.png), (".svg", block.svg), (".csv", block.csv)):
        atomic_write_bytes(base.with_suffix(suffix), data)
    return block


def _claim_panel(ax, claim: Claim, result: dict, parts: list, seeds: list[int]) -> None:
    color = VERDICT_COLORS.get(result["verdict"], "0.5")
    if claim.estimator == "spearman" and claim.samples is not None:
        for k, part in enumerate(parts):
            if part is not None:
                ax.scatter(part[0], part[1], s=12, color=f"C{k % 10}", label=f"seed {seeds[k]}")
        ax.set(xlabel="x", ylabel="y")
        ax.set_title(f"{claim.id}: ρ = {result['value']:.3g}" if result["value"] is not None
                     else claim.id, fontsize="small", color=color)
        return
    for k, part in enumerate(parts):
        vals = [part] if claim.value is not None else (part or [])
        vals = [v for v in vals if v is not None]
        ax.scatter([k] * len(vals), vals, s=18, color=f"C{k % 10}", label=f"seed {seeds[k]}")
    if result["value"] is not None:
        ci = result["ci95"] or [result["value"]] * 2
        ax.errorbar([len(parts)], [result["value"]], yerr=[[result["value"] - ci[0]],
                                                          [ci[1] - result["value"]]],
                    fmt="D", color=color, capsize=4, label="mean, 95 % interval")
    ax.axhline(claim.threshold, color="0.3", ls="--", lw=1, label="threshold")
    ax.set_xticks(range(len(parts) + 1), [str(s) for s in seeds] + ["all"], fontsize="x-small")
    ax.set(xlabel="replicate seed", ylabel="statistic")
    ax.set_title(f"{claim.id}: {result['verdict']}", fontsize="small", color=color)


def claims_figure(ctx: RunContext, claims: tuple[Claim, ...], results: list[dict],
                  summaries: list[dict], seeds: list[int]) -> Figure:
    """Every replicate's value of every claim, the mean with its interval, the threshold."""
    fig, axes = new_figure(ncols=len(claims), width=3.6, height=3.2)
    for ax, claim, result in zip(axes[0], claims, results, strict=True):
        _claim_panel(ax, claim, result, replicate_values(claim, summaries), seeds)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize="x-small", loc="best")
    return _save(ctx, fig, "claims", "Each claim's statistic for every replicate (dots; pooled "
                 "samples for correlation claims), their mean with its 95 % interval "
                 "(diamond, coloured by verdict) and the claim's threshold (dashed).")


def _curve_groups(rows: list[dict], seeds: list[int]) -> dict:
    """(fit, model, split, metric) -> {epoch: {seed: value}} for loss and accuracy."""
    groups: dict = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        x = r.get("epoch", r.get("step"))
        if x is None or "seed" not in r:
            continue
        for metric in ("loss", "accuracy"):
            v = r.get(metric)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                key = (r.get("fit", ""), r.get("model", ""), r.get("split", ""), metric)
                groups[key][x][r["seed"]] = float(v)
    # keep the epochs every replicate logged
    return {k: {x: v for x, v in by_x.items() if len(v) == len(seeds)}
            for k, by_x in groups.items()}


def curves_figure(ctx: RunContext, seeds: list[int]) -> Figure | None:
    """Loss and accuracy of every fit: replicate mean and shaded 95 % band (at most 8)."""
    groups = {k: v for k, v in _curve_groups(read_metrics(ctx.metrics_path), seeds).items()
              if len(v) > 1}
    metrics = sorted({k[3] for k in groups}, key=("loss", "accuracy").index)
    if not metrics:
        return None
    fig, axes = new_figure(ncols=len(metrics), width=5.2, height=3.8)
    shown = 0
    for ax, metric in zip(axes[0], metrics, strict=True):
        keys = [k for k in groups if k[3] == metric][:MAX_CURVES]
        shown = max(shown, len(keys))
        for i, key in enumerate(keys):
            xs = sorted(groups[key])
            values = np.array([[groups[key][x][s] for s in seeds] for x in xs])
            mean, lo, hi = mean_band(values)
            label = " · ".join(p for p in key[:3] if p)
            ax.plot(xs, mean, color=f"C{i}", label=label, lw=1.2)
            ax.fill_between(xs, lo, hi, color=f"C{i}", alpha=0.2, lw=0)
        ax.set(xlabel="epoch", ylabel=metric, yscale="log" if metric == "loss" else "linear")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="xx-small", loc="best")
    extra = f" (the first {MAX_CURVES} per metric)" if shown == MAX_CURVES else ""
    return _save(ctx, fig, "replicate-curves",
                 f"Logged loss and accuracy of every fit{extra}: mean of {len(seeds)} "
                 "replicates, shaded: its 95 % Student-t band.")


IMAGE_LINE = re.compile(r"^!\[(?P<caption>.*)\]\(figures/(?P<name>[^)/]+)\.png\)$")


def first_replicate_figures(ctx: RunContext, seed: int) -> list[Figure]:
    """The experiment's own figures, as replicate `seed` drew them, for the run's report.

    Replicates that ran one after another drew their figures in their own folders; the
    ones named in `replicates/seed-S/report.md` are copied to the run's `figures/` as
    `seed-S-NAME.*` (PNG, SVG and CSV where present) so the top report shows them too.
    """
    sub = ctx.path / "replicates" / f"seed-{seed}"
    try:
        lines = (sub / "report.md").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        match = IMAGE_LINE.match(line.strip())
        if match is None:
            continue
        name = match["name"]
        data = {}
        for suffix in ("png", "svg", "csv"):
            try:
                data[suffix] = (sub / "figures" / f"{name}.{suffix}").read_bytes()
            except OSError:
                data[suffix] = None
        if data["png"] is None:
            continue
        block = Figure(f"seed-{seed}-{name}", f"{match['caption']} (replicate seed {seed})",
                       png=data["png"], svg=data["svg"], csv=data["csv"])
        base = ctx.path / "figures" / block.name
        for suffix, content in data.items():
            if content is not None:
                atomic_write_bytes(base.with_suffix(f".{suffix}"), content)
        found.append(block)
    return found


def _replicates_section(summary: dict, ctx: RunContext, separate: bool) -> Section:
    seeds = [r["seed"] for r in summary["replicates"]]
    rows = [{"number": k, "mean": v["mean"], "std": v["std"], "n": v["n"],
             "ci95": _interval(v["ci95"])} for k, v in summary.get("stats", {}).items()
            if not isinstance(v["mean"], list)]
    inner: list[Block] = []
    if rows:
        inner.append(Table(rows, list(rows[0]),
                           caption=f"seeds {seeds[0]}…{seeds[-1]}; ci95: Student-t interval "
                                   "of the mean over the replicates."))
    if separate:
        fig = curves_figure(ctx, seeds)
        if fig is not None:
            inner.append(fig)
        links = ", ".join(f"`replicates/seed-{s}/report.html`" for s in seeds)
        inner.append(Text(f"Each replicate ran on its own, with its own report: {links}."))
        figures = first_replicate_figures(ctx, seeds[0])
        if figures:
            inner.append(Text(f"The figures of the first replicate (seed {seeds[0]}); the "
                              "others are in their own reports."))
            inner.extend(figures)
    return Section(f"{len(seeds)} replicates", inner)


def report_blocks(exp: Experiment, summary: dict | None, ctx: RunContext,
                  separate: bool) -> list[Block]:
    """Sections that open the run's report (see the module docstring).

    separate: the replicates ran one after another, each with its own report.
    """
    if not summary or "claims" not in summary:
        return []
    blocks: list[Block] = []
    seeds = [r["seed"] for r in summary.get("replicates", [])]
    claims = claims_of(exp)
    if summary["claims"]:
        inner: list[Block] = [claims_table(summary["claims"])]
        pooled = any(c.samples is not None for c in claims)
        if claims and (len(seeds) > 1 or pooled):
            inner.append(claims_figure(ctx, claims, summary["claims"],
                                       [r["summary"] for r in summary["replicates"]], seeds))
        blocks.append(Section("Claims", inner))
    if len(seeds) > 1:
        blocks.append(_replicates_section(summary, ctx, separate))
    return blocks
