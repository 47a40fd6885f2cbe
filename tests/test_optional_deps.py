"""The optional-package helper of the tests: skip on a workstation, fail under CI."""

from pathlib import Path

import pytest

from optional_deps import require


def test_an_installed_package_is_returned():
    assert require("json").dumps([1]) == "[1]"


def test_a_missing_package_skips_without_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_package_xyz is not installed"):
        require("no_such_package_xyz")


def test_a_missing_package_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match=r"pip install -e '\.\[sweep\]'"):
        require("optuna.no_such_submodule")


def test_no_test_skips_silently_on_a_missing_package():
    tests = Path(__file__).parent
    offenders = [str(p.relative_to(tests)) for p in tests.rglob("*.py")
                 if p.name != "optional_deps.py" and p != Path(__file__)
                 and "importorskip(" in p.read_text(encoding="utf-8")]
    assert not offenders, f"use optional_deps.require(...) in {offenders}"
