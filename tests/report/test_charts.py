"""The SVG charts of live reports: exact pixel mapping, escaping, thinning, the heatmap's
colours and its PNG (decoded by matplotlib and compared pixel for pixel)."""

import io
import re

import numpy as np
from matplotlib import image as mpimg

from trainlab.report.charts import (
    HIGH,
    LOW,
    MAX_POINTS,
    MID,
    PAD_B,
    PAD_L,
    PAD_R,
    PAD_T,
    Curve,
    H,
    Heatmap,
    LineChart,
    W,
    colours,
    png_bytes,
    thin,
)


def _polylines(markup: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in pts.split()]
            for pts in re.findall(r"<polyline points='([^']*)'", markup)]


def test_a_log_chart_maps_decades_to_equal_steps():
    chart = LineChart([Curve("<b>loss</b>", [0, 1, 2], [1.0, 10.0, 100.0])], logy=True)
    markup = chart.render_html()
    (line,) = _polylines(markup)
    width, height = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    expected = [(PAD_L + t * width, H - PAD_B - t * height) for t in (0.0, 0.5, 1.0)]
    assert np.allclose(line, expected, atol=0.051)  # one decimal in the markup
    assert "<b>loss</b>" not in markup and "&lt;b&gt;loss&lt;/b&gt;" in markup


def test_non_finite_and_non_positive_values_leave_gaps_not_errors():
    chart = LineChart([Curve("c", [0, 1, 2, 3], [1.0, float("nan"), -1.0, 4.0])], logy=True)
    (line,) = _polylines(chart.render_html())
    assert len(line) == 2  # NaN dropped, and -1 has no logarithm


def test_long_curves_are_thinned_keeping_both_ends():
    xs = list(range(1000))
    tx, ty = thin(xs, [float(x) for x in xs])
    assert len(tx) <= MAX_POINTS + 1 and tx[0] == 0 and tx[-1] == 999 and tx == ty


def test_colours_run_from_blue_through_white_to_red():
    got = colours([0.0, 0.25, 0.5, 1.0, float("nan"), 7.0])
    quarter = np.rint((np.array(LOW) + np.array(MID)) / 2)
    assert got.tolist() == [list(LOW), quarter.tolist(), list(MID), list(HIGH), list(MID),
                            list(HIGH)]


def test_the_png_decodes_to_the_same_pixels():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    decoded = mpimg.imread(io.BytesIO(png_bytes(rgb)), format="png")
    assert decoded.shape == (7, 5, 3)
    assert np.array_equal(np.rint(decoded * 255).astype(np.uint8), rgb)


def test_the_heatmap_image_has_the_top_row_first():
    values = np.array([[0.0, 0.0], [1.0, 1.0]])  # row 0 is the bottom of the plot
    markup = Heatmap(values, (0, 1, 0, 1)).render_html()
    data = re.search(r"href='data:image/png;base64,([^']*)'", markup).group(1)
    import base64

    decoded = mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
    assert np.array_equal(np.rint(decoded[0, 0] * 255), HIGH)  # top: the red row
    assert np.array_equal(np.rint(decoded[1, 0] * 255), LOW)
