"""Shared test set-up: headless matplotlib, a private data cache, small thread counts."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _trainlab_cache(tmp_path_factory):
    """Keep parsed datasets in one cache shared by the session (not in the home folder)."""
    if "TRAINLAB_CACHE" not in os.environ:
        os.environ["TRAINLAB_CACHE"] = str(tmp_path_factory.mktemp("trainlab-cache"))
    yield
