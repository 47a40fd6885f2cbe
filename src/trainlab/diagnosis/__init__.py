"""`trainlab diagnose`: every diagnostic of the lab on a model trainlab did not build.

The package is named ``diagnosis`` so that the name ``trainlab.diagnose`` stays the
public function (`trainlab.api.diagnose`). Its diagnostics are a registry of small
functions (`diagnostic`), so adding one is one decorated function.
"""

from .command import run_diagnose
from .registry import DIAGNOSTICS, diagnostic

__all__ = ["DIAGNOSTICS", "diagnostic", "run_diagnose"]
