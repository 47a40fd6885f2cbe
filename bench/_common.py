"""Shared helpers of the benchmarks: timing, versions, the JSON/table output of DESIGN §8."""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    return p


def timed(fn, repeat: int = 1) -> float:
    """Best wall time of `repeat` calls of fn (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def versions() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine()}


def emit(name: str, cases: list[dict], settings: dict, as_json: bool) -> None:
    """Print the benchmark result as JSON (DESIGN §8) or as a table."""
    for c in cases:
        c["ratio"] = round(c["baseline_s"] / c["trainlab_s"], 2) if c["trainlab_s"] else None
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
