"""weight-pca: smoke run; the reported explained variance against a NumPy SVD of the saved
snapshots (joint, layer 1 and per-run trajectory)."""

import numpy as np
import pytest

from trainlab.runner import execute


def svd_ratio(rows: np.ndarray, k: int) -> np.ndarray:
    s = np.linalg.svd(rows, compute_uv=False)
    return (s ** 2 / (s ** 2).sum())[:k]


def test_smoke_run_and_pca_oracle(tmp_path):
    out = execute("weight-pca", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True)
    assert out.state == "completed", out.reason
    s = out.summary
    k = len(s["explained_variance_ratio"])
    assert k >= 2
    saved = np.load(out.path / "weights.npz")
    snaps = saved["snapshots"].astype(np.float64)  # (R, T, P)
    R, T, P = snaps.shape
    # smoke: 3 runs, 4 epochs recorded every 2 (+ epoch 0), MLP 784-16-10
    assert (R, T, P) == (s["runs"], s["snapshots_per_run"], s["params"]) == (3, 3, 12730)
    assert list(saved["epochs"]) == s["record_epochs"] == [0, 2, 4]
    flat = snaps.reshape(R * T, P)
    assert s["explained_variance_ratio"] == pytest.approx(
        svd_ratio(flat - flat.mean(0), k), rel=1e-6)
    n1 = int(saved["layer1_size"])
    assert n1 == 784 * 16 + 16
    l1 = flat[:, :n1]
    assert s["layer1_explained_variance_ratio"] == pytest.approx(
        svd_ratio(l1 - l1.mean(0), k), rel=1e-6)
    traj = []
    for r in range(R):
        d = snaps[r] - snaps[r, -1]
        traj.append(svd_ratio(d - d.mean(0), min(k, T)))
    assert s["trajectory_explained_variance_ratio"] == pytest.approx(
        np.mean(traj, axis=0), rel=1e-6)
    for name in ("joint-pca", "trajectory-pca"):
        assert (out.path / "figures" / f"{name}.png").exists()
