"""`index.html` of a runs folder: every run, grouped by chapter, with its key numbers.

The newest run of each experiment gets a card (thumbnail, headline numbers, link to
its report); older runs are listed below it. Runs still in progress show as running.
Links are relative, so the folder can be copied or served as it is.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from trainlab.registry import CHAPTERS, all_experiments
from trainlab.report.format import fmt, headline_numbers
from trainlab.report.style import CSS
from trainlab.run_folder import atomic_write_text


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def collect_runs(runs_dir: Path) -> dict[str, list[dict]]:
    """Runs per experiment id, newest first: `{id: [{dir, status, summary, config}]}`."""
    found: dict[str, list[dict]] = {}
    if not runs_dir.is_dir():
        return found
    for exp_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir() and p.name != "sweeps"):
        for run_dir in sorted((p for p in exp_dir.iterdir() if p.is_dir()), reverse=True):
            status = _read(run_dir / "status.json")
            if status is None:
                continue
            found.setdefault(exp_dir.name, []).append({
                "dir": run_dir, "status": status,
                "summary": _read(run_dir / "summary.json"),
                "config": _read(run_dir / "config.json") or {}})
    return found


def collect_sweeps(runs_dir: Path) -> list[dict]:
    """Sweep folders (`runs_dir/sweeps/<study>/best.json`)."""
    sweeps = []
    root = runs_dir / "sweeps"
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            best = _read(d / "best.json")
            if best is not None:
                sweeps.append({"dir": d, "best": best})
    return sweeps


def _thumbnail(run_dir: Path) -> str:
    figs = sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").is_dir() else []
    return figs[0].name if figs else ""


def write_index(runs_dir: str | Path) -> Path:
    """(Re)build `runs_dir/index.html`; returns its path."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    runs = collect_runs(runs_dir)
    experiments = {e.id: e for e in all_experiments()}
    e = html.escape
    sections = []
    chapters = list(CHAPTERS) + ["other"]
    total = sum(len(v) for v in runs.values())
    for chapter in chapters:
        ids = [i for i in runs if (experiments[i].chapter if i in experiments else "other")
               == chapter]
        cards = []
        for exp_id in sorted(ids):
            exp = experiments.get(exp_id)
            # the card shows the newest completed run; the others are listed under it
            done = [r for r in runs[exp_id] if r["status"].get("state") == "completed"]
            latest = done[0] if done else runs[exp_id][0]
            older = [r for r in runs[exp_id] if r is not latest]
            rel = latest["dir"].relative_to(runs_dir).as_posix()
            state = latest["status"].get("state", "unknown")
            numbers = headline_numbers(latest["summary"], exp.headline if exp else ())
            kv = "".join(f"<dt>{e(k)}</dt><dd>{e(fmt(v))}</dd>" for k, v in
                         list(numbers.items())[:5])
            thumb = _thumbnail(latest["dir"])
            img = (f"<img src='{e(rel)}/figures/{e(thumb)}' alt='{e(exp_id)} figure' "
                   "loading='lazy'>" if thumb else "")
            title = latest["config"].get("title") or exp_id
            purpose = e(exp.purpose) if exp else ""
            more = ""
            if older:
                links = "".join(
                    f"<li><a href='{e(r['dir'].relative_to(runs_dir).as_posix())}/report.html'>"
                    f"{e(r['dir'].name)}</a> <span class='{e(r['status'].get('state', ''))}'>"
                    f"{e(r['status'].get('state', ''))}</span></li>" for r in older[:20])
                more = (f"<details><summary>{len(older)} other run(s)</summary>"
                        f"<ul>{links}</ul></details>")
            cards.append(
                f"<div class='card'><a href='{e(rel)}/report.html'>{img}</a>"
                f"<h3><a href='{e(rel)}/report.html'>{e(title)}</a></h3>"
                f"<div class='muted'>{purpose}</div>"
                f"<p><span class='badge {e(state)}'>{e(state)}</span> "
                f"<span class='muted'>{e(latest['dir'].name)}</span></p>"
                f"<dl class='kv'>{kv}</dl>{more}</div>")
        if chapter == "sweeps":
            for sw in collect_sweeps(runs_dir):
                rel = sw["dir"].relative_to(runs_dir).as_posix()
                best = sw["best"]
                kv = "".join(f"<dt>{e(str(k))}</dt><dd>{e(fmt(v))}</dd>"
                             for k, v in list((best.get("params") or {}).items())[:5])
                cards.append(f"<div class='card'><h3><a href='{e(rel)}/report.html'>"
                             f"sweep {e(sw['dir'].name)}</a></h3><p class='muted'>best value "
                             f"{e(fmt(best.get('value')))}</p><dl class='kv'>{kv}</dl></div>")
        if cards:
            sections.append(f"<h2>{e(chapter.capitalize())}</h2><div class='grid'>"
                            f"{''.join(cards)}</div>")
    if not sections:
        sections.append("<p>No runs yet. Start one with <code>trainlab run polyfit</code>.</p>")
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>trainlab runs</title><style>{CSS}</style></head><body><main>"
            f"<h1>trainlab runs</h1><p class='muted'>{total} run(s) of {len(runs)} "
            f"experiment(s) in <code>{e(str(runs_dir))}</code></p>{''.join(sections)}"
            "</main></body></html>\n")
    out = runs_dir / "index.html"
    atomic_write_text(out, page)
    return out
