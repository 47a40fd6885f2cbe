"""A run's `report.md` and self-contained `report.html`.

The page is built from the blocks an experiment added to its `RunContext` (text,
tables, preformatted text, figures), plus the question, the configuration, the
headline numbers and the "what to look at" guide. Every user-given string is escaped;
figures are embedded as SVG with a PNG fallback, so the page needs nothing else.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from trainlab.report.style import CSS
from trainlab.runs import atomic_write_text


def fmt(value: Any) -> str:
    """Short human form of a number or value."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, (list, tuple)):
        if len(value) > 8:
            return "[" + ", ".join(fmt(v) for v in value[:8]) + f", … ({len(value)} items)]"
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def inline_markdown(text: str) -> str:
    """Escape, then render `code`, **bold** and *italic*."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![*\w])\*([^*\s][^*]*)\*(?!\w)", r"<em>\1</em>", out)
    return out


def markdown_to_html(text: str) -> str:
    """Paragraphs and `- ` bullet lists of a small markdown subset, escaped."""
    parts = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = para.splitlines()
        if lines and all(ln.lstrip().startswith("- ") for ln in lines):
            items = "".join(f"<li>{inline_markdown(ln.lstrip()[2:])}</li>" for ln in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(f"<p>{inline_markdown(' '.join(lines))}</p>")
    return "\n".join(parts)


def headline_numbers(summary: dict | None, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Scalar numbers of a summary: the named keys (dotted) or every top-level scalar."""
    if not summary:
        return {}
    out: dict[str, Any] = {}
    for key in keys:
        value: Any = summary
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            out[key] = value
    if not keys:
        out = {k: v for k, v in summary.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


def _table_html(block: dict) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in block["columns"])
    body = []
    for row in block["rows"]:
        cells = []
        for c in block["columns"]:
            v = row.get(c)
            cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{html.escape(fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = (f"<p class='muted'>{inline_markdown(block['caption'])}</p>"
               if block.get("caption") else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{caption}"


def _table_md(block: dict) -> str:
    cols = block["columns"]
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in block["rows"]:
        lines.append("| " + " | ".join(fmt(row.get(c)).replace("|", "\\|") for c in cols) + " |")
    if block.get("caption"):
        lines += ["", block["caption"]]
    return "\n".join(lines)


def _figure_html(run_dir: Path, block: dict) -> str:
    png = run_dir / "figures" / f"{block['name']}.png"
    svg = run_dir / "figures" / f"{block['name']}.svg"
    if not png.exists():
        return ""
    png_b64 = base64.b64encode(png.read_bytes()).decode()
    source = ""
    if svg.exists():
        svg_b64 = base64.b64encode(svg.read_bytes()).decode()
        source = f'<source type="image/svg+xml" srcset="data:image/svg+xml;base64,{svg_b64}">'
    alt = html.escape(block["caption"], quote=True)
    return (f'<figure><picture>{source}<img class="fig" alt="{alt}" '
            f'src="data:image/png;base64,{png_b64}"></picture>'
            f"<figcaption>{inline_markdown(block['caption'])}</figcaption></figure>")


def _flat_config(cfg: dict, prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for k, v in cfg.items():
        if isinstance(v, dict):
            rows += _flat_config(v, f"{prefix}{k}.")
        else:
            rows.append((prefix + k, v))
    return rows


def render_report(run_dir: str | Path, *, exp_id: str, title: str, question: str,
                  what_to_look_at: str, config: dict, status: dict, summary: dict | None,
                  blocks: list[dict], headline_keys: tuple[str, ...] = ()) -> None:
    """Write `report.md` and `report.html` into `run_dir`."""
    run_dir = Path(run_dir)
    numbers = headline_numbers(summary, headline_keys)
    state = status.get("state", "unknown")
    reason = status.get("reason")

    md = [f"# {title}", "", f"Experiment `{exp_id}` — status: **{state}**"
          + (f" ({reason})" if reason else ""), ""]
    if question:
        md += ["## Question", "", question, ""]
    if numbers:
        md += ["## Headline numbers", ""] + [f"- {k}: {fmt(v)}" for k, v in numbers.items()] + [""]
    md += ["## Results", ""]
    for b in blocks:
        if b.get("title"):
            md += [f"### {b['title']}", ""]
        if b["kind"] == "text":
            md += [b["text"], ""]
        elif b["kind"] == "pre":
            md += ["```", b["text"], "```", ""]
        elif b["kind"] == "table":
            md += [_table_md(b), ""]
        elif b["kind"] == "figure":
            md += [f"![{b['caption']}](figures/{b['name']}.png)", "", f"*{b['caption']}*", ""]
    if what_to_look_at:
        md += ["## What to look at", "", what_to_look_at, ""]
    md += ["## Configuration", "", "| key | value |", "|---|---|"]
    md += [f"| {k} | {fmt(v)} |" for k, v in _flat_config(config)]
    atomic_write_text(run_dir / "report.md", "\n".join(md) + "\n")

    e = html.escape
    body = ["<nav class='crumbs'><a href='../../index.html'>All runs</a> · "
            "<a href='config.json'>config.json</a> · <a href='summary.json'>summary.json</a> · "
            "<a href='metrics.jsonl'>metrics.jsonl</a> · <a href='status.json'>status.json</a> · "
            "<a href='report.md'>report.md</a></nav>",
            f"<h1>{e(title)}</h1>",
            f"<p><code>{e(exp_id)}</code> · <span class='badge {e(state)}'>{e(state)}</span>"
            + (f" {e(str(reason))}" if reason else "")
            + f" · {e(str(status.get('seconds') or 0.0)[:6])} s</p>"]
    if question:
        body.append(f"<h2>Question</h2>{markdown_to_html(question)}")
    if numbers:
        kv = "".join(f"<dt>{e(k)}</dt><dd>{e(fmt(v))}</dd>" for k, v in numbers.items())
        body.append(f"<h2>Headline numbers</h2><dl class='kv'>{kv}</dl>")
    body.append("<h2>Results</h2>")
    for b in blocks:
        if b.get("title"):
            body.append(f"<h3>{e(b['title'])}</h3>")
        if b["kind"] == "text":
            body.append(markdown_to_html(b["text"]))
        elif b["kind"] == "pre":
            body.append(f"<pre>{e(b['text'])}</pre>")
        elif b["kind"] == "table":
            body.append(_table_html(b))
        elif b["kind"] == "figure":
            body.append(_figure_html(run_dir, b))
    if what_to_look_at:
        body.append(f"<h2>What to look at</h2><div class='hint'>{markdown_to_html(what_to_look_at)}"
                    "</div>")
    rows = "".join(f"<tr><td>{e(k)}</td><td>{e(fmt(v))}</td></tr>" for k, v in _flat_config(config))
    body.append(f"<h2>Configuration</h2><table><tbody>{rows}</tbody></table>")
    if summary:
        body.append("<details><summary>Full summary.json</summary>"
                    f"<pre>{e(json.dumps(summary, indent=2)[:200_000])}</pre></details>")
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)} — trainlab</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
    atomic_write_text(run_dir / "report.html", page)
