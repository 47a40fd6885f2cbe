"""A report is a value: built in memory, rendered to markdown and HTML with no run folder."""

import base64
from dataclasses import dataclass

import pytest

from trainlab.report import (
    Block,
    Figure,
    KeyValues,
    Report,
    Section,
    Table,
    to_html,
    to_markdown,
)

EVIL = '<script>alert("x")</script>'
EVIL_HTML = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
PNG, SVG = b"\x89PNG not really", b"<svg xmlns='http://www.w3.org/2000/svg'/>"


def _report() -> Report:
    r = Report("Study <1>")
    r.text(f"see {EVIL} and `a<b`", title="Notes")
    r.table([{"name": EVIL, "loss": 0.123456, "ok": True, "n": None, "s": "a|b"}],
            caption="cap *it*")
    r.preformatted("x < y")
    r.add(Figure("loss", "loss & accuracy", png=PNG, svg=SVG))
    return r


def test_markdown_of_a_report_built_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    md = to_markdown(_report())
    assert md == "\n".join([
        "# Study <1>", "",
        "### Notes", "", f"see {EVIL} and `a<b`", "",
        "| name | loss | ok | n | s |", "|---|---|---|---|---|",
        f"| {EVIL} | 0.1235 | true | null | a\\|b |", "", "cap *it*", "",
        "```", "x < y", "```", "",
        "![loss & accuracy](figures/loss.png)", "", "*loss & accuracy*"]) + "\n"
    assert list(tmp_path.iterdir()) == []  # rendering wrote nothing


def test_html_of_a_report_built_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    page = to_html(_report())
    assert "<script>" not in page
    assert "<title>Study &lt;1&gt; — trainlab</title>" in page
    assert "<h1>Study &lt;1&gt;</h1>" in page
    assert f"<h3>Notes</h3><p>see {EVIL_HTML} and <code>a&lt;b</code></p>" in page
    assert ("<table><thead><tr><th>name</th><th>loss</th><th>ok</th><th>n</th><th>s</th>"
            f"</tr></thead><tbody><tr><td>{EVIL_HTML}</td><td class=\"num\">0.1235</td>"
            "<td>true</td><td>null</td><td>a|b</td></tr></tbody></table>"
            "<p class='muted'>cap <em>it</em></p>") in page
    assert "<pre>x &lt; y</pre>" in page
    png, svg = base64.b64encode(PNG).decode(), base64.b64encode(SVG).decode()
    assert ('<figure><picture><source type="image/svg+xml" '
            f'srcset="data:image/svg+xml;base64,{svg}"><img class="fig" '
            f'alt="loss &amp; accuracy" src="data:image/png;base64,{png}"></picture>'
            "<figcaption>loss &amp; accuracy</figcaption></figure>") in page
    assert page.startswith("<!doctype html>") and page.endswith("</main></body></html>\n")
    assert list(tmp_path.iterdir()) == []


def test_sections_key_values_and_headerless_tables():
    r = Report("t", [Section("Numbers", [KeyValues({"a <b>": 0.5, "n": 3})]),
                     Section("Config", [Table([{"key": "lr", "value": "0.1"}],
                                              ["key", "value"], header=False)])])
    md, page = to_markdown(r), to_html(r)
    assert "## Numbers\n\n- a <b>: 0.5\n- n: 3\n\n## Config\n\n| key | value |\n" in md
    assert ("<h2>Numbers</h2><dl class='kv'><dt>a &lt;b&gt;</dt><dd>0.5</dd><dt>n</dt>"
            "<dd>3</dd></dl><h2>Config</h2><table><tbody><tr><td>lr</td><td>0.1</td></tr>"
            "</tbody></table>") in page


def test_figure_without_png_is_left_out_and_figures_are_found_in_sections():
    lone = Figure("x", "no file")
    r = Report(blocks=[Section("Results", [lone]), Figure("y", "y", png=PNG)])
    assert "no file" not in to_html(r).split("<h2>Results</h2>")[1].split("<img")[0]
    assert [f.name for f in r.figures()] == ["x", "y"]


def test_figure_of_a_matplotlib_figure():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    block = Figure.of(fig, "a/b c", "diagonal")
    assert block.name == "a-b-c" and block.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in block.svg and b"<dc:date>" not in block.svg
    assert fig.number not in plt.get_fignums()


@dataclass
class Stamp(Block):
    """A test block that needs a script in the page head."""

    word: str
    title: str | None = None

    def render_markdown(self) -> list[str]:
        return [f"[{self.word}]", ""]

    def render_html(self) -> str:
        return f"<span class='stamp'>{self.word}</span>"

    def render_head(self) -> list[str]:
        return ["<script src='stamp.js'></script>"]


def test_a_new_block_type_renders_and_puts_its_head_markup_once():
    r = Report("t", [Stamp("one", title="First"), Section("More", [Stamp("two")])])
    page = to_html(r)
    head = page.split("</head>")[0]
    assert head.count("<script src='stamp.js'></script>") == 1
    assert "<h3>First</h3><span class='stamp'>one</span>" in page
    assert "<h2>More</h2><span class='stamp'>two</span>" in page
    assert to_markdown(r) == "# t\n\n### First\n\n[one]\n\n## More\n\n[two]\n"


def test_a_block_without_renderers_says_so():
    class Bare(Block):
        pass

    with pytest.raises(NotImplementedError, match="Bare has no HTML"):
        to_html(Report(blocks=[Bare()]))


def test_markdown_table_cells_never_split_a_column():
    """Pipes in header or body cells are escaped and line breaks joined (polyfit's
    `max |coef error|` header once made a 4-column table of 6 cells)."""
    import re

    columns = ["lr", "final loss", "max |coef error|", "diverged"]
    rows = [{"lr": 0.1, "final loss": 0.5, "max |coef error|": "a|b", "diverged": "no\nyes"}]
    lines = Table(rows, columns).render_markdown()
    table_lines = [line for line in lines if line.startswith("|")]
    assert len(table_lines) == 3
    for line in table_lines:
        cells = re.split(r"(?<!\\)\|", line)[1:-1]  # unescaped pipes separate cells
        assert len(cells) == len(columns), line
    assert "max \\|coef error\\|" in table_lines[0] and "no yes" in table_lines[2]
