"""Rendering a `Report`: `to_markdown`, `to_html`, and the page of a run.

`run_report` wraps the blocks an experiment added to its `RunContext` (text, tables,
preformatted text, figures) in the page of a run: its state, the question, the
headline numbers, the "what to look at" guide and the configuration. `save_report`
writes `report.md` and a self-contained `report.html` (figures embedded as SVG with a
PNG fallback, every user-given string escaped).
"""

from __future__ import annotations

import json
from pathlib import Path

from trainlab.report.blocks import (
    Block,
    Details,
    Hint,
    KeyValues,
    Report,
    Section,
    Status,
    Table,
    Text,
    block_html,
    block_markdown,
)
from trainlab.report.format import flat_items, fmt, headline_numbers
from trainlab.report.html import crumbs, esc, page
from trainlab.run_folder import atomic_write_text

# the files of a run folder, linked from the top of its page
RUN_LINKS = [("All runs", "../../index.html")] + [
    (name, name) for name in
    ("config.json", "summary.json", "metrics.jsonl", "status.json", "report.md")]


def to_markdown(report: Report) -> str:
    """The report as markdown (figures link to `figures/<name>.png`)."""
    lines = [f"# {report.title}", ""] if report.title else []
    for b in report.blocks:
        lines += block_markdown(b)
    return "\n".join(lines).rstrip("\n") + "\n"


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    head = "".join(dict.fromkeys(h for b in report.blocks for h in b.render_head()))
    body = crumbs(report.links)
    if report.title:
        body += f"<h1>{esc(report.title)}</h1>"
    body += "".join(block_html(b) for b in report.blocks)
    return page(f"{report.title} — trainlab" if report.title else "trainlab", body, head=head)


def save_report(folder: str | Path, report: Report, sync: bool = True) -> None:
    """Write `report.md` and `report.html` into `folder`, atomically (`sync=False`: no
    fsync, for the live report's frequent rewrites)."""
    folder = Path(folder)
    atomic_write_text(folder / "report.md", to_markdown(report), sync)
    atomic_write_text(folder / "report.html", to_html(report), sync)


def run_report(*, exp_id: str, title: str, question: str, what_to_look_at: str,
               config: dict, status: dict, summary: dict | None, blocks: list[Block],
               headline_keys: tuple[str, ...] = ()) -> Report:
    """The page of a run around the experiment's `blocks`.

    `config` is config.json's content, `status` status.json's, `summary` the summary
    (None unless the run completed); `headline_keys` picks the headline numbers.
    """
    sections: list[Block] = [Status(exp_id, status.get("state", "unknown"),
                                    status.get("reason"), status.get("seconds"))]
    if question:
        sections.append(Section("Question", [Text(question)]))
    numbers = headline_numbers(summary, headline_keys)
    if numbers:
        sections.append(Section("Headline numbers", [KeyValues(numbers)]))
    sections.append(Section("Results", list(blocks)))
    if what_to_look_at:
        sections.append(Section("What to look at", [Hint(what_to_look_at)]))
    # values are shown as text, left-aligned, like the keys
    rows = [{"key": k, "value": fmt(v)} for k, v in flat_items(config)]
    sections.append(Section("Configuration", [Table(rows, ["key", "value"], header=False)]))
    if summary:
        sections.append(Details("Full summary.json", json.dumps(summary, indent=2)[:200_000]))
    return Report(title, sections, links=list(RUN_LINKS))


def render_report(run_dir: str | Path, **fields) -> None:
    """Write the report files of a run: `save_report(run_dir, run_report(**fields))`."""
    save_report(run_dir, run_report(**fields))
