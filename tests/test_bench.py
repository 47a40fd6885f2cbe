"""Every benchmark in bench/ runs at its quick size and prints the JSON of DESIGN §8.

These are not timing tests (no time is asserted): they keep the scripts working, and
check the numbers they compare are the same numbers (each script's own agreement
field, where it has one).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = {
    "ensemble": [],
    "minimal_ratio": [],
    "hessian": ["--no-memory", "--repeats", "1"],
    "sensitivity": ["--repeats", "1"],
    "cnn": ["--repeats", "1"],
    "compile": ["--mode", "aot_eager"],  # traces only: no C++ compiler needed
    "diagnose": ["--no-memory", "--repeats", "1"],
    "tables": ["--repeats", "1"],
    "surface": [],
}


def _run(script: str, args: list[str]) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), "--quick", "--json",
                           *args], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_quick_benchmark_prints_design_json(script):
    result = _run(script, SCRIPTS[script])
    assert result["cases"] and {"name", "settings", "versions"} <= result.keys()
    for case in result["cases"]:
        assert case["baseline_s"] > 0 and case["trainlab_s"] > 0
        assert case["ratio"] == pytest.approx(case["baseline_s"] / case["trainlab_s"], rel=0.01)
    if script == "hessian":  # Lanczos found the dense top-5
        assert all(c["top5_max_rel_diff"] < 1e-3 for c in result["cases"])
    if script == "sensitivity":  # Gram trick + vmap equals the per-example loop
        assert result["cases"][0]["max_rel_diff"] < 1e-4
    if script == "diagnose":  # Lanczos found the dense top-5; the Jacobian norms agree
        tops = [c for c in result["cases"] if c["task"] == "top-5"]
        assert tops and all(c["trainlab_max_rel_diff"] < 1e-3 for c in tops)
        jac = [c for c in result["cases"] if c["task"] == "input-Jacobian norms"]
        assert jac and jac[0]["max_rel_diff"] < 1e-4
    if script == "tables":  # the reader gives numpy.loadtxt's values
        assert result["cases"][0]["same_values"] is True
    if script == "surface":  # the ensemble grid equals the per-point loop, both MLPs
        assert len(result["cases"]) == 2
        assert all(c["max_rel_diff"] < 1e-5 for c in result["cases"])
    if script == "cnn":
        assert [c["size"]["precision"] for c in result["cases"]] == ["fp32", "bf16"]


def test_suite_benchmark_reports_time_and_memory():
    proc = subprocess.run([sys.executable, str(BENCH / "suite_cost.py"), "--preset", "smoke",
                           "--only", "polyfit,critical-points", "--json"],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(c["experiment"] for c in result["cases"]) == ["critical-points", "polyfit"]
    for case in result["cases"]:
        assert case["exit"] == 0 and case["seconds"] > 0
        assert 20 < case["peak_rss_mib"] < 4096  # a Python with torch, well under 4 GiB
