"""The sweep folder: `trials.csv`, `best.json`, figures and a self-contained `report.html`.

The page shows the settings, the best trial (with a link to its run report), the
figures of `trainlab.sweeps.figures` embedded as PNG, the genetic algorithm's
generations, the trials and the search space; every string is escaped.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import TrialState

from trainlab.report.format import fmt
from trainlab.report.html import Link, crumbs, esc, figure, key_values, page, table
from trainlab.run_folder import atomic_write_json, atomic_write_text
from trainlab.sweeps.figures import (
    elite,
    ga_figures,
    generations,
    history_figure,
    importance_figure,
    importances,
    parallel_figure,
    slice_figure,
)
from trainlab.sweeps.samplers import GA_GENERATION_KEY


def _rel(path: str | None, root: Path) -> str | None:
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _seconds(t) -> float | None:
    dead = t.state == TrialState.FAIL and not {"fail_reason", "skipped"} & set(t.user_attrs)
    if "same_as" in t.user_attrs or dead:  # no run of its own, or no end that was timed
        return None
    if t.datetime_start and t.datetime_complete:
        return round((t.datetime_complete - t.datetime_start).total_seconds(), 3)
    return None


def _note(t) -> str:
    u = t.user_attrs
    if t.state == TrialState.PRUNED:
        return f"pruned at epoch {u.get('pruned_at', '?')}"
    if t.state == TrialState.FAIL:
        if "fail_reason" in u:
            return str(u["fail_reason"])
        if "skipped" in u:
            return str(u["skipped"])
        return "worker stopped beating (killed?)"
    if "same_as" in u:
        return f"same parameters as trial {u['same_as']}: its value, not run again"
    if "failed_trial" in t.system_attrs:
        return f"retry of trial {t.system_attrs['failed_trial']}"
    return ""


def trial_rows(s, trials, root: Path) -> list[dict[str, Any]]:
    """One plain row per trial (the content of trials.csv)."""
    rows = []
    for t in trials:
        row: dict[str, Any] = {"number": t.number, "state": t.state.name, "value": t.value}
        for p in s.params:
            row[p.key] = t.params.get(p.key)
        if s.sampler == "ga":
            row["generation"] = t.system_attrs.get(GA_GENERATION_KEY)
        row.update(seconds=_seconds(t), run_dir=_rel(t.user_attrs.get("run_dir"), root),
                   worker=t.user_attrs.get("worker"), note=_note(t))
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    columns = list(rows[0]) if rows else ["number", "state", "value"]
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


# ------------------------------------------------------------------------ page


def _img(root: Path, name: str, caption: str) -> str:
    return figure((root / "figures" / f"{name}.png").read_bytes(), caption)


def _table(rows: list[dict], columns: list[str], links: dict[int, str] | None = None) -> str:
    """A toolkit table with empty cells for None and the trial numbers linked to runs."""
    links = links or {}
    shown = []
    for i, r in enumerate(rows):
        row = {c: ("" if r.get(c) is None else r.get(c)) for c in columns}
        if i in links and "number" in row:
            row["number"] = Link(links[i], row["number"])
        shown.append(row)
    return table(shown, columns)


def best_trial(s, trials):
    """The best completed trial (the first of equals), or None."""
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if not done:
        return None
    return (min if s.direction == "minimize" else max)(done, key=lambda t: t.value)


def closing_line(s, study) -> str:
    """`trainlab sweep: best trial 3: loss = 0.12 (lr=0.01) -> <its run folder>`."""
    best = best_trial(s, study.get_trials(deepcopy=False))
    if best is None:
        return f"trainlab sweep: no trial completed; see {s.sweep_dir / 'report.html'}"
    params = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in best.params.items())
    run = _rel(best.user_attrs.get("run_dir"), s.sweep_dir)
    where = s.sweep_dir / run if run else s.sweep_dir
    return (f"trainlab sweep: best trial {best.number}: {s.objective} = {best.value:.6g} "
            f"({params}) -> {where}")


def _best(s, trials, root: Path) -> tuple[Any, dict[str, Any]]:
    """The best completed trial (or None) and the content of best.json (its run folder
    relative to the sweep folder, as in trials.csv)."""
    best_t = best_trial(s, trials)
    return best_t, {"value": best_t.value if best_t else None,
                    "params": dict(best_t.params) if best_t else {},
                    "trial": best_t.number if best_t else None,
                    "run_dir": _rel(best_t.user_attrs.get("run_dir"), root) if best_t else None,
                    "objective": s.objective, "direction": s.direction,
                    "experiment": s.exp.id, "study": s.study_name, "sampler": s.sampler}


def _mutation(s) -> str:
    if s.mutation_prob is not None:
        return fmt(s.mutation_prob)
    return f"default (1/{len(s.params)} = 1/number of parameters)"


def _settings(s, trials) -> dict[str, str]:
    """The lines at the top of the page: what was searched, how, and how far it got."""
    c = {st.name: sum(1 for t in trials if t.state == st) for st in TrialState}
    ga = (f" (population {s.population}, crossover {s.crossover}, "
          f"mutation prob {_mutation(s)})" if s.sampler == "ga" else "")
    return {"experiment": s.exp.id, "study": s.study_name, "storage": s.storage.shown,
            "sampler": s.sampler + ga, "objective": f"{s.objective} ({s.direction})",
            "preset": s.preset,
            "fixed settings": ", ".join(f"{k}={json.dumps(v)}" for k, v in s.sets.items()) or "—",
            "finished / target": f"{c['COMPLETE'] + c['PRUNED']} / {s.target}",
            "states": ", ".join(f"{k.lower()} {v}" for k, v in c.items() if v),
            "space": s.space_source}


def _best_section(s, best_t, root: Path) -> str:
    if best_t is None:
        return "<h2>Best trial</h2><p>No trial completed.</p>"
    link = _rel(best_t.user_attrs.get("run_dir"), root)
    run = (f" · <a href='{esc(link)}/report.html'>its run report</a>"
           if link and not link.startswith("/") else "")
    return (f"<h2>Best trial</h2><p>trial {best_t.number}: {esc(s.objective)} = "
            f"<strong>{esc(fmt(best_t.value))}</strong>{run}</p>"
            + _table([{"parameter": k, "value": v} for k, v in best_t.params.items()],
                     ["parameter", "value"]))


def _ga_section(s, gens: dict, ga: tuple, root: Path) -> str:
    """The genetic algorithm's generations: two figures and a table of the elite."""
    gen_rows = []
    for g, members in gens.items():
        top = elite(s, members)
        row: dict[str, Any] = {"generation": g, "size": len(members), "best": top[0].value,
                               "median of best 30 %": float(np.median([t.value for t in top]))}
        for p in s.params:
            if p.kind != "categorical":
                vals = [t.params[p.key] for t in top if p.key in t.params]
                row[f"{p.key} (median, best 30 %)"] = float(np.median(vals)) if vals else None
        gen_rows.append(row)
    return ("<h2>Genetic algorithm</h2><p>NSGA-II keeps the best individuals of "
            "parents and children and breeds the next generation from them by "
            "crossover and mutation. Below: the fitness of every generation and "
            "its best 30 %.</p>"
            + _img(root, ga[0], "Fitness of every individual (grey), of the best 30 % "
                   "(blue), the best of each generation and the best so far.")
            + _img(root, ga[1], "Parameters of the best 30 % of each generation (colour: "
                   "fitness, bright is good): the population gathers where the fitness "
                   "is good.")
            + _table(gen_rows, list(gen_rows[0])))


def _trials_section(s, trials, rows: list[dict], root: Path) -> str:
    """The 50 best completed trials, then the others, each linked to its run report."""
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    shown = sorted(done, key=lambda t: t.value, reverse=s.direction == "maximize")[:50]
    shown += [t for t in trials if t.state != TrialState.COMPLETE][:50]
    by_number = {r["number"]: r for r in rows}
    table_rows = [by_number[t.number] for t in shown]
    links = {i: f"{r['run_dir']}/report.html" for i, r in enumerate(table_rows)
             if r.get("run_dir") and not str(r["run_dir"]).startswith("/")
             and (root / r["run_dir"] / "report.html").is_file()}
    cols = ["number", "state", "value"] + [p.key for p in s.params] + \
        (["generation"] if s.sampler == "ga" else []) + ["seconds", "note"]
    return ("<h2>Trials</h2><p class='muted'>The 50 best completed trials, then the "
            "others; every trial is in trials.csv.</p>" + _table(table_rows, cols, links))


def write_report(s, study, root: Path, full: bool = True) -> Path:
    """Write trials.csv, best.json and (`full`) figures/ and report.html into the folder."""
    from trainlab.sweeps.engine import settle_dead

    trials = study.get_trials(deepcopy=False)
    settle_dead(trials)
    rows = trial_rows(s, trials, root)
    _write_csv(root / "trials.csv", rows)
    best_t, best = _best(s, trials, root)
    atomic_write_json(root / "best.json", best)
    if not full:
        return root
    (root / "figures").mkdir(exist_ok=True)
    imp, method = importances(study, s, trials)
    gens = generations(s, trials) if s.sampler == "ga" else {}
    figs = [(history_figure(s, trials, root), f"{s.objective} of every completed trial; the "
             "line is the best so far; dotted red lines mark failed or pruned trials (no value)."),
            (slice_figure(s, trials, root), f"{s.objective} against each parameter "
             "(colour: trial number, later trials are yellow)."),
            (parallel_figure(s, trials, root), "Parallel coordinates: each line is a "
             f"completed trial through its parameters (low to high of the space) to its "
             f"{s.objective}; bright lines are the best."),
            (importance_figure(imp, method, root), f"How much each parameter explains the "
             f"variation of {s.objective} ({method}).")]
    ga = ga_figures(s, gens, root)

    title = f"Sweep {s.study_name}"
    body = [crumbs([("All runs", "../../index.html")]
                   + [(n, n) for n in ("trials.csv", "best.json", "sweep.json")]),
            f"<h1>{esc(title)}</h1>", key_values(_settings(s, trials).items()),
            _best_section(s, best_t, root)]
    figures = [_img(root, n, cap) for n, cap in figs if n]
    if figures:
        body.append("<h2>Figures</h2>" + "".join(figures))
    if gens:
        body.append(_ga_section(s, gens, ga, root))
    body.append(_trials_section(s, trials, rows, root))
    body.append("<h2>Search space</h2>" + _table(
        [{"key": p.key, "distribution": p.describe()} for p in s.params],
        ["key", "distribution"]))
    if s.storage.shared:
        body.append("<h2>Watch it live</h2><div class='hint'><p>The study is stored in "
                    f"<code>{esc(s.storage.shown)}</code>; <code>optuna-dashboard</code> "
                    "shows it while the workers run.</p></div>")
    atomic_write_text(root / "report.html", page(f"{title} — trainlab", "".join(body)))
    return root
