"""Optional packages in tests: a missing one skips the test on a workstation, fails it in CI.

`require("optuna")` returns the imported module. When it cannot be imported the test
(or, at module level, the whole file) is skipped with the install hint, unless the
environment variable `CI` is set: CI installs every extra (`make install`), so there a
missing package is a broken set-up and must not pass silently.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

# package -> the extra of pyproject.toml that installs it
EXTRAS = {"optuna": "sweep", "scipy": "data", "sklearn": "data", "mlxtend": "data",
          "playwright": "browser", "hypothesis": "dev", "plotly": "interactive"}


def in_ci() -> bool:
    """True when the environment variable `CI` is set (to anything but empty)."""
    return bool(os.environ.get("CI"))


def missing(message: str) -> None:
    """Fail under CI, skip otherwise (for any prerequisite a test cannot run without)."""
    if in_ci():
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require(module: str) -> ModuleType:
    """`import module`, or skip (workstation) / fail (CI) naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(module.split(".")[0], "dev")
        missing(f"{module} is not installed ({exc}); pip install -e '.[{extra}]'")
        raise  # unreachable: missing() raises
