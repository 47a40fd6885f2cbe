"""The old home of `run_folder` and `run_context` (layer 3): names re-exported.

New code imports from `trainlab.run_folder` (files) and `trainlab.run_context`
(`RunContext`); this module keeps older imports working.
"""

from trainlab.run_context import RunContext
from trainlab.run_folder import (
    Checkpoint,
    append_metrics,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    new_run_dir,
    read_json,
    read_metrics,
    to_json,
    truncate_metrics,
    utc_now,
)

__all__ = [
    "Checkpoint", "RunContext", "append_metrics", "atomic_write_bytes",
    "atomic_write_json", "atomic_write_text", "new_run_dir", "read_json", "read_metrics",
    "to_json", "truncate_metrics", "utc_now",
]
