"""surface: smoke run; the ensemble grid against loading each point into one model, the
paths' endpoints against the saved checkpoints, filter norms of the saved directions, and
the ensemble evaluator on a quadratic (least squares) against its closed form."""

import os

import numpy as np
import pytest
import torch

from trainlab.diagnostics.surface import loss_surface, random_directions
from trainlab.experiments._landscape import EnsembleGrid
from trainlab.models import Ensemble, mlp, small_cnn_spec
from trainlab.report.surface3d import plotly_js_source
from trainlab.runner import execute


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("surface", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    return out


def test_summary_keys_and_shapes(smoke):
    s = smoke.summary
    g = s["grid"]
    assert np.asarray(s["train_loss_grid"]).shape == (g, g)
    assert np.asarray(s["test_loss_grid"]).shape == (g, g)
    assert set(s["paths"]) == {"sgd", "momentum", "adam"}
    assert all(np.asarray(p).shape == (3, 2) for p in s["paths"].values())  # epochs 0, 1, 2
    assert 0 < s["explained_variance"] <= 1 + 1e-9
    assert [c["id"] for c in s["claims"]] == ["small-batch-flatter", "trajectory-nearly-planar"]
    assert s["flatness_ratio"] == pytest.approx(s["batch"][1]["loss_rise"]
                                                / s["batch"][0]["loss_rise"])
    html = (smoke.path / "report.html").read_text()
    if plotly_js_source() is None:  # the 3-D views need the 'interactive' extra
        if os.environ.get("CI"):
            pytest.fail("plotly is not installed (the 'interactive' extra)")
        pytest.skip("plotly not installed (not CI)")
    assert html.count("class='surface3d'") == 2
    assert "src='../../_assets/plotly.min.js'" in html
    assert (smoke.path.parents[1] / "_assets" / "plotly.min.js").stat().st_size > 1_000_000


def _center_member(smoke):
    saved = np.load(smoke.path / "surface.npz")
    cfg = smoke.summary
    model = mlp([16], 784, 10, [0])
    torch.nn.utils.vector_to_parameters(torch.from_numpy(saved["origin"]), model.parameters())
    return saved, model, cfg


def test_grid_equals_loading_each_point(smoke):
    from trainlab.experiments._common import standardized_mnist

    saved, model, s = _center_member(smoke)
    x, y, xt, yt = standardized_mnist(0, 500)
    x, xt = x.reshape(len(x), -1), xt.reshape(len(xt), -1)
    origin = torch.from_numpy(saved["origin"])
    d = torch.from_numpy(saved["random_directions"])
    coords = saved["coords"]
    net = model.member(0)
    for i, j in [(0, 0), (3, 5), (6, 2)]:
        theta = origin + float(coords[j]) * d[0] + float(coords[i]) * d[1]
        torch.nn.utils.vector_to_parameters(theta, net.parameters())
        with torch.no_grad():
            train = torch.nn.functional.cross_entropy(net(x), y)
            test = torch.nn.functional.cross_entropy(net(xt), yt)
        assert s["train_loss_grid"][i][j] == pytest.approx(float(train), rel=2e-5)
        assert s["test_loss_grid"][i][j] == pytest.approx(float(test), rel=2e-5)


def test_directions_are_filter_normalized(smoke):
    saved, model, _ = _center_member(smoke)
    origin = torch.from_numpy(saved["origin"])
    d = torch.from_numpy(saved["random_directions"])
    start = 0
    for p in model.parameters():
        n = p[0].numel()
        w, piece = origin[start:start + n], d[:, start:start + n]
        start += n
        if p.dim() == 2:  # a bias (E, out): zero direction
            assert torch.count_nonzero(piece) == 0
        else:
            rows = p.shape[1]
            wn = w.reshape(rows, -1).norm(dim=1)
            for k in range(2):
                torch.testing.assert_close(piece[k].reshape(rows, -1).norm(dim=1), wn)


def test_path_endpoints_are_the_projections_of_the_checkpoints(smoke):
    saved = np.load(smoke.path / "surface.npz")
    origin = torch.from_numpy(saved["origin"]).double()
    dirs = torch.from_numpy(saved["pca_directions"]).double()
    for opt, path in smoke.summary["paths"].items():
        state = torch.load(smoke.path / "checkpoints" / f"path-{opt}.pt", weights_only=True)
        theta = torch.cat([v[0].reshape(-1) for v in state["model"].values()]).double()
        end = (theta - origin) @ dirs.T
        assert path[-1] == pytest.approx(end.tolist(), abs=1e-5)
    assert smoke.summary["paths"]["momentum"][-1] == pytest.approx([0.0, 0.0], abs=1e-5)


def test_ensemble_grid_on_least_squares_equals_the_closed_form():
    # a linear model with MSE is a quadratic in its weights: Hessian 2 X^T X / N
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.randn(50, 1, generator=g, dtype=torch.float64)
    origin = torch.randn(4, generator=g, dtype=torch.float64)  # (w1, w2, w3, b)
    dirs = torch.randn(2, 4, generator=g, dtype=torch.float64)
    ev = EnsembleGrid([("linear", 1)], (3,), origin, dirs, x, y, "mse")
    alphas, betas = torch.linspace(-1, 1, 5), torch.linspace(-2, 2, 3)
    grid = loss_surface(ev, alphas, betas, chunk=4)
    xa = torch.cat([x, torch.ones(50, 1, dtype=torch.float64)], 1)
    H = 2 * xa.T @ xa / 50
    r = xa @ origin - y[:, 0]
    f0, gr = float(r @ r / 50), 2 * xa.T @ r / 50
    for i, b in enumerate(betas.tolist()):
        for j, a in enumerate(alphas.tolist()):
            step = a * dirs[0] + b * dirs[1]
            assert float(grid[i, j]) == pytest.approx(f0 + float(gr @ step)
                                                      + 0.5 * float(step @ H @ step), rel=1e-10)


@pytest.mark.parametrize("spec,shape", [
    ([("linear", 6), ("act", "tanh"), ("linear", 5), ("act", "relu"), ("linear", 3)], (4,)),
    (small_cnn_spec([2], num_classes=3), (1, 6, 6)),  # a conv first layer: no shortcut
])
def test_ensemble_grid_equals_one_model_per_point(spec, shape):
    g = torch.Generator().manual_seed(1)
    model = Ensemble(spec, shape, [3])
    x = torch.randn(20, *shape, generator=g)
    y = torch.randint(0, 3, (20,), generator=g)
    theta = model.flat_parameters()[0]
    dirs = random_directions(theta, [p.shape[1:] for p in model.parameters()], 2, seed=2)
    ev = EnsembleGrid(spec, shape, theta, dirs, x, y, "cross_entropy")
    coords = torch.tensor([-1.0, 0.3, 1.0])
    grid = loss_surface(ev, coords, coords, chunk=4)
    net = model.member(0)
    for i, b in enumerate(coords.tolist()):
        for j, a in enumerate(coords.tolist()):
            torch.nn.utils.vector_to_parameters(theta + a * dirs[0] + b * dirs[1],
                                                net.parameters())
            with torch.no_grad():
                want = torch.nn.functional.cross_entropy(net(x), y)
            assert float(grid[i, j]) == pytest.approx(float(want), rel=1e-5)


@pytest.mark.parametrize("sets", [{"lrs": [0.1]}, {"center": "adagrad"}, {"grid": 2},
                                  {"batch_sizes": [32]}, {"functions": {"targets": ["x+"]}}])
def test_bad_config_is_refused_before_any_folder(tmp_path, sets):
    from trainlab.errors import BadInput

    with pytest.raises(BadInput):
        execute("surface", preset="smoke", sets=sets, runs_dir=tmp_path, progress=False,
                quiet=True)
    assert not (tmp_path / "surface").exists() or not any((tmp_path / "surface").iterdir())
