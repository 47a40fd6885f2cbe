"""A report as a value: a `Report` holds typed blocks, each of which renders itself.

An experiment adds `Text`, `Table`, `Pre` and `Figure` blocks (through `RunContext`);
the runner wraps them in the page of a run (`Status`, `Section`, `KeyValues`, `Hint`,
`Details`, see `report.render.run_report`). A notebook or a test can build the same
value with no run folder and render it with `to_markdown` / `to_html`.

A new kind of block is one dataclass here (or anywhere) that subclasses `Block`:
- `render_markdown()` returns its lines for report.md (end them with "" for a blank line);
- `render_html()` returns its markup for report.html, built with `report.html` so that
  every value is escaped;
- optionally `render_head()` returns markup the page's `<head>` needs (a `<script>` of a
  plotting library, say); identical entries are written once per page.
It takes a `title: str | None = None` field (rendered as a third-level heading) and is
added with `report.add(block)` or `ctx.report.add(block)`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trainlab.report.figure_data import figure_csv
from trainlab.report.format import fmt
from trainlab.report.html import (
    badge,
    esc,
    key_values,
    markdown_to_html,
    table,
)
from trainlab.report.html import (
    figure as figure_html,
)


class Block:
    """Base of the report blocks: a markdown and an HTML rendering of one piece.

    A new kind of block is a dataclass subclass with a `title: str | None = None`
    field, `render_markdown() -> list[str]` and `render_html() -> str` (escape every
    value with `report.html`), and optionally `render_head()` for markup the page's
    `<head>` needs once (a script).
    """

    title: str | None = None

    def render_markdown(self) -> list[str]:
        """Lines of report.md for this block (without its title)."""
        raise NotImplementedError(f"{type(self).__name__} has no markdown rendering")

    def render_html(self) -> str:
        """Markup of report.html for this block (without its title)."""
        raise NotImplementedError(f"{type(self).__name__} has no HTML rendering")

    def render_head(self) -> Iterable[str]:
        """Markup this block needs in the page's `<head>` (none by default)."""
        return ()


def block_markdown(block: Block) -> list[str]:
    """`block`'s markdown lines, after a `### title` when it has one."""
    heading = [f"### {block.title}", ""] if block.title else []
    return heading + block.render_markdown()


def block_html(block: Block) -> str:
    """`block`'s markup, after an `<h3>` title when it has one."""
    heading = f"<h3>{esc(block.title)}</h3>" if block.title else ""
    return heading + block.render_html()


# ---------------------------------------------------------- what experiments add


@dataclass
class Text(Block):
    """A paragraph (markdown subset: paragraphs, `- ` lists, `code`, **bold**, *italic*)."""

    text: str
    title: str | None = None

    def render_markdown(self) -> list[str]:
        return [self.text, ""]

    def render_html(self) -> str:
        return markdown_to_html(self.text)


@dataclass
class Pre(Block):
    """Monospaced text (printed polynomials, matrices), shown as it is."""

    text: str
    title: str | None = None

    def render_markdown(self) -> list[str]:
        return ["```", self.text, "```", ""]

    def render_html(self) -> str:
        return f"<pre>{esc(self.text)}</pre>"


def _md_cell(text: object) -> str:
    """A markdown table cell: `|` escaped and line breaks joined, header cells too
    (polyfit's `max |coef error|` header split one column into three)."""
    return " ".join(str(text).replace("|", "\\|").splitlines())


@dataclass
class Table(Block):
    """Rows of values under `columns`; cells print through `fmt`, numbers align right.

    `header=False` hides the header row in HTML (markdown tables always have one);
    `caption` (markdown subset) goes below.
    """

    rows: list[dict]
    columns: list[str]
    title: str | None = None
    caption: str = ""
    header: bool = True

    def render_markdown(self) -> list[str]:
        cols = self.columns
        lines = ["| " + " | ".join(_md_cell(c) for c in cols) + " |", "|" + "---|" * len(cols)]
        for row in self.rows:
            cells = (_md_cell(fmt(row.get(c))) for c in cols)
            lines.append("| " + " | ".join(cells) + " |")
        if self.caption:
            lines += ["", self.caption]
        return lines + [""]

    def render_html(self) -> str:
        return table(self.rows, self.columns, header=self.header, caption=self.caption)


@dataclass
class Figure(Block):
    """A figure as PNG (and SVG) bytes; `name` is its file stem under `figures/`.

    `csv`: the data it was drawn from (`report.figure_data`), saved as `figures/NAME.csv`
    and linked under the figure."""

    name: str
    caption: str
    png: bytes | None = None
    svg: bytes | None = None
    title: str | None = None
    csv: bytes | None = None

    @classmethod
    def of(cls, fig: Any, name: str, caption: str) -> Figure:
        """Render a matplotlib figure to PNG and SVG bytes (110 dpi) and close it."""
        import matplotlib.pyplot as plt

        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        data = {}
        for fmt_ in ("png", "svg"):
            buf = io.BytesIO()
            # no date in the SVG, so the same figure gives the same file
            fig.savefig(buf, format=fmt_, dpi=110, bbox_inches="tight",
                        metadata={"Date": None} if fmt_ == "svg" else None)
            data[fmt_] = buf.getvalue()
        table = figure_csv(fig)  # the data it was drawn from, before the figure closes
        plt.close(fig)
        return cls(safe, caption, png=data["png"], svg=data["svg"], csv=table)

    def render_markdown(self) -> list[str]:
        data = [f"[data (CSV)](figures/{self.name}.csv)", ""] if self.csv is not None else []
        return [f"![{self.caption}](figures/{self.name}.png)", "", f"*{self.caption}*", "",
                *data]

    def render_html(self) -> str:
        link = (f"<p class='muted'><a href='figures/{esc(self.name)}.csv'>data (CSV)</a></p>"
                if self.csv is not None and self.png is not None else "")
        return figure_html(self.png, self.caption, self.svg) + link


# ------------------------------------------------------------ the page around them


@dataclass
class Section(Block):
    """A second-level heading and the blocks under it."""

    heading: str
    blocks: list[Block] = field(default_factory=list)

    def render_markdown(self) -> list[str]:
        lines = [f"## {self.heading}", ""]
        for b in self.blocks:
            lines += block_markdown(b)
        return lines

    def render_html(self) -> str:
        return f"<h2>{esc(self.heading)}</h2>" + "".join(block_html(b) for b in self.blocks)

    def render_head(self) -> Iterable[str]:
        return [h for b in self.blocks for h in b.render_head()]


@dataclass
class KeyValues(Block):
    """Named values, one per line (`- key: value` in markdown, a definition list in HTML)."""

    items: dict[str, Any]
    title: str | None = None

    def render_markdown(self) -> list[str]:
        return [f"- {k}: {fmt(v)}" for k, v in self.items.items()] + [""]

    def render_html(self) -> str:
        return key_values(self.items.items())


@dataclass
class Hint(Text):
    """Text in a highlighted box (the "what to look at" guide); markdown as `Text`."""

    def render_html(self) -> str:
        return f"<div class='hint'>{markdown_to_html(self.text)}</div>"


@dataclass
class Details(Block):
    """Long monospaced text folded away in HTML; left out of markdown, whose readers
    open the file itself."""

    summary: str
    text: str
    title: str | None = None

    def render_markdown(self) -> list[str]:
        return []

    def render_html(self) -> str:
        return (f"<details><summary>{esc(self.summary)}</summary>"
                f"<pre>{esc(self.text)}</pre></details>")


@dataclass
class Status(Block):
    """The state line of a run: experiment id, state badge, reason, seconds."""

    exp_id: str
    state: str
    reason: str | None = None
    seconds: float | None = None
    title: str | None = None

    def render_markdown(self) -> list[str]:
        reason = f" ({self.reason})" if self.reason else ""
        return [f"Experiment `{self.exp_id}` — status: **{self.state}**{reason}", ""]

    def render_html(self) -> str:
        reason = f" {esc(self.reason)}" if self.reason else ""
        seconds = esc(str(self.seconds or 0.0)[:6])
        return f"<p><code>{esc(self.exp_id)}</code> · {badge(self.state)}{reason} · {seconds} s</p>"


# ----------------------------------------------------------------- the report value


@dataclass
class Report:
    """A page: a title, navigation links (HTML only) and blocks, in order.

    The builders (`text`, `table`, `preformatted`, `figure`) append a block and return
    it; `add` appends any block.
    """

    title: str = ""
    blocks: list[Block] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)

    def add(self, block: Block) -> Block:
        """Append `block` and return it."""
        self.blocks.append(block)
        return block

    def text(self, markdown: str, title: str | None = None) -> Text:
        """A paragraph (markdown subset: paragraphs, `code`, **bold**)."""
        return self.add(Text(markdown, title))

    def table(self, rows: list[dict], title: str | None = None,
              columns: list[str] | None = None, caption: str = "") -> Table:
        """A table; `rows` are dicts, `columns` picks and orders keys (default: the first
        row's)."""
        columns = list(columns or (list(rows[0]) if rows else []))
        return self.add(Table([{c: r.get(c) for c in columns} for r in rows], columns,
                              title=title, caption=caption))

    def preformatted(self, text: str, title: str | None = None) -> Pre:
        """Monospaced text (printed polynomials, matrices)."""
        return self.add(Pre(text, title))

    def figure(self, fig: Any, name: str, caption: str) -> Figure:
        """A matplotlib figure, rendered to PNG and SVG now (the figure is closed)."""
        return self.add(Figure.of(fig, name, caption))

    def figures(self) -> list[Figure]:
        """Every figure of the report, sections included, in order."""
        out: list[Figure] = []
        for b in self.blocks:
            if isinstance(b, Figure):
                out.append(b)
            elif isinstance(b, Section):
                out += Report(blocks=b.blocks).figures()
        return out
