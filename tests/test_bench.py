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
    "live": ["--only", "polyfit"],
    "replicates": ["--replicates", "2"],
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
    assert result["settings"]["device"] == "cpu"  # the device measured is recorded
    for case in result["cases"]:
        assert case["baseline_s"] > 0 and case["trainlab_s"] > 0
        # the ratio is printed to 2 places: allow that rounding besides 1 %
        expected = case["baseline_s"] / case["trainlab_s"]
        assert case["ratio"] == pytest.approx(expected, rel=0.01, abs=0.006)
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
    if script == "live":  # the page was written, and the time inside it is the difference
        (case,) = result["cases"]
        assert case["writes"] >= 1
        assert case["live_s"] == pytest.approx(case["trainlab_s"] - case["baseline_s"], abs=2e-4)
    if script == "cnn":
        assert [c["size"]["precision"] for c in result["cases"]] == ["fp32", "bf16"]


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_suite_benchmark_reports_time_and_memory(workers):
    proc = subprocess.run([sys.executable, str(BENCH / "suite_cost.py"), "--preset", "smoke",
                           "--only", "polyfit,critical-points", "--json", *workers],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(c["experiment"] for c in result["cases"]) == ["critical-points", "polyfit"]
    for case in result["cases"]:
        assert case["exit"] == 0 and case["seconds"] > 0
        assert 20 < case["peak_rss_mib"] < 4096  # a Python with torch, well under 4 GiB
    if workers:  # one command: its wall time covers the longest experiment
        assert result["workers"] == 2
        assert result["total_s"] >= max(c["seconds"] for c in result["cases"])


def _bench_module(name: str):
    """bench/NAME.py imported as a module (its folder first on sys.path, as when run)."""
    import importlib.util

    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_device_is_refused_unless_the_script_can_measure_it(monkeypatch, capsys):
    common = _bench_module("_common")
    monkeypatch.setattr(common.torch.cuda, "is_available", lambda: False)
    cases = [(False, "cuda", "this benchmark measures the CPU only"),
             (True, "cuda", "no CUDA device is available"), (True, "tpu", "expected cpu or cuda")]
    for has_cuda, device, why in cases:
        with pytest.raises(SystemExit) as stop:
            common.parser("x", cuda=has_cuda).parse_args(["--device", device])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [f"{Path(sys.argv[0]).name}: error: --device {device}: {why}"]
    monkeypatch.setattr(common.torch.cuda, "is_available", lambda: True)
    assert common.parser("x", cuda=True).parse_args(["--device", "cuda"]).device == "cuda"
    assert common.DEVICE == "cuda"
    common.emit("x", [{"size": {"N": 1}, "baseline_s": 2.0, "trainlab_s": 1.0}], {}, True)
    assert json.loads(capsys.readouterr().out)["settings"]["device"] == "cuda"


def test_scripts_with_a_gpu_path_are_the_ones_run_all_sends_cuda_to():
    import re

    run_all = _bench_module("run_all")
    has_cuda = {name for name in run_all.SCRIPTS
                if re.search(r"parser\(.*cuda=True\)", (BENCH / f"{name}.py").read_text())}
    assert has_cuda == run_all.CUDA_SCRIPTS


def test_a_cpu_only_script_refuses_cuda_in_one_line():
    proc = subprocess.run([sys.executable, str(BENCH / "hessian.py"), "--quick", "--json",
                           "--device", "cuda"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "hessian.py: error: --device cuda: this benchmark measures the CPU only"]


def test_run_all_exits_1_when_a_script_fails(tmp_path, monkeypatch, capsys):
    run_all = _bench_module("run_all")
    good = {"name": "good", "cases": [{"size": {"N": 3}, "baseline_s": 2.0, "trainlab_s": 1.0,
                                       "ratio": 2.0}], "settings": {"device": "cpu"}}
    (tmp_path / "good.py").write_text(f"print({json.dumps(json.dumps(good))})\n")
    (tmp_path / "bad.py").write_text("import sys\nsys.exit('broken')\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    monkeypatch.setattr(run_all, "SCRIPTS", ["bad", "good"])
    monkeypatch.setattr(sys, "argv", ["run_all.py"])
    assert run_all.main() == 1
    captured = capsys.readouterr()
    assert "| good | cpu | N=3 | 2.000 | 1.000 | 2.0× |  |" in captured.out
    assert "bad failed" in captured.err and "1 benchmark(s) failed: bad" in captured.err
    monkeypatch.setattr(run_all, "SCRIPTS", ["good"])
    assert run_all.main() == 0


def test_run_all_refuses_cuda_without_a_gpu(monkeypatch, capsys):
    run_all = _bench_module("run_all")
    monkeypatch.setattr(run_all, "_cuda_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--device", "cuda"])
    with pytest.raises(SystemExit) as stop:
        run_all.main()
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("run_all.py: error: --device cuda: no CUDA device is "
                                       "available\n")
