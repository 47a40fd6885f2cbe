"""The command line end to end: outputs, run folders, exit codes, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainlab.cli import main

ENV = dict(os.environ, MPLBACKEND="Agg")


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "trainlab", *args], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=300)


RUN_FILES = ["config.json", "env.json", "status.json", "metrics.jsonl", "summary.json",
             "report.md", "report.html"]


def test_list_and_show(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "polyfit" in out and "SmoothL1" in out
    assert main(["show", "polyfit"]) == 0
    out = capsys.readouterr().out
    assert "lrs" in out and "smoke:" in out and "learning rates compared" in out


def test_run_writes_every_file_and_prints_folder_last(tmp_path):
    proc = cli("run", "polyfit", "--preset", "smoke", "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "polyfit"
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "figures").glob("*.png")) and list((run_dir / "figures").glob("*.svg"))
    assert list((run_dir / "checkpoints").glob("*.pt"))
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed" and status["finished"] and status["seconds"] > 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["preset"] == "smoke" and config["seed"] == 2020
    assert config["config"]["epochs"] == 20
    env = json.loads((run_dir / "env.json").read_text())
    assert {"python", "torch", "numpy", "trainlab", "device", "threads"} <= set(env)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all({"epoch", "split", "model", "loss"} <= set(r) for r in rows)
    assert (tmp_path / "index.html").exists()


def test_json_flag_prints_only_the_summary(tmp_path):
    proc = cli("run", "polyfit", "--preset", "smoke", "--json", "--runs-dir", str(tmp_path),
               "--set", "lrs=[0.1]")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [r["lr"] for r in summary["runs"]] == [0.1]
    run_dir = Path(proc.stderr.strip().splitlines()[-1])
    assert json.loads((run_dir / "summary.json").read_text()) == summary


def test_out_option_names_the_folder(tmp_path):
    out = tmp_path / "exact"
    proc = cli("run", "polyfit", "--preset", "smoke", "--out", str(out))
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == str(out)
    assert (out / "summary.json").exists()
    again = cli("run", "polyfit", "--preset", "smoke", "--out", str(out))
    assert again.returncode == 2 and "not an empty folder" in again.stderr


@pytest.mark.parametrize("args,fragment", [
    (["run", "polyfit", "--set", "lr=abc"], "unknown config key 'lr'"),
    (["run", "polyfit", "--set", "lrs=abc"], "'lrs': expected a list"),
    (["run", "polyfit", "--set", "epochs=abc"], "'epochs': expected an integer"),
    (["run", "polyfit", "--set", "epochs=-3"], "'epochs': must be > 0"),
    (["run", "polyfit", "--set", "batch_size=0"], "'batch_size': must be > 0"),
    (["run", "polyfit", "--set", "lrs=[0]"], "'lrs': must be > 0"),
    (["run", "polyfit", "--set", "nosuchkey=1"], "unknown config key 'nosuchkey'"),
    (["run", "polyfit", "--set", "novalue"], "expected key=value"),
    (["run", "polyfit", "--preset", "nope"], "unknown preset 'nope'"),
    (["run", "nosuchexp"], "unknown experiment 'nosuchexp'"),
    (["run", "polyfit", "--config", "missing.toml"], "config file not found"),
    (["run", "polyfit", "--device", "tpu"], "expected auto, cpu or cuda"),
    (["run"], "required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line_and_no_folder(tmp_path, capsys, args, fragment):
    argv = [*args, "--runs-dir", str(tmp_path)] if args[0] == "run" and len(args) > 1 else args
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not list(tmp_path.glob("*/*/status.json"))


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    proc = cli("run", "polyfit", "--set", "epochs=abc", "--runs-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("trainlab: error: config key 'epochs': expected an integer, "
                                   "got 'abc'")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_invalid_toml_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = [")
    proc = cli("run", "polyfit", "--config", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2 and "invalid TOML" in proc.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("status.json"))


def test_divergence_exits_3_with_failed_status(tmp_path):
    proc = cli("run", "polyfit", "--preset", "smoke", "--runs-dir", str(tmp_path),
               "--set", "lrs=[1000]", "--set", "loss=mse")
    assert proc.returncode == 3, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed"
    assert status["reason"].startswith("diverged at epoch ")
    assert not (run_dir / "summary.json").exists()
    assert (run_dir / "report.html").exists() and list((run_dir / "figures").glob("*.png"))


def test_resume_of_completed_run_is_a_no_op_and_report_builds_index(tmp_path):
    proc = cli("run", "polyfit", "--preset", "smoke", "--runs-dir", str(tmp_path))
    run_dir = proc.stdout.strip().splitlines()[-1]
    again = cli("resume", run_dir)
    assert again.returncode == 0 and again.stdout.strip() == run_dir
    rep = cli("report", str(tmp_path))
    assert rep.returncode == 0
    index = Path(rep.stdout.strip()).read_text()
    assert "polyfit/" in index and "report.html" in index
    assert cli("report", str(tmp_path / "nope")).returncode == 2


def test_show_lists_default_replicates_and_claims(capsys):
    from trainlab.experiments import height_weight, linreg

    for module, exp_id, how in ((height_weight, "height-weight", "one ensemble"),
                                (linreg, "linreg", "one after another")):
        assert main(["show", exp_id]) == 0
        out = capsys.readouterr().out
        rep = module.REPLICATES
        assert (f"replicates (--seeds N overrides): smoke {rep.smoke}, quick {rep.quick}, "
                f"full {rep.full}; trained as {how}") in out
        for claim in module.CLAIMS:
            assert f"  {claim.id}: {claim.statement}" in out
