"""Charts drawn as inline SVG with no plotting library: the panels of a live report.

A live report is rebuilt every ~2 s while a run trains, so its charts must cost
milliseconds, not the ~100 ms of a matplotlib figure: `LineChart` (curves, optional
bands, optional scatter points, linear or log y) and `Heatmap` (a field on a grid with
labelled points, a classifier's decision boundary) write their SVG markup directly.
Every label passes through `esc`; numbers are formatted with 4 significant digits.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlab.report.blocks import Block
from trainlab.report.html import data_uri, esc

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 300, 58, 12, 12, 34
MAX_POINTS = 400  # per curve: a longer one is thinned (every k-th point, the last kept)


def thin(xs: Sequence[float], ys: Sequence[float]) -> tuple[list, list]:
    if len(xs) <= MAX_POINTS:
        return list(xs), list(ys)
    k = -(-len(xs) // MAX_POINTS)
    idx = list(range(0, len(xs), k))
    if idx[-1] != len(xs) - 1:
        idx.append(len(xs) - 1)
    return [xs[i] for i in idx], [ys[i] for i in idx]


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


class _Scale:
    """Maps data (x, y) to SVG pixels inside the plot area (log10 y when `logy`)."""

    def __init__(self, xs: list[float], ys: list[float], logy: bool):
        self.logy = logy
        ys = [self.fy(y) for y in ys if _finite(y) and (y > 0 or not logy)]
        xs = [x for x in xs if _finite(x)]
        self.x0, self.x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        self.y0, self.y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
        if self.x1 == self.x0:
            self.x0, self.x1 = self.x0 - 0.5, self.x1 + 0.5
        if self.y1 == self.y0:
            self.y0, self.y1 = self.y0 - 0.5, self.y1 + 0.5

    def fy(self, y: float) -> float:
        return math.log10(y) if self.logy else y

    def px(self, x: float) -> float:
        return PAD_L + (x - self.x0) / (self.x1 - self.x0) * (W - PAD_L - PAD_R)

    def py(self, y: float) -> float:
        """Pixel row of data value y (already through `fy`)."""
        return H - PAD_B - (y - self.y0) / (self.y1 - self.y0) * (H - PAD_T - PAD_B)

    def point(self, x: float, y: float) -> str | None:
        if not (_finite(x) and _finite(y)) or (self.logy and y <= 0):
            return None
        return f"{self.px(x):.1f},{self.py(self.fy(y)):.1f}"


def _axes(scale: _Scale, xlabel: str, ylabel: str) -> str:
    """Frame, three ticks per axis with their values, and the axis labels."""
    out = [f"<rect x='{PAD_L}' y='{PAD_T}' width='{W - PAD_L - PAD_R}' "
           f"height='{H - PAD_T - PAD_B}' fill='none' stroke='currentColor' "
           "stroke-opacity='0.4'/>"]
    for t in (0.0, 0.5, 1.0):
        x = scale.x0 + t * (scale.x1 - scale.x0)
        y = scale.y0 + t * (scale.y1 - scale.y0)
        shown = 10 ** y if scale.logy else y
        out.append(f"<text x='{scale.px(x):.1f}' y='{H - PAD_B + 14}' text-anchor='middle'>"
                   f"{x:.4g}</text>")
        out.append(f"<text x='{PAD_L - 4}' y='{scale.py(y) + 4:.1f}' text-anchor='end'>"
                   f"{shown:.3g}</text>")
    out.append(f"<text x='{(W + PAD_L) / 2:.0f}' y='{H - 4}' text-anchor='middle'>"
               f"{esc(xlabel)}</text>")
    out.append(f"<text x='12' y='{(H - PAD_B) / 2:.0f}' text-anchor='middle' "
               f"transform='rotate(-90 12 {(H - PAD_B) / 2:.0f})'>{esc(ylabel)}</text>")
    return "".join(out)


def _svg(inner: str, label: str) -> str:
    return (f"<svg class='chart' viewBox='0 0 {W} {H}' role='img' aria-label='{esc(label)}' "
            "style='width:100%;font:11px sans-serif' xmlns='http://www.w3.org/2000/svg'>"
            f"{inner}</svg>")


def _legend(labels: list[str]) -> str:
    items = "".join(f"<span style='color:{PALETTE[i % len(PALETTE)]}'>&#9644;</span> "
                    f"{esc(lab)} &nbsp; " for i, lab in enumerate(labels))
    return f"<p class='muted legend'>{items}</p>" if labels else ""


# charts tile side by side on wide screens, one per row on a phone
FIGURE = "<figure class='chart' style='display:inline-block;width:min(100%,500px);" \
         "vertical-align:top;margin:0 1rem 1rem 0'>"


@dataclass
class Curve:
    """One line of a `LineChart`: x and y (T,), optionally a band lo..hi (T,) around it."""

    label: str
    x: list[float]
    y: list[float]
    lo: list[float] | None = None
    hi: list[float] | None = None


@dataclass
class LineChart(Block):
    """Curves (and optional scatter `points` [(x, y)]) as one inline SVG chart.

    A report block (see `report.blocks`): markdown gets one line naming the curves.
    """

    curves: list[Curve]
    xlabel: str = "epoch"
    ylabel: str = "loss"
    logy: bool = False
    points: list[tuple[float, float]] = field(default_factory=list)
    caption: str = ""
    title: str | None = None

    def render_markdown(self) -> list[str]:
        names = ", ".join(c.label for c in self.curves)
        return [f"*Chart: {self.ylabel} against {self.xlabel} ({names}).*", ""]

    def render_html(self) -> str:
        xs = [x for c in self.curves for x in c.x] + [p[0] for p in self.points]
        ys = [y for c in self.curves for y in (*c.y, *(c.lo or ()), *(c.hi or ()))]
        ys += [p[1] for p in self.points]
        scale = _Scale(xs, ys, self.logy)
        parts = [_axes(scale, self.xlabel, self.ylabel)]
        parts += [f"<circle cx='{pt.split(',')[0]}' cy='{pt.split(',')[1]}' r='2' "
                  "fill='currentColor' fill-opacity='0.45'/>"
                  for pt in (scale.point(x, y) for x, y in self.points[:2000]) if pt]
        for i, c in enumerate(self.curves):
            colour = PALETTE[i % len(PALETTE)]
            if c.lo is not None and c.hi is not None:
                bx, lo = thin(c.x, c.lo)
                _, hi = thin(c.x, c.hi)
                edge = [scale.point(x, y) for x, y in zip(bx + bx[::-1], hi + lo[::-1],
                                                           strict=True)]
                parts.append(f"<polygon points='{' '.join(p for p in edge if p)}' "
                             f"fill='{colour}' fill-opacity='0.2' stroke='none'/>")
            tx, ty = thin(c.x, c.y)
            line = " ".join(p for p in (scale.point(x, y) for x, y in zip(tx, ty, strict=True))
                            if p)
            parts.append(f"<polyline points='{line}' fill='none' stroke='{colour}' "
                         "stroke-width='1.6'/>")
            if line and " " not in line:  # one point so far: a dot, since a line has none
                cx, cy = line.split(",")
                parts.append(f"<circle cx='{cx}' cy='{cy}' r='3' fill='{colour}'/>")
        caption = f"<figcaption>{esc(self.caption)}</figcaption>" if self.caption else ""
        return (f"{FIGURE}{_svg(''.join(parts), self.caption or self.ylabel)}"
                f"{_legend([c.label for c in self.curves])}{caption}</figure>")


LOW, MID, HIGH = (31, 119, 180), (247, 247, 247), (214, 39, 40)


def colours(values) -> np.ndarray:
    """RGB of probabilities `values` (..., ) in [0, 1]: blue (0), white (0.5), red (1);
    NaN is white. Returns uint8 (..., 3)."""
    p = np.clip(np.nan_to_num(np.asarray(values, dtype=float), nan=0.5), 0.0, 1.0)[..., None]
    low, mid, high = (np.array(c, dtype=float) for c in (LOW, MID, HIGH))
    rgb = np.where(p < 0.5, low + (mid - low) * (2 * p), mid + (high - mid) * (2 * p - 1))
    return np.rint(rgb).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """A PNG file of an RGB image (H, W, 3) uint8, top row first (8-bit truecolour)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + np.ascontiguousarray(rgb[i]).tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@dataclass
class Heatmap(Block):
    """A field in [0, 1] on a grid (rows bottom to top) with labelled points, as SVG.

    values: (rows, cols), an array or nested lists, over `extent` = (x0, x1, y0, y1); points:
    [(x, y, cls)] with cls 0 or 1 (drawn blue or red, at most 1000).
    """

    values: Any
    extent: tuple[float, float, float, float]
    points: list[tuple[float, float, int]] = field(default_factory=list)
    xlabel: str = "x"
    ylabel: str = "y"
    caption: str = ""
    title: str | None = None

    def render_markdown(self) -> list[str]:
        return [f"*Map: {self.caption or 'a field over the inputs'}.*", ""]

    def render_html(self) -> str:
        x0, x1, y0, y1 = self.extent
        scale = _Scale([x0, x1], [y0, y1], logy=False)
        # the field is one small PNG stretched over the plot area (rows bottom to top,
        # so flipped for the image), not one rectangle per cell: ~1 ms instead of ~50
        image = png_bytes(colours(self.values)[::-1]) if len(self.values) else None
        parts = [] if image is None else [
            f"<image x='{PAD_L}' y='{PAD_T}' width='{W - PAD_L - PAD_R}' "
            f"height='{H - PAD_T - PAD_B}' preserveAspectRatio='none' "
            f"href='{data_uri(image, 'image/png')}'/>"]
        for x, y, cls in self.points[:1000]:
            pt = scale.point(x, y)
            if pt:
                cx, cy = pt.split(",")
                parts.append(f"<circle cx='{cx}' cy='{cy}' r='2.5' stroke='#000' "
                             f"stroke-width='0.4' fill='{PALETTE[3] if cls else PALETTE[0]}'/>")
        parts.append(_axes(scale, self.xlabel, self.ylabel))
        caption = f"<figcaption>{esc(self.caption)}</figcaption>" if self.caption else ""
        return f"{FIGURE}{_svg(''.join(parts), self.caption or 'map')}{caption}</figure>"


def function_chart(grid, predictions, names: Sequence[str], points=(), *,
                   extra: Sequence[Curve] = (), xlabel: str = "x", ylabel: str = "y",
                   caption: str = "") -> LineChart:
    """The functions a model has learned: `predictions` (E, G) over `grid` (G,), one
    line per member named by `names` (E,), after the `extra` curves (a true function),
    over scatter `points` [(x, y)] (the training data)."""
    grid = [float(v) for v in grid]
    curves = [*extra] + [Curve(str(n), grid, [float(v) for v in row])
                         for n, row in zip(names, predictions, strict=True)]
    return LineChart(curves, xlabel=xlabel, ylabel=ylabel,
                     points=[(float(a), float(b)) for a, b in points], caption=caption)
