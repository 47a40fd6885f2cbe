"""Figures of `trainlab diagnose` with their data: ``figures/NAME.csv`` beside the PNG/SVG."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from trainlab.runs import atomic_write_text


def figure_with_data(ctx, fig, name: str, caption: str,
                     columns: dict[str, Sequence]) -> None:
    """Add ``fig`` to the report and write its plotted ``columns`` as ``figures/NAME.csv``.

    Columns may differ in length (shorter ones end with empty cells); NaN is written empty.
    """
    ctx.figure(fig, name, caption)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(columns))
    cols = [list(v) for v in columns.values()]
    for i in range(max((len(c) for c in cols), default=0)):
        writer.writerow([_cell(c[i]) if i < len(c) else "" for c in cols])
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    atomic_write_text(ctx.path / "figures" / f"{safe}.csv", buf.getvalue())


def _cell(v) -> str:
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    return str(v)
