"""`index.html` of a runs folder: every run, grouped by chapter, with its key numbers.

The newest run of each experiment gets a card (thumbnail, headline numbers, link to
its report); older runs are listed below it. Runs still in progress show as running.
Links are relative, so the folder can be copied or served as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainlab.registry import CHAPTERS, all_experiments
from trainlab.report.format import fmt, headline_numbers, unit
from trainlab.report.html import badge, esc, key_values, page
from trainlab.run_folder import atomic_write_text

REFRESH = "<meta http-equiv='refresh' content='5'>"


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
    """Sweep folders (`runs_dir/sweeps/<study>/best.json`), and sweeps still on their
    first report (no best.json yet, `trials/N/` run folders) with `best` None."""
    sweeps = []
    root = runs_dir / "sweeps"
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            best = _read(d / "best.json")
            trials = sorted((t for t in (d / "trials").glob("*") if t.is_dir()),
                            key=lambda t: (len(t.name), t.name))
            if best is not None or trials:
                sweeps.append({"dir": d, "best": best, "trials": [
                    (t, (_read(t / "status.json") or {}).get("state", "starting"))
                    for t in trials]})
    return sweeps


def _thumbnail(run_dir: Path) -> str:
    figs = sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").is_dir() else []
    return figs[0].name if figs else ""


def _dataset(config: dict) -> str:
    """What a run trained on, from its config's `data` section ("" when it has none)."""
    data = (config.get("config") or {}).get("data")
    if not isinstance(data, dict):
        return ""
    if data.get("path"):
        return Path(str(data["path"])).name + (
            f" / {Path(str(data['test_path'])).name}" if data.get("test_path") else "")
    text = str(data.get("name") or "")
    if data.get("root"):
        text = f"{text} IDX files in {data['root']}".strip()
    elif text:
        text += " (built-in)"
    if data.get("max_train"):
        text += f", at most {data['max_train']} training examples"
    return text


def _setting(config: dict) -> str:
    """`preset quick · seed 1 · data mnist (built-in)`: what the card's numbers come from."""
    parts = [f"preset {config['preset']}" if config.get("preset") else "",
             f"seed {config['seed']}" if config.get("seed") is not None else "",
             f"data {_dataset(config)}" if _dataset(config) else ""]
    return " · ".join(p for p in parts if p)


def _run_card(runs_dir: Path, exp_id: str, runs: list[dict], exp) -> str:
    """The card of one experiment: its newest completed run, the others listed under it."""
    done = [r for r in runs if r["status"].get("state") == "completed"]
    latest = done[0] if done else runs[0]
    older = [r for r in runs if r is not latest]
    rel = esc(latest["dir"].relative_to(runs_dir).as_posix())
    numbers = headline_numbers(latest["summary"], exp.headline if exp else ())
    labelled = [(f"{k} ({unit(k)})" if unit(k) else k, v) for k, v in numbers.items()]
    thumb = _thumbnail(latest["dir"])
    img = (f"<img src='{rel}/figures/{esc(thumb)}' alt='{esc(exp_id)} figure' "
           "loading='lazy'>" if thumb else "")
    title = latest["config"].get("title") or exp_id
    more = ""
    if older:
        links = "".join(
            f"<li><a href='{esc(r['dir'].relative_to(runs_dir).as_posix())}/report.html'>"
            f"{esc(r['dir'].name)}</a> <span class='{esc(r['status'].get('state', ''))}'>"
            f"{esc(r['status'].get('state', ''))}</span> <span class='muted'>"
            f"{esc(_setting(r['config']))}</span></li>" for r in older[:20])
        more = f"<details><summary>{len(older)} other run(s)</summary><ul>{links}</ul></details>"
    return (f"<div class='card'><a href='{rel}/report.html'>{img}</a>"
            f"<h3><a href='{rel}/report.html'>{esc(title)}</a></h3>"
            f"<div class='muted'>{esc(exp.purpose) if exp else ''}</div>"
            f"<p>{badge(latest['status'].get('state', 'unknown'))} "
            f"<span class='muted'>{esc(latest['dir'].name)}</span></p>"
            f"<p class='muted setting'>{esc(_setting(latest['config']))}</p>"
            f"{_claim_badges(latest['summary'])}"
            f"{key_values(labelled[:5])}{more}</div>")


def _best_line(best: dict) -> str:
    """`best test_error 1.07 (minimize, trial 12)`: the value names its objective."""
    objective = best.get("objective") or "value"
    notes = [best.get("direction")]
    if best.get("trial") is not None:
        notes.append(f"trial {best['trial']}")
    notes = [n for n in notes if n]
    return (f"best {objective} {fmt(best.get('value'))}"
            + (f" ({', '.join(notes)})" if notes else ""))


def _claim_badges(summary: dict | None) -> str:
    """One badge per claim of a run's summary: its verdict, the claim id on hover."""
    claims = (summary or {}).get("claims") or []
    if not claims:
        return ""
    items = "".join(f"<span title='{esc(c.get('id', ''))}: {esc(c.get('statement', ''))}'>"
                    f"{badge(c.get('verdict', 'inconclusive'))}</span> " for c in claims)
    return f"<p class='claims'>claims: {items}</p>"


def _sweep_card(runs_dir: Path, sweep: dict) -> str:
    """The card of one sweep folder: its best value and best parameters."""
    rel = esc(sweep["dir"].relative_to(runs_dir).as_posix())
    best = sweep["best"]
    if best is None:  # in progress: its trials so far, each with its live report
        links = "".join(f"<li><a href='{rel}/trials/{esc(t.name)}/report.html'>trial "
                        f"{esc(t.name)}</a> {badge(state)}</li>"
                        for t, state in sweep["trials"][-10:])
        return (f"<div class='card'><h3>sweep {esc(sweep['dir'].name)}</h3>"
                f"<p>{badge('running')} <span class='muted'>{len(sweep['trials'])} trial(s) "
                f"so far</span></p><ul>{links}</ul></div>")
    return (f"<div class='card'><h3><a href='{rel}/report.html'>sweep {esc(sweep['dir'].name)}"
            f"</a></h3><p class='muted'>{esc(_best_line(best))}</p>"
            f"{key_values(list((best.get('params') or {}).items())[:5])}</div>")


def write_index(runs_dir: str | Path) -> Path:
    """(Re)build `runs_dir/index.html`; returns its path."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    out = runs_dir / "index.html"
    atomic_write_text(out, index_html(runs_dir))
    return out


def index_html(runs_dir: str | Path) -> str:
    """The index page of `runs_dir` as it stands; it reloads itself every few seconds
    while a run is running (`trainlab watch` serves it fresh on every request)."""
    runs_dir = Path(runs_dir)
    runs = collect_runs(runs_dir)
    experiments = {e.id: e for e in all_experiments()}
    sections = []
    for chapter in [*CHAPTERS, "other"]:
        ids = sorted(i for i in runs
                     if (experiments[i].chapter if i in experiments else "other") == chapter)
        cards = [_run_card(runs_dir, i, runs[i], experiments.get(i)) for i in ids]
        if chapter == "sweeps":
            cards += [_sweep_card(runs_dir, sw) for sw in collect_sweeps(runs_dir)]
        if cards:
            sections.append(f"<h2>{esc(chapter.capitalize())}</h2>"
                            f"<div class='grid'>{''.join(cards)}</div>")
    if not sections:
        sections.append("<p>No runs yet. Start one with <code>trainlab run polyfit</code>.</p>")
    total = sum(len(v) for v in runs.values())
    body = (f"<h1>trainlab runs</h1><p class='muted'>{total} run(s) of {len(runs)} "
            f"experiment(s) in <code>{esc(runs_dir)}</code></p>{''.join(sections)}")
    running = any(r["status"].get("state") == "running" for v in runs.values() for r in v) \
        or any(sw["best"] is None for sw in collect_sweeps(runs_dir))
    return page("trainlab runs", body, head=REFRESH if running else "")
