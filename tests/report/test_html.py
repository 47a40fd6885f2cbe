"""The HTML toolkit: exact markup for the pieces every page is built from."""

import base64

from trainlab.report.html import (
    Link,
    badge,
    crumbs,
    esc,
    figure,
    key_values,
    page,
    table,
)


def test_escape_covers_text_and_both_attribute_quotes():
    assert esc("<a href='x' title=\"y\">&</a>") == \
        "&lt;a href=&#x27;x&#x27; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;"
    assert esc(1.5) == "1.5"


def test_table_cells_numbers_links_and_no_header():
    rows = [{"n": 3, "name": "<b>", "ok": False, "x": None},
            {"n": Link("trials/1/report.html?a=1&b='2'", 7), "name": "plain", "x": 0.5}]
    assert table(rows, ["n", "name", "ok", "x"]) == (
        "<table><thead><tr><th>n</th><th>name</th><th>ok</th><th>x</th></tr></thead><tbody>"
        '<tr><td class="num">3</td><td>&lt;b&gt;</td><td>false</td><td>null</td></tr>'
        "<tr><td class=\"num\"><a href='trials/1/report.html?a=1&amp;b=&#x27;2&#x27;'>7</a>"
        '</td><td>plain</td><td>null</td><td class="num">0.5</td></tr></tbody></table>')
    assert table([{"k": "a"}], ["k"], header=False, caption="*c*") == \
        "<table><tbody><tr><td>a</td></tr></tbody></table><p class='muted'><em>c</em></p>"


def test_figure_embeds_png_and_svg_or_png_alone():
    png = base64.b64encode(b"P").decode()
    assert figure(b"P", "a <b> `c`") == (
        f'<figure><img class="fig" alt="a &lt;b&gt; `c`" src="data:image/png;base64,{png}">'
        "<figcaption>a &lt;b&gt; <code>c</code></figcaption></figure>")
    with_svg = figure(b"P", "x", svg=b"S")
    assert with_svg.startswith('<figure><picture><source type="image/svg+xml" srcset="data:'
                               f'image/svg+xml;base64,{base64.b64encode(b"S").decode()}">')
    assert figure(None, "missing") == ""


def test_page_shell_crumbs_badge_and_key_values():
    shell = page("t <1>", "BODY", head="<meta name='x'>")
    assert shell.startswith("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                            "<meta name='viewport' content='width=device-width, "
                            "initial-scale=1'><title>t &lt;1&gt;</title><meta name='x'><style>")
    assert "@media (prefers-color-scheme: dark)" in shell and "@media (max-width:600px)" in shell
    assert shell.endswith("</style></head><body><main>BODY</main></body></html>\n")
    assert crumbs([("All runs", "../../index.html"), ("a'b", "a'b")]) == (
        "<nav class='crumbs'><a href='../../index.html'>All runs</a> · "
        "<a href='a&#x27;b'>a&#x27;b</a></nav>")
    assert crumbs([]) == ""
    assert badge("failed") == "<span class='badge failed'>failed</span>"
    assert key_values([("lr", 0.0123456), ("<k>", None)]) == (
        "<dl class='kv'><dt>lr</dt><dd>0.01235</dd><dt>&lt;k&gt;</dt><dd>null</dd></dl>")
