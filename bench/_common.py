"""Shared helpers of the benchmarks: timing, versions, the JSON/table output of DESIGN §8."""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}

# The device the script measures, set when its arguments are parsed; `emit` records it.
DEVICE = "cpu"


class _Parser(argparse.ArgumentParser):
    """Refuses a --device the script cannot honour, in one line (exit 2), before any work.

    A script without a CUDA path used to accept --device cuda and time the CPU under that
    name; `cuda` is honoured only by scripts made with `parser(..., cuda=True)`, and only
    when torch sees a CUDA device.
    """

    cuda = False

    def parse_args(self, args=None, namespace=None):  # noqa: D102 - argparse's
        parsed = super().parse_args(args, namespace)
        why = device_problem(parsed.device, self.cuda)
        if why:
            self.exit(2, f"{self.prog}: error: --device {parsed.device}: {why}\n")
        global DEVICE
        DEVICE = parsed.device
        return parsed


def device_problem(device: str, script_has_cuda: bool) -> str | None:
    """Why `device` cannot be measured (None when it can)."""
    if device not in ("cpu", "cuda"):
        return "expected cpu or cuda"
    if device == "cuda" and not script_has_cuda:
        return "this benchmark measures the CPU only"
    if device == "cuda" and not torch.cuda.is_available():
        return "no CUDA device is available"
    return None


def parser(description: str, repeats: int | None = None,
           cuda: bool = False) -> argparse.ArgumentParser:
    """The common options; `--repeats` too when the script takes a best-of-N.

    cuda: the script can run its measurement on a GPU (`--device cuda`).
    """
    p = _Parser(description=description)
    p.cuda = cuda
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument("--device", default="cpu",
                   help="cpu | cuda (default: cpu)" if cuda else "cpu (the only one measured)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                   help="wall time (default), or this process's CPU time: steadier on a shared "
                   "machine, meaningful with --threads 1 (idle OpenMP threads spin and count "
                   "as CPU time)")
    if repeats is not None:
        p.add_argument("--repeats", type=int, default=repeats,
                       help=f"timings per method, best kept (default {repeats})")
    return p


def timed_result(fn, repeat: int = 1, clock: str = "wall"):
    """(best time of `repeat` calls of fn in seconds, the last call's result).

    On CUDA the device is synchronised before the clock stops.
    """
    now = CLOCKS[clock]
    best, out = float("inf"), None
    for _ in range(repeat):
        start = now()
        out = fn()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        best = min(best, now() - start)
    return best, out


def timed(fn, repeat: int = 1, clock: str = "wall") -> float:
    """Best wall (or CPU) time of `repeat` calls of fn (seconds)."""
    return timed_result(fn, repeat, clock)[0]


def versions() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine()}


def emit(name: str, cases: list[dict], settings: dict, as_json: bool) -> None:
    """Print the benchmark result as JSON (DESIGN §8) or as a table."""
    for c in cases:
        c["ratio"] = round(c["baseline_s"] / c["trainlab_s"], 2) if c["trainlab_s"] else None
    settings = {"device": DEVICE, **settings}
    result = {"name": name, "cases": cases, "settings": settings, "versions": versions()}
    if as_json:
        print(json.dumps(result))
        return
    print(f"{name}  ({json.dumps(settings)})")
    for c in cases:
        extra = {k: v for k, v in c.items() if k not in ("size", "baseline_s", "trainlab_s",
                                                         "ratio")}
        print(f"  {json.dumps(c['size']):<28} baseline {c['baseline_s']:8.3f} s   trainlab "
              f"{c['trainlab_s']:8.3f} s   ratio {c['ratio']:7.1f}x  "
              f"{json.dumps(extra) if extra else ''}")
