"""Loss surfaces: the closed form of a quadratic, filter norms, PCA planes, projections."""

import pytest
import torch
from torch import nn

from trainlab.diagnostics import flatten_params
from trainlab.diagnostics.surface import (
    filter_normalize,
    functional_loss,
    grid_coefficients,
    loss_rise,
    loss_surface,
    pca_plane,
    points_loss,
    project,
    random_directions,
)
from trainlab.errors import BadInput


def _quadratic(P=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(P, P, generator=g, dtype=torch.float64)
    H = a @ a.T + torch.eye(P, dtype=torch.float64)
    star = torch.randn(P, generator=g, dtype=torch.float64)
    return H, star, g


def test_quadratic_surface_equals_the_closed_form():
    H, star, g = _quadratic()
    origin = torch.randn(7, generator=g, dtype=torch.float64)
    dirs = torch.randn(2, 7, generator=g, dtype=torch.float64)

    def loss_of_points(thetas):  # (C, P) -> (C,): 1/2 (t - t*)^T H (t - t*)
        d = thetas - star
        return 0.5 * torch.einsum("cp,pq,cq->c", d, H, d)

    alphas = torch.linspace(-2, 1, 9, dtype=torch.float64)
    betas = torch.linspace(-1, 3, 5, dtype=torch.float64)
    grid = loss_surface(points_loss(loss_of_points, origin, dirs), alphas, betas, chunk=4)
    # closed form: f(a, b) = f0 + a g1 + b g2 + 1/2 (a² h11 + 2ab h12 + b² h22)
    r = origin - star
    f0 = 0.5 * r @ H @ r
    g1, g2 = dirs @ H @ r
    h = dirs @ H @ dirs.T
    b, a = torch.meshgrid(betas, alphas, indexing="ij")
    expected = f0 + a * g1 + b * g2 + 0.5 * (a * a * h[0, 0] + 2 * a * b * h[0, 1]
                                             + b * b * h[1, 1])
    assert grid.shape == (5, 9)
    torch.testing.assert_close(grid, expected, rtol=1e-12, atol=1e-10)


def test_grid_layout_rows_are_betas_columns_alphas():
    coeffs = grid_coefficients(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([10.0, 20.0]))
    assert coeffs.tolist() == [[1, 10], [2, 10], [3, 10], [1, 20], [2, 20], [3, 20]]
    grid = loss_surface(lambda c: c[:, 0] + 100 * c[:, 1], [1.0, 2.0, 3.0], [10.0, 20.0],
                        chunk=2)
    assert grid[1, 2] == 3 + 2000


def test_filter_normalization_matches_every_filter_norm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.Flatten(),
                          nn.Linear(5 * 4 * 4, 6), nn.Linear(6, 2)).double()
    theta = flatten_params(model)
    shapes = [p.shape for p in model.parameters()]
    d = random_directions(theta, shapes, 2, seed=3)
    assert d.shape == (2, theta.numel())
    for k in range(2):
        start = 0
        for p in model.parameters():
            piece = d[k, start:start + p.numel()].reshape(p.shape)
            start += p.numel()
            if p.dim() == 1:  # biases and BatchNorm scale/shift stay put
                assert torch.count_nonzero(piece) == 0
                continue
            dn = piece.reshape(p.shape[0], -1).norm(dim=1)
            wn = p.detach().reshape(p.shape[0], -1).norm(dim=1)
            torch.testing.assert_close(dn, wn, rtol=1e-12, atol=0)
    # same seed, other weights: the same raw draws, rescaled
    again = random_directions(2 * theta, shapes, 2, seed=3)
    torch.testing.assert_close(again, 2 * d)


def test_filter_normalize_of_a_zero_filter_is_zero():
    shapes = [(2, 3)]
    d = torch.tensor([0.0, 0.0, 0.0, 1.0, 2.0, 2.0])
    w = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 6.0])
    out = filter_normalize(d, w, shapes)
    assert out.tolist() == [0.0, 0.0, 0.0, 2.0, 4.0, 4.0]
    with pytest.raises(BadInput):
        filter_normalize(d, w, [(2, 2)])


def test_pca_plane_projects_endpoints_and_explains_a_planar_path_fully():
    g = torch.Generator().manual_seed(5)
    basis = torch.linalg.qr(torch.randn(20, 2, generator=g, dtype=torch.float64))[0].T
    t = torch.linspace(0, 1, 8, dtype=torch.float64)
    coeffs = torch.stack([torch.stack([t, t ** 2], 1), torch.stack([-t, 3 * t], 1)])
    origin = torch.randn(20, generator=g, dtype=torch.float64)
    traj = origin + coeffs @ basis  # (2, 8, 20): two paths in one plane through origin
    plane = pca_plane(traj, origin)
    assert plane.explained_variance == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(plane.directions @ plane.directions.T,
                               torch.eye(2, dtype=torch.float64))
    # the plane is the one of the paths: projecting and lifting back gives the points
    lifted = origin + plane.paths @ plane.directions
    torch.testing.assert_close(lifted, traj)
    for r in range(2):
        end = project(traj[r, -1], origin, plane.directions)
        torch.testing.assert_close(plane.paths[r, -1], end)
        start = (traj[r, 0] - origin) @ plane.directions.T
        torch.testing.assert_close(plane.paths[r, 0], start)


def test_pca_plane_explained_variance_of_a_noisy_path_is_its_svd_share():
    g = torch.Generator().manual_seed(6)
    traj = torch.randn(1, 10, 30, generator=g, dtype=torch.float64)
    plane = pca_plane(traj, traj[0, -1])
    rows = traj[0] - traj[0].mean(0)
    s = torch.linalg.svdvals(rows)
    assert plane.explained_variance == pytest.approx(float((s[:2] ** 2).sum() / (s ** 2).sum()),
                                                     rel=1e-10)


def test_functional_loss_agrees_with_loading_each_point(classifier):
    torch.manual_seed(0)
    x = torch.randn(16, 12, dtype=torch.float64)
    y = torch.randint(0, 5, (16,))
    theta = flatten_params(classifier)
    dirs = random_directions(theta, [p.shape for p in classifier.parameters()], 2, seed=1)
    f = points_loss(functional_loss(classifier, "cross_entropy", x, y), theta, dirs)
    grid = loss_surface(f, [-0.5, 0.0, 0.5], [-1.0, 1.0], chunk=4)
    probe = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 5)).double()
    for i, b in enumerate([-1.0, 1.0]):
        for j, a in enumerate([-0.5, 0.0, 0.5]):
            torch.nn.utils.vector_to_parameters(theta + a * dirs[0] + b * dirs[1],
                                                probe.parameters())
            want = nn.functional.cross_entropy(probe(x), y)
            assert float(grid[i, j]) == pytest.approx(float(want.detach()), rel=1e-12)


def test_loss_rise_is_the_mean_excess():
    assert loss_rise(torch.tensor([[1.0, 3.0], [2.0, 2.0]]), 1.0) == pytest.approx(1.0)
