"""The registry: summary-key notation and check, the DESIGN §5 table, lazy lookup,
and one test file per experiment."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainlab import registry
from trainlab.config import BaseConfig
from trainlab.errors import BadInput
from trainlab.registry import (
    all_experiments,
    expand_summary_keys,
    experiment,
    missing_summary_keys,
)
from trainlab.runner import execute

ROOT = Path(__file__).resolve().parents[1]


def _package_experiments():
    return [e for e in all_experiments() if e.run.__module__.startswith("trainlab.experiments.")]


# ------------------------------------------------------------------ notation


def test_expand_summary_keys():
    assert expand_summary_keys(("a", "b.c", "d[].{e, f}", "g[].h[].i")) == [
        "a", "b.c", "d[].e", "d[].f", "g[].h[].i"]


@pytest.mark.parametrize("bad", ["a b", "a.{b", "{a, b}", "a[].", "a[x]", "a.{b.c}"])
def test_malformed_summary_keys_are_rejected_at_registration(bad):
    with pytest.raises(ValueError, match="summary key"):
        experiment("never-registered", config=BaseConfig, purpose="x", chapter="basics",
                   summary_keys=(bad,))


def test_missing_summary_keys_names_concrete_paths():
    summary = {"a": 1, "runs": [{"lr": 0.1, "loss": 2.0}, {"lr": 0.2}],
               "sgd": {"w": [1.0]}, "flat": 3, "nest": [{"m": [{"x": 1}, {}]}]}
    keys = ("a", "runs[].{lr, loss}", "sgd.{w, b}", "flat[].x", "flat.y", "gone",
            "nest[].m[].x")
    assert missing_summary_keys(summary, keys) == [
        "runs[1].loss", "sgd.b", "flat (not a list)", "flat.y", "gone", "nest[0].m[1].x"]
    assert missing_summary_keys(summary, ("a", "runs[].lr", "nest[].m")) == []
    # an empty list has no items to lack a key
    assert missing_summary_keys({"runs": []}, ("runs[].lr",)) == []


# ------------------------------------------------------- the runner's check


@dataclass
class _Cfg(BaseConfig):
    pass


def _register(exp_id: str, summary) -> None:
    experiment(exp_id, config=_Cfg, purpose="test-only", chapter="basics",
               summary_keys=("value", "items[].x"))(lambda cfg, ctx: summary)


@pytest.mark.parametrize("summary, reason", [
    ({"value": 1.0, "items": [{"x": 1}, {"y": 2}]}, "lacks items[1].x"),
    ([1.0], "is a list, not a dict"),
])
def test_a_summary_without_its_keys_fails_the_run(tmp_path, summary, reason):
    _register("keys-fake", summary)
    try:
        out = execute("keys-fake", preset="smoke", out=tmp_path / "run", progress=False,
                      quiet=True)
    finally:
        registry.unregister("keys-fake")
    assert (out.state, out.exit_code, out.summary) == ("failed", 3, None)
    assert reason in out.reason and "keys-fake" in out.reason
    assert not (tmp_path / "run" / "summary.json").exists()
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and reason in status["reason"]
    assert reason in (tmp_path / "run" / "error.txt").read_text()


def test_a_summary_with_its_keys_completes(tmp_path):
    _register("keys-fake", {"value": 1.0, "items": [{"x": 1}], "extra": True})
    try:
        out = execute("keys-fake", preset="smoke", out=tmp_path / "run", progress=False,
                      quiet=True)
    finally:
        registry.unregister("keys-fake")
    assert out.state == "completed"
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["extra"] is True


# ------------------------------------------------------------ DESIGN §5 table


def _design_keys() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    section = text.split("## 5.", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        m = re.match(r"\| `([a-z0-9-]+)` \|.*\| (.*) \|$", line)
        if m:
            table[m.group(1)] = expand_summary_keys(tuple(re.findall(r"`([^`]+)`", m.group(2))))
    return table


def test_design_table_lists_the_registered_summary_keys():
    design = _design_keys()
    registered = {e.id: expand_summary_keys(e.summary_keys) for e in _package_experiments()}
    assert sorted(design) == sorted(registered), "DESIGN §5 ids differ from the registry"
    for exp_id, keys in registered.items():
        assert keys, f"{exp_id}: no summary_keys in its @experiment(...)"
        assert sorted(design[exp_id]) == sorted(keys), (
            f"{exp_id}: DESIGN §5 lists {design[exp_id]}, @experiment(summary_keys=) {keys}")


# -------------------------------------------------------------------- lookup


def test_every_experiment_has_its_test_file():
    missing = [e.id for e in _package_experiments()
               if not (ROOT / "tests" / "experiments" /
                       f"test_{e.id.replace('-', '_')}.py").is_file()]
    assert not missing, f"add tests/experiments/test_<id with _>.py for {missing}"


def test_every_experiment_lives_in_the_module_named_after_it():
    for exp in _package_experiments():
        assert exp.run.__module__ == registry.module_name(exp.id)


def test_get_imports_only_the_experiment_asked_for():
    code = ("import sys; from trainlab import registry; e = registry.get('grad-norm'); "
            "print(e.id, sorted(m for m in sys.modules if m.startswith('trainlab.experiments.')"
            " and not m.rsplit('.', 1)[1].startswith('_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert out.stdout.split(" ", 1) == ["grad-norm",
                                        "['trainlab.experiments.grad_norm']\n"]


@pytest.mark.parametrize("bad", ["nope", "../polyfit", "grad_norm", "Polyfit", ""])
def test_get_an_unknown_id_lists_the_known_ones(bad):
    with pytest.raises(BadInput, match=r"unknown experiment .*known: .*polyfit"):
        registry.get(bad)
