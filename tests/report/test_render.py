"""Reports escape every user-given string and need nothing from outside."""

import re

import matplotlib.pyplot as plt

from trainlab.report.format import fmt
from trainlab.report.html import markdown_to_html
from trainlab.report.render import run_report, save_report
from trainlab.run_context import RunContext

EVIL = '<script>alert("x")</script>'


def _render(tmp_path):
    import torch

    ctx = RunContext(tmp_path, "polyfit", torch.device("cpu"), 0)
    ctx.text(f"note {EVIL} with `code` and **bold**")
    ctx.table([{"name": EVIL, "value": 1.5}], title=EVIL, caption=EVIL)
    ctx.preformatted(EVIL)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title(EVIL)
    ctx.figure(fig, "line", f"caption {EVIL}")
    save_report(tmp_path, run_report(
        exp_id="polyfit", title=EVIL, question=EVIL, what_to_look_at=EVIL,
        config={"title": EVIL, "data": {"path": EVIL}},
        status={"state": "completed", "reason": None, "seconds": 1.0},
        summary={"x": 1.0, "name": EVIL}, blocks=ctx.report.blocks))
    return (tmp_path / "report.html").read_text()


def test_user_strings_are_escaped(tmp_path):
    page = _render(tmp_path)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<code>code</code>" in page and "<strong>bold</strong>" in page


def test_page_is_self_contained(tmp_path):
    page = _render(tmp_path)
    urls = re.findall(r"(?:src|href|srcset)=['\"]([^'\"]+)['\"]", page)
    assert urls
    for url in urls:
        assert not re.match(r"^(https?:)?//", url), url
    assert "data:image/png;base64," in page and "data:image/svg+xml;base64," in page
    assert "@media (prefers-color-scheme: dark)" in page
    md = (tmp_path / "report.md").read_text()
    assert "figures/line.png" in md


def test_markdown_subset_and_number_format():
    html = markdown_to_html("- a *b*\n- c\n\npara `x<y`")
    assert "<ul><li>a <em>b</em></li><li>c</li></ul>" in html
    assert "<code>x&lt;y</code>" in html
    assert fmt(0.000012345) == "1.234e-05" and fmt(3.14159) == "3.142" and fmt(None) == "null"
