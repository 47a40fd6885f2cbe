"""Reports: a run's report.md/report.html, the runs index, shared plot helpers."""

from trainlab.report.render import render_report
from trainlab.report.site import write_index

__all__ = ["render_report", "write_index"]
