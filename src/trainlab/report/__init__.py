"""Reports: a report as a value of typed blocks, its markdown and HTML, the runs index.

Build a `Report` (from a run's `RunContext` or by hand in a notebook), add `Text`,
`Table`, `Pre` and `Figure` blocks, then `to_markdown(report)` / `to_html(report)`;
`save_report(folder, report)` writes both files. `report/html.py` is the HTML toolkit
every page is built from; `report/blocks.py` says how to add a new kind of block.
"""

from trainlab.report.blocks import (
    Block,
    Details,
    Figure,
    Hint,
    KeyValues,
    Pre,
    Report,
    Section,
    Status,
    Table,
    Text,
)
from trainlab.report.render import render_report, run_report, save_report, to_html, to_markdown
from trainlab.report.site import write_index

__all__ = [
    "Block", "Details", "Figure", "Hint", "KeyValues", "Pre", "Report", "Section", "Status",
    "Table", "Text", "render_report", "run_report", "save_report", "to_html", "to_markdown",
    "write_index",
]
