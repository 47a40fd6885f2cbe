"""The 3-D surface block: escaped data, plotly's script written once per runs site."""

import json
import os
import re

import pytest

from trainlab.report import Report, surface3d, to_html, to_markdown
from trainlab.report.surface3d import Surface3D, site_asset, site_root


def _needs_plotly():
    if surface3d.plotly_js_source() is None:
        if os.environ.get("CI"):
            pytest.fail("plotly is not installed (the 'interactive' extra)")
        pytest.skip("plotly not installed (not CI)")


def _block(**kw):
    return Surface3D("a</script>b", [0.0, 1.0], [0.0, 1.0, 2.0],
                     {"train <1>": [[1.0, 2.0], [3.0, float("nan")], [5.0, 6.0]]},
                     caption="cap *it*", **kw)


def test_html_embeds_escaped_data_and_the_script_once():
    r = Report("t")
    r.add(_block(script="../../_assets/plotly.min.js"))
    r.add(_block(script="../../_assets/plotly.min.js", paths={"sgd": [[0, 0, 1], [1, 1, 2]]}))
    html = to_html(r)
    assert html.count("<script src='../../_assets/plotly.min.js'></script>") == 1
    assert html.index("plotly.min.js") < html.index("<body>")
    assert "a</script>b" not in html and "train <1>" not in html
    payload = re.search(r"Plotly\.newPlot\(el,(\[.*?\]),\{\"margin", html).group(1)
    traces = json.loads(payload)
    assert traces[0]["name"] == "train <1>"
    assert traces[0]["z"] == [[1.0, 2.0], [3.0, None], [5.0, 6.0]]  # NaN -> gap
    assert "<em>it</em>" in html
    assert "open report.html" in to_markdown(r)


def test_without_plotly_the_block_says_how_to_get_it():
    html = to_html(Report("t", [_block(script=None)]))
    assert "<script src" not in html and "trainlab[interactive]" in html


def test_site_root_of_run_folders(tmp_path):
    runs = tmp_path / "runs"
    run = runs / "surface" / "20260101-000000-abcdef"
    assert site_root(run, "surface") == runs.resolve()
    assert site_root(run / "replicates" / "seed-3", "surface") == runs.resolve()
    assert site_root(tmp_path / "elsewhere", "surface") == (tmp_path / "elsewhere").resolve()


def test_asset_written_once_per_site_and_linked_relatively(tmp_path):
    _needs_plotly()
    runs = tmp_path / "runs"
    a = runs / "surface" / "r1"
    b = runs / "diagnose" / "r2"
    rep = a / "replicates" / "seed-1"
    for p in (a, b, rep):
        p.mkdir(parents=True)
    assert site_asset(a, "surface") == "../../_assets/plotly.min.js"
    target = runs / "_assets" / "plotly.min.js"
    first = target.stat().st_mtime_ns
    assert site_asset(b, "diagnose") == "../../_assets/plotly.min.js"
    assert site_asset(rep, "surface") == "../../../../_assets/plotly.min.js"
    assert target.stat().st_mtime_ns == first  # not rewritten
    assert target.read_bytes() == surface3d.plotly_js_source().read_bytes()
    assert sorted(p.name for p in runs.rglob("*.js")) == ["plotly.min.js"]
    out = tmp_path / "out"
    out.mkdir()
    assert site_asset(out, "surface") == "_assets/plotly.min.js"
