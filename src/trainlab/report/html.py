"""The HTML toolkit of every trainlab page: shell, escaping, markdown subset, tables, figures.

Run reports, the runs index, sweep reports and `Run._repr_html_` are all built from
these few functions, so they share one look (`report/style.py`: light and dark themes,
phone widths) and one escaping rule: every value passes through `esc` or
`inline_markdown` before it reaches the page. Figures are embedded (base64), so a page
needs nothing next to it.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from trainlab.report.format import fmt
from trainlab.report.style import CSS


def esc(value: Any) -> str:
    """`str(value)` with `& < > " '` escaped (safe in text and in quoted attributes)."""
    return html.escape(str(value), quote=True)


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


def page(title: str, body: str, *, head: str = "") -> str:
    """A whole self-contained page: `title` (escaped), extra `head` markup, `body` markup."""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(title)}</title>{head}<style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def crumbs(links: Iterable[tuple[str, str]]) -> str:
    """The navigation line at the top of a page: `(label, href)` pairs; "" when none."""
    items = [f"<a href='{esc(href)}'>{esc(label)}</a>" for label, href in links]
    return f"<nav class='crumbs'>{' · '.join(items)}</nav>" if items else ""


def badge(state: str) -> str:
    """A run state (`completed`, `failed`, `running`, ...) as a coloured badge."""
    return f"<span class='badge {esc(state)}'>{esc(state)}</span>"


def _value(value: Any) -> str:
    """A formatted value; a list's items each unbreakable, so a long list wraps between
    items and never inside a number."""
    text = fmt(value)
    if not isinstance(value, (list, tuple)):
        return esc(text)
    items = text[1:-1].split(", ")
    return "[" + ", ".join(f"<span class='item'>{esc(i)}</span>" for i in items) + "]"


def key_values(items: Iterable[tuple[Any, Any]], tips: dict[str, str] | None = None) -> str:
    """`<dl class='kv'>`: one `key  value` line per pair, values through `fmt`; a key in
    `tips` gets that text as its tooltip (`title`)."""
    tips = tips or {}
    rows = "".join(
        (f"<dt title='{esc(tips[k])}'>" if k in tips else "<dt>")
        + f"{esc(k)}</dt><dd>{_value(v)}</dd>" for k, v in items)
    return f"<dl class='kv'>{rows}</dl>"


@dataclass(frozen=True)
class Link:
    """A table cell that links to `href` and shows `value` (formatted like any cell)."""

    href: str
    value: Any


_NUM = ' class="num"'


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    shown = value.value if isinstance(value, Link) else value
    text = esc(fmt(shown))
    if isinstance(value, Link):
        text = f"<a href='{esc(value.href)}'>{text}</a>"
    # numbers align right (class num); text, None and bools align left
    return f"<td{_NUM if _is_number(shown) else ''}>{text}</td>"


def table(rows: Iterable[dict], columns: Sequence[str], *, header: bool = True,
          caption: str = "") -> str:
    """A table of dict rows, cells in `columns` order through `fmt` (a `Link` cell links).

    `header=False` leaves out the header row (key/value tables); `caption` (markdown
    subset) goes below the table.
    """
    thead = ("<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead>"
             if header else "")
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>"
                   for row in rows)
    below = f"<p class='muted'>{inline_markdown(caption)}</p>" if caption else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>{below}"


def data_uri(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,...` for embedding a file in a page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def figure(png: bytes | None, caption: str, svg: bytes | None = None) -> str:
    """An embedded figure: the SVG when the browser takes it, the PNG otherwise.

    `caption` (markdown subset) is the caption and the image's alt text; no PNG, no
    figure (""), so a missing file never leaves a broken image.
    """
    if png is None:
        return ""
    img = (f'<img class="fig" alt="{esc(caption)}" '
           f'src="{data_uri(png, "image/png")}">')
    if svg is not None:
        source = f'<source type="image/svg+xml" srcset="{data_uri(svg, "image/svg+xml")}">'
        img = f"<picture>{source}{img}</picture>"
    return f"<figure>{img}<figcaption>{inline_markdown(caption)}</figcaption></figure>"
