"""A test-only experiment whose objective is a known function of its config.

`value = (x - 0.3)² + (y + 0.2)² + 0.1·k + (0 if opt == "a" else 1) + seed_term·seed`
(seed_term is 0 unless a test sets it); the run sleeps
`sleep` seconds spread over `epochs` epochs and logs `val/loss = value + 1/epoch` at
each, fails when x > fail_above and reports a NaN objective when y > nan_above.
It is registered only where a test asks for it (`register()`), never in the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trainlab.config import BaseConfig, option
from trainlab.errors import RunFailed
from trainlab.registry import _REGISTRY, Sweep, experiment

EXP_ID = "sweep-fake"
CLI = Path(__file__).with_name("sweep_cli.py")


@dataclass
class FakeConfig(BaseConfig):
    x: float = option(0.0, "first coordinate")
    y: float = option(0.0, "second coordinate")
    k: int = option(1, "an integer term", positive=True)
    opt: Literal["a", "b"] = option("a", "a categorical term")
    lrs: list[float] = option([0.1], "a list field (set to one value by a sweep)")
    epochs: int = option(3, "epochs (one intermediate value each)")
    sleep: float = option(0.0, "seconds the run sleeps in all", minimum=0.0)
    fail_above: float = option(1e9, "the run fails when x is above this")
    nan_above: float = option(1e9, "the objective is NaN when y is above this")
    seed_term: float = option(0.0, "value += seed_term * seed (replicates that differ)")


def objective(x: float, y: float, k: int = 1, opt: str = "a") -> float:
    return (x - 0.3) ** 2 + (y + 0.2) ** 2 + 0.1 * k + (0.0 if opt == "a" else 1.0)


def _run(cfg: FakeConfig, ctx) -> dict:
    value = objective(cfg.x, cfg.y, cfg.k, cfg.opt) + cfg.seed_term * cfg.seed
    for epoch in range(1, cfg.epochs + 1):
        if cfg.sleep:
            time.sleep(cfg.sleep / cfg.epochs)
        ctx.log([{"epoch": epoch, "split": "val", "model": "m", "loss": value + 1.0 / epoch}])
        if cfg.x > cfg.fail_above:
            raise RunFailed(f"x={cfg.x} is above fail_above={cfg.fail_above}")
    if cfg.y > cfg.nan_above:
        value = float("nan")
    return {"value": value, "val_loss": value + 1.0 / cfg.epochs, "lr": cfg.lrs[0],
            "nested": {"values": [value, -value]}}


def register() -> None:
    """Register the experiment (idempotent)."""
    if EXP_ID not in _REGISTRY:
        experiment(EXP_ID, config=FakeConfig, chapter="sweeps", presets={"smoke": {}},
                   purpose="test-only: a known function of its config", sweep=SWEEP)(_run)


SWEEP = Sweep(objective="value",
              objectives={"value": "minimize", "val_loss": "minimize",
                          "nested.values.#": "minimize", "lr": "maximize"},
              space={"x": {"type": "float", "low": -1.0, "high": 1.0},
                     "opt": {"type": "categorical", "choices": ["a", "b"]}},
              sets={"k": 2})


def unregister() -> None:
    _REGISTRY.pop(EXP_ID, None)


# ------------------------------------------------------------ CLI helpers


def cli_env() -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONUNBUFFERED="1")
    return env


def run_cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """`trainlab ARGS…` (with the test experiment) in a subprocess."""
    return subprocess.run([sys.executable, str(CLI), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=cli_env())


def write_space(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# A space over the fake experiment's three parameters (x, y continuous; opt categorical).
SPACE = """
[x]
type = "float"
low = -1.0
high = 1.0
[y]
type = "float"
low = -1.0
high = 1.0
[opt]
type = "categorical"
choices = ["a", "b"]
"""
