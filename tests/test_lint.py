"""ruff finds nothing in src/, tests/ and bench/, with the rules of pyproject.toml.

The rules include pycodestyle, pyflakes, import order, bugbear, pyupgrade and McCabe
complexity (C901, at most 15 per function), so `make lint` and the test suite check the
same thing. ruff is a dev dependency: without it the test is skipped, except under CI,
where it fails.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    try:
        import ruff  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("ruff is missing: install the dev extra (pip install -e '.[dev]')")
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return [sys.executable, "-m", "ruff"]


def test_ruff_finds_nothing():
    proc = subprocess.run([*_ruff(), "check", "--no-cache", "src", "tests", "bench"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_complexity_is_part_of_the_rules():
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "C90" in lint["select"] and lint["mccabe"]["max-complexity"] == 15
