"""`index.html` of a runs folder: every run, grouped by chapter, with its key numbers.

The newest run of each experiment gets a card (thumbnail, headline numbers, link to
its report); older runs are listed below it with their setting and numbers. Runs in
progress show as running; a run whose status still says running while no live process
holds its `run.lock` (kill -9, a crash, a reboot) shows as stopped, and its live report
stops reloading. Links are relative, so the folder can be copied or served as it is; a
run without a report.html is not linked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from trainlab.registry import CHAPTERS, all_experiments
from trainlab.report.format import explain, fmt, headline_numbers, unit
from trainlab.report.html import badge, esc, key_values, page
from trainlab.run_folder import atomic_write_text
from trainlab.run_lock import RunLock

REFRESH = "<meta http-equiv='refresh' content='5'>"
STOPPED = "stopped"


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
                "dir": run_dir, "status": status, "state": run_state(run_dir, status),
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
                    (t, run_state(t, _read(t / "status.json") or {"state": "starting"}))
                    for t in trials]})
    return sweeps


def run_state(run_dir: Path, status: dict) -> str:
    """The state to show: status.json's, except `stopped` for a run that says running
    while no live process holds its lock (status.json stays as it is: resume reads it)."""
    state = str(status.get("state", "unknown"))
    if state == "running" and not RunLock(run_dir).held():
        return STOPPED
    return state


def _report_link(runs_dir: Path, run_dir: Path, text: str) -> str:
    """`text` linked to the run's report.html, or plain `text` when there is none."""
    if not (run_dir / "report.html").is_file():
        return text
    return f"<a href='{esc(run_dir.relative_to(runs_dir).as_posix())}/report.html'>{text}</a>"


def stopped_note(run_dir: Path) -> str:
    """`(the process is gone; trainlab resume DIR continues it)`, as markup."""
    return (f"(the process is gone; <code>trainlab resume {esc(run_dir)}</code> "
            "continues it)")


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


def _numbers(run: dict, exp) -> list[tuple[str, object]]:
    """The headline numbers of a run, each key labelled with its unit."""
    numbers = headline_numbers(run["summary"], exp.headline if exp else ())
    return [(f"{k} ({unit(k)})" if unit(k) else k, v) for k, v in numbers.items()]


def _tips(exp, numbers: list[tuple[str, object]]) -> dict[str, str]:
    """Tooltips of the labelled headline keys: the experiment's own text, else generic."""
    declared = exp.headline_help if exp else {}
    tips = {}
    for label, _ in numbers:
        key = label.split(" (", 1)[0]
        tips[label] = f"{key}: {declared[key]}" if key in declared else explain(key)
    return tips


def _other_run(runs_dir: Path, run: dict, exp) -> str:
    """One line of the "other runs" list: id, state, setting and headline numbers."""
    state = run["state"]
    numbers = ", ".join(f"{k} {fmt(v)}" for k, v in _numbers(run, exp)[:5])
    detail = " · ".join(p for p in (_setting(run["config"]), numbers) if p)
    note = f" <span class='muted'>{stopped_note(run['dir'])}</span>" if state == STOPPED else ""
    return (f"<li>{_report_link(runs_dir, run['dir'], esc(run['dir'].name))} "
            f"<span class='{esc(state)}'>{esc(state)}</span>{note} "
            f"<span class='muted'>{esc(detail)}</span></li>")


def _run_card(runs_dir: Path, exp_id: str, runs: list[dict], exp) -> str:
    """The card of one experiment: its newest completed run, the others listed under it."""
    done = [r for r in runs if r["state"] == "completed"]
    latest = done[0] if done else runs[0]
    older = [r for r in runs if r is not latest]
    rel = esc(latest["dir"].relative_to(runs_dir).as_posix())
    labelled = _numbers(latest, exp)[:5]
    thumb = _thumbnail(latest["dir"])
    img = (f"<img src='{rel}/figures/{esc(thumb)}' alt='{esc(exp_id)} figure' "
           "loading='lazy'>" if thumb else "")
    title = latest["config"].get("title") or exp_id
    more = ""
    stopped = (f"<p class='muted'>{STOPPED} {stopped_note(latest['dir'])}</p>"
               if latest["state"] == STOPPED else "")
    if older:
        links = "".join(_other_run(runs_dir, r, exp) for r in older[:20])
        more = f"<details><summary>{len(older)} other run(s)</summary><ul>{links}</ul></details>"
    return (f"<div class='card'>{_report_link(runs_dir, latest['dir'], img) if img else ''}"
            f"<h3>{_report_link(runs_dir, latest['dir'], esc(title))}</h3>"
            f"<div class='muted'>{esc(exp.purpose) if exp else ''}</div>"
            f"<p>{badge(latest['state'])} "
            f"<span class='muted'>{esc(latest['dir'].name)}</span></p>"
            f"{stopped}<p class='muted setting'>{esc(_setting(latest['config']))}</p>"
            f"{_claim_badges(latest['summary'])}"
            f"{key_values(labelled, _tips(exp, labelled))}{more}</div>")


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
        links = "".join(f"<li>{_report_link(runs_dir, t, f'trial {esc(t.name)}')} "
                        f"{badge(state)}</li>" for t, state in sweep["trials"][-10:])
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
    for runs in collect_runs(runs_dir).values():
        for run in runs:
            if run["state"] == STOPPED:
                settle_live_report(run["dir"])
    return out


_REFRESH_TAG = re.compile(r"<meta http-equiv=['\"]refresh['\"][^>]*>")


def settle_live_report(run_dir: Path) -> bool:
    """Make the live report.html of a stopped run static: no reload, and a note at the
    top that the process is gone. True when the file was rewritten."""
    path = run_dir / "report.html"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not _REFRESH_TAG.search(text) or "<main>" not in text:
        return False
    note = (f"<p class='hint'><span class='badge {STOPPED}'>{STOPPED}</span> "
            f"{stopped_note(run_dir)}: what follows is its last live update.</p>")
    text = _REFRESH_TAG.sub("", text).replace("<main>", "<main>" + note, 1)
    atomic_write_text(path, text)
    return True


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
    running = any(r["state"] == "running" for v in runs.values() for r in v) \
        or any(sw["best"] is None for sw in collect_sweeps(runs_dir))
    return page("trainlab runs", body, head=REFRESH if running else "")
