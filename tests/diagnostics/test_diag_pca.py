import numpy as np
import pytest
import torch

from trainlab.diagnostics import trajectory_pca, weight_pca
from trainlab.errors import BadInput


def _snapshots(r=3, t=7, p=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    steps = torch.randn(r, t, p, generator=gen, dtype=torch.float64) * torch.linspace(2, 0.1, p)
    return steps.cumsum(1)  # random walks with anisotropic steps


def test_joint_pca_equals_numpy_svd_of_centred_matrix():
    snaps = _snapshots()
    res = weight_pca(snaps, n_components=3)
    x = snaps.reshape(-1, 40).numpy()
    centred = x - x.mean(0)
    _, s, vh = np.linalg.svd(centred, full_matrices=False)
    ratio = s**2 / (s**2).sum()
    assert np.allclose(res.explained_variance_ratio.numpy(), ratio[:3], atol=1e-12)
    assert np.allclose(res.explained_variance.numpy(), s[:3] ** 2 / (x.shape[0] - 1))
    for i in range(3):  # same directions up to sign
        assert abs(abs(float(res.components[i] @ torch.from_numpy(vh[i]))) - 1) < 1e-10
    assert res.projections.shape == (3, 7, 3)
    proj = (torch.from_numpy(centred) @ res.components.T).reshape(3, 7, 3)
    assert torch.allclose(res.projections, proj)
    assert torch.allclose(res.mean, torch.from_numpy(x.mean(0)))


def test_lowrank_agrees_with_svd():
    snaps = _snapshots(r=2, t=30, p=60, seed=1)
    exact = weight_pca(snaps, 2, method="svd")
    approx = weight_pca(snaps, 2, method="lowrank")
    ratios = exact.explained_variance_ratio, approx.explained_variance_ratio
    assert torch.allclose(*ratios, rtol=1e-6)
    assert torch.allclose(exact.components, approx.components, atol=1e-6)


def test_trajectory_on_a_plane_is_fully_explained():
    gen = torch.Generator().manual_seed(2)
    basis = torch.linalg.qr(torch.randn(50, 2, generator=gen, dtype=torch.float64)).Q.T
    coeffs = torch.stack([torch.linspace(3, 0, 12) ** 2, torch.sin(torch.linspace(0, 3, 12))], 1)
    start = torch.randn(50, generator=gen, dtype=torch.float64)
    traj = start + coeffs.double() @ basis  # (12, 50) on an affine plane
    for center in (True, False):
        res = trajectory_pca(traj, n_components=2, center=center)
        assert float(res.explained_variance_ratio.sum()) == pytest.approx(1.0, abs=1e-12)
        assert torch.allclose(res.projections[-1], torch.zeros(2, dtype=torch.float64))
        # the components span the plane
        assert torch.allclose(res.components @ res.components.T, torch.eye(2, dtype=torch.float64))
        assert float(torch.linalg.det(res.components @ basis.T).abs()) == pytest.approx(1.0)
    joint = weight_pca(traj.unsqueeze(0), 2)
    assert float(joint.explained_variance_ratio.sum()) == pytest.approx(1.0, abs=1e-12)


def test_trajectory_pca_matches_numpy_of_differences():
    traj = _snapshots(r=1, t=9, p=20)[0]
    diffs = (traj - traj[-1]).numpy()
    _, s, _ = np.linalg.svd(diffs, full_matrices=False)
    res = trajectory_pca(traj, 2, center=False)
    assert np.allclose(res.explained_variance_ratio.numpy(), (s**2 / (s**2).sum())[:2])


def test_bad_shapes():
    with pytest.raises(BadInput):
        weight_pca(torch.zeros(5), 2)
    with pytest.raises(BadInput):
        weight_pca(torch.zeros(3, 4), 5)
    with pytest.raises(BadInput):
        trajectory_pca(torch.zeros(2, 3, 4))
