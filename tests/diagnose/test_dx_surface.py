"""`trainlab diagnose --only surface`: the grid against loading each point into the user's
model (BatchNorm in eval mode), the trajectory plane against a NumPy SVD, a model vmap
cannot trace, and the command line with its offline 3-D view."""

import json
import os

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import vector_to_parameters

import trainlab
from trainlab.cli import main
from trainlab.diagnostics import flatten_params, random_directions
from trainlab.report.surface3d import plotly_js_source

SMOKE = {"n_train": 0, "n_eval": 0, "surface_grid": 5}


def _plotly_or_skip():
    """The 3-D view needs plotly (the 'interactive' extra): required under CI."""
    if plotly_js_source() is None:
        if os.environ.get("CI"):
            pytest.fail("plotly is not installed (the 'interactive' extra)")
        pytest.skip("plotly not installed (not CI)")


def _check_grid(net, summary, xs, x, y, seed=0):
    """Every grid point loaded into a copy of `net` (eval mode) gives the summary's loss."""
    theta = flatten_params(net)
    dirs = random_directions(theta, [p.shape for p in net.parameters()], 2, seed=seed)
    probe = net.eval()
    for i, b in enumerate(xs):
        for j, a in enumerate(xs):
            vector_to_parameters(theta + a * dirs[0] + b * dirs[1], probe.parameters())
            with torch.no_grad():
                want = float(F.cross_entropy(probe(x), y))
            assert summary["train_loss_grid"][i][j] == pytest.approx(want, rel=1e-5)
    vector_to_parameters(theta, probe.parameters())


def test_surface_around_a_batchnorm_resnet_equals_loading_each_point(zoo, tmp_path):
    x, y = zoo["images"]()
    run = trainlab.diagnose(zoo["resnet"](0), {"train": (x[:24], y[:24]), "test": (x[24:], y[24:])},
                            preset="smoke", out=tmp_path / "r", only=["surface"], **SMOKE)
    s = run.summary["surface"]
    assert s["grid"] == 5 and np.asarray(s["eval_loss_grid"]).shape == (5, 5)
    _check_grid(zoo["resnet"](0), s, s["alphas"], x[:24], y[:24])
    mid = s["train_loss_grid"][2][2]  # the centre is the model itself
    with torch.no_grad():
        assert mid == pytest.approx(float(F.cross_entropy(zoo["resnet"](0).eval()(x[:24]),
                                                          y[:24])), rel=1e-5)
    assert s["slices"]["direction1"] == s["train_loss_grid"][2]
    html = (run.dir / "report.html").read_text()
    _plotly_or_skip()
    assert "surface3d-diagnose-random" in html and "_assets/plotly.min.js" in html


class Untraceable(nn.Module):
    """A model whose forward calls .item(): torch.func.vmap cannot trace it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))

    def forward(self, x):
        scale = 1.0 if x.abs().max().item() < 1e6 else 0.0
        return self.net(x) * scale


def test_a_model_vmap_cannot_trace_is_evaluated_point_by_point(zoo, tmp_path):
    x, y = zoo["vectors"]()
    run = trainlab.diagnose(Untraceable(), (x, y), preset="smoke", out=tmp_path / "u",
                            only=["surface"], **SMOKE)
    s = run.summary["surface"]
    _check_grid(Untraceable(), s, s["alphas"], x, y)


def test_trajectory_plane_holds_the_svd_share_and_ends_at_the_model(zoo, trajectory, tmp_path):
    folder, rows = trajectory([f"step{step}.pt" for step in range(5)])
    run = trainlab.diagnose(zoo["dropout_mlp"](4), zoo["vectors"](), trajectory=str(folder),
                            preset="smoke", out=tmp_path / "t", only=["surface"], **SMOKE)
    s = run.summary["surface"]
    sv = np.linalg.svd(rows - rows.mean(0), compute_uv=False)
    assert s["explained_variance"] == pytest.approx(float((sv[:2] ** 2).sum() / (sv ** 2).sum()),
                                                    rel=1e-6)
    assert s["path"][-1] == pytest.approx([0.0, 0.0], abs=1e-5)  # the model is the last one
    # the first point's distance from the model, within the plane, by NumPy's own basis
    _, _, vt = np.linalg.svd(rows - rows.mean(0), full_matrices=False)
    first = (rows[0] - rows[-1]) @ vt[:2].T
    assert np.abs(s["path"][0]) == pytest.approx(np.abs(first), rel=1e-5)


def test_cli_only_surface(write_spec, zoo, tmp_path, capsys):
    spec = write_spec(zoo["mlp_spec"])
    runs = tmp_path / "runs"
    code = main(["diagnose", str(spec), "--only", "surface", "--preset", "smoke",
                 "--runs-dir", str(runs), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["diagnostics"] == ["surface"]
    assert np.asarray(summary["surface"]["train_loss_grid"]).shape == (5, 5)
    run = next((runs / "diagnose").iterdir())
    assert (run / "figures" / "surface.csv").is_file()
    _plotly_or_skip()
    assert "src='../../_assets/plotly.min.js'" in (run / "report.html").read_text()
