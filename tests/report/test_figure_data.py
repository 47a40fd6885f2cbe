"""figures/NAME.csv: the data a figure was drawn from, read back against what was plotted."""

import csv
import io

import numpy as np

from trainlab.report import figure_data
from trainlab.report.blocks import Figure
from trainlab.report.plots import new_figure


def _rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _figure():
    fig, axes = new_figure(ncols=2)
    x = np.array([0.0, 1.0, 2.0])
    axes[0, 0].plot(x, x ** 2, label="square")
    axes[0, 0].fill_between(x, x - 1, x + 1, label="band")
    axes[0, 0].scatter([5.0, 6.0], [7.0, 8.0], label="pts")
    axes[0, 0].set_title("left")
    axes[0, 1].bar([1, 2], [3.5, 4.5])
    axes[0, 1].imshow(np.array([[1.0, 2.0], [3.0, 4.0]]))
    return fig


def test_every_plotted_value_is_in_the_csv():
    rows = _rows(figure_data.figure_csv(_figure()))
    line = [(float(r["x"]), float(r["y"])) for r in rows if r["series"] == "square"]
    assert line == [(0.0, 0.0), (1.0, 1.0), (2.0, 4.0)]
    assert all(r["panel"] == "0" and r["title"] == "left" for r in rows if r["series"] == "square")
    pts = [(float(r["x"]), float(r["y"])) for r in rows if r["kind"] == "points"]
    assert pts == [(5.0, 7.0), (6.0, 8.0)]
    band = [(float(r["x"]), float(r["y"])) for r in rows if r["kind"] == "band"]
    assert (0.0, -1.0) in band and (2.0, 3.0) in band and (1.0, 2.0) in band
    bars = [(float(r["x"]), float(r["y"])) for r in rows if r["kind"] == "bar"]
    assert bars == [(1.0, 3.5), (2.0, 4.5)]
    image = {(int(float(r["x"])), int(float(r["y"]))): float(r["value"])
             for r in rows if r["kind"] == "image"}
    assert image == {(0, 0): 1.0, (1, 0): 2.0, (0, 1): 3.0, (1, 1): 4.0}


def test_rows_are_capped(monkeypatch):
    monkeypatch.setattr(figure_data, "MAX_ROWS", 4)
    rows = _rows(figure_data.figure_csv(_figure()))
    assert len(rows) == 5 and "cut at 4 rows" in rows[-1]["series"]


def test_figure_block_carries_and_links_its_data():
    block = Figure.of(_figure(), "two panels", "caption")
    assert _rows(block.csv)[0]["series"] == "square"
    assert "figures/two-panels.csv" in block.render_html()
    assert "[data (CSV)](figures/two-panels.csv)" in block.render_markdown()
