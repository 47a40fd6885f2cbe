"""Shared test set-up: headless matplotlib, a private data cache, small thread counts.

Test files import their optional packages with `optional_deps.require(name)` (next to
this file, on sys.path from here): a missing package skips on a workstation and fails
when the environment variable `CI` is set.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
# --import-mode=importlib leaves sys.path alone: make the helpers of tests/ importable.
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _trainlab_cache(tmp_path_factory):
    """Keep parsed datasets in one cache shared by the session (not in the home folder)."""
    if "TRAINLAB_CACHE" not in os.environ:
        os.environ["TRAINLAB_CACHE"] = str(tmp_path_factory.mktemp("trainlab-cache"))
    yield
