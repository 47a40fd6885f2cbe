"""trainlab compare: differences of replicate means with Welch intervals, bad input."""

import json
import subprocess
import sys

import pytest
from scipy import stats as sps

from trainlab.compare import compare
from trainlab.errors import BadInput


def _fake_run(path, exp, values, claim_verdict="reproduced"):
    path.mkdir(parents=True)
    reps = [{"seed": i, "summary": {"best_test_accuracy": v, "best_params": 100}}
            for i, v in enumerate(values)]
    summary = {"best_test_accuracy": sum(values) / len(values), "best_params": 100,
               "replicates": reps, "stats": {},
               "claims": [{"id": "c1", "verdict": claim_verdict, "value": 0.5}]}
    (path / "config.json").write_text(json.dumps({"experiment": exp}))
    (path / "summary.json").write_text(json.dumps(summary))
    rows = [{"fit": "f", "epoch": e, "split": "train", "model": f"m/seed{s}", "loss": 1.0 / (e + 1),
             "seed": s} for s in range(len(values)) for e in range(3)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_difference_and_welch_interval_against_scipy(tmp_path):
    a = [0.90, 0.92, 0.91]
    b = [0.95, 0.97, 0.94, 0.96]
    r1 = _fake_run(tmp_path / "a", "param-count", a)
    r2 = _fake_run(tmp_path / "b", "param-count", b, "inconclusive")
    out, table = compare([r1, r2], tmp_path / "cmp")
    md = (out / "compare.md").read_text()
    res = sps.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(0.95)
    diff = sum(b) / 4 - sum(a) / 3
    assert f"{diff:.4g}" in table and f"{res.pvalue:.4g}" in table
    assert f"{ci.low:.4g}" in table and f"{ci.high:.4g}" in table
    assert "inconclusive (0.5)" in md and "reproduced (0.5)" in md
    assert (out / "compare.html").exists() and (out / "figures" / "compare-curves.csv").exists()


def test_runs_of_different_experiments_are_bad_input(tmp_path):
    r1 = _fake_run(tmp_path / "a", "param-count", [0.9, 0.91])
    r2 = _fake_run(tmp_path / "b", "polyfit", [0.9, 0.91])
    with pytest.raises(BadInput, match="different experiments"):
        compare([r1, r2], tmp_path / "cmp")
    with pytest.raises(BadInput, match="at least two"):
        compare([r1], tmp_path / "cmp")


def test_cli_exit_2_for_a_folder_that_is_not_a_run(tmp_path):
    r1 = _fake_run(tmp_path / "a", "param-count", [0.9, 0.91])
    proc = subprocess.run([sys.executable, "-m", "trainlab", "compare", str(r1),
                           str(tmp_path / "nothing"), "--out", str(tmp_path / "cmp")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not a run folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
