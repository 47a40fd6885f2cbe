"""The data a matplotlib figure was drawn from, as CSV (`figures/NAME.csv` of a run).

`figure_csv(fig)` walks every axes of a figure and writes one row per plotted point in
long form: `panel, title, series, kind, x, y`. `kind` is `line` (also error bars'
centres), `points` (scatter), `band` (the outline of a filled area, such as a 95 %
band: the lower edge left to right, then the upper edge back), `bar` (x = centre,
y = height), `image` (x = column, y = row, the value in `value`) or `errorbar` (one
row per end of a bar). Text, ticks and contour sets are left out. At most
`MAX_ROWS` rows: a figure with more writes its first `MAX_ROWS` and a last row that
says so, so that a CSV never grows without bound.
"""

from __future__ import annotations

import csv
import io

import numpy as np

MAX_ROWS = 200_000
COLUMNS = ["panel", "title", "series", "kind", "x", "y", "value"]


def _label(artist, fallback: str) -> str:
    label = str(artist.get_label() or "")
    return fallback if not label or label.startswith("_") else label


def _lines(ax):
    for i, line in enumerate(ax.get_lines()):
        x = np.asarray(line.get_xdata(), dtype=float).ravel()
        y = np.asarray(line.get_ydata(), dtype=float).ravel()
        if len(x) == len(y) and len(x):
            yield _label(line, f"line {i}"), "line", x, y, None


def _collections(ax):
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection

    for i, coll in enumerate(ax.collections):
        name = _label(coll, f"{type(coll).__name__} {i}")
        if isinstance(coll, PathCollection):
            pts = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
            if len(pts):
                yield name, "points", pts[:, 0], pts[:, 1], None
        elif isinstance(coll, PolyCollection):
            for path in coll.get_paths():
                v = np.asarray(path.vertices, dtype=float).reshape(-1, 2)
                yield name, "band", v[:, 0], v[:, 1], None
        elif isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                seg = np.asarray(seg, dtype=float).reshape(-1, 2)
                yield name, "errorbar", seg[:, 0], seg[:, 1], None


def _patches_and_images(ax):
    from matplotlib.patches import Rectangle

    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    if bars:
        x = np.array([p.get_x() + p.get_width() / 2 for p in bars])
        y = np.array([p.get_height() for p in bars])
        yield _label(bars[0], "bars"), "bar", x, y, None
    for i, im in enumerate(ax.images):
        a = np.asarray(im.get_array(), dtype=float)
        if a.ndim == 2:
            rows, cols = np.indices(a.shape)
            yield _label(im, f"image {i}"), "image", cols.ravel(), rows.ravel(), a.ravel()


def figure_rows(fig):
    """Yield `(panel, title, series, kind, x, y, value)` for every plotted point."""
    for p, ax in enumerate(fig.get_axes()):
        title = ax.get_title()
        for gen in (_lines, _collections, _patches_and_images):
            for series, kind, x, y, value in gen(ax):
                for j in range(len(x)):
                    yield (p, title, series, kind, x[j], y[j],
                           "" if value is None else value[j])


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else repr(float(v))
    return str(v)


def figure_csv(fig) -> bytes:
    """The data of every axes of `fig` as UTF-8 CSV (see the module docstring)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for n, row in enumerate(figure_rows(fig)):
        if n == MAX_ROWS:
            writer.writerow(["", "", f"(cut at {MAX_ROWS} rows)", "", "", "", ""])
            break
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")
