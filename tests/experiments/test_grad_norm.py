"""grad-norm: smoke run through the runner (the recorder's oracle test is in
tests/diagnostics/test_diag_recorders.py)."""

import numpy as np
import pytest

from trainlab.runner import execute
from trainlab.runs import read_metrics


def test_smoke_run(tmp_path):
    out = execute("grad-norm", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True)
    assert out.state == "completed", out.reason
    s = out.summary
    # smoke: 200 points in batches of 64 = 4 iterations per epoch, 3 epochs
    assert s["iterations"] == 12 and s["tasks"]["function"]["iterations"] == 12
    assert s["tasks"]["mnist"]["iterations"] == 8  # 500 images / 64 -> 8 per epoch, 1 epoch
    assert s["final_grad_norm"] > 0 and np.isfinite(s["final_loss"])
    rows = [r for r in read_metrics(out.path / "metrics.jsonl") if "step" in r]
    assert len(rows) == 12 + 8 and all("grad_norm" in r for r in rows)
    assert rows[11]["grad_norm"] == pytest.approx(s["final_grad_norm"])
    for task in ("function", "mnist"):
        assert (out.path / "figures" / f"{task}-grad-norm.png").exists()
