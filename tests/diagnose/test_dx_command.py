"""`trainlab diagnose` end to end: the run folder, and the summary against exact oracles
(dense torch.func.hessian + eigvalsh of the same loss, closed-form quadratics, losses at
the two checkpoints, a NumPy SVD of the trajectory)."""

import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import trainlab
from trainlab.cli import main
from trainlab.diagnostics import flatten_params, make_loss_fn, minimal_ratio

SMOKE = {"n_train": 0, "n_eval": 0}  # every example: the oracles see the same data


def _dense(model, loss, x, y):
    """Eigenvalues (ascending) of the dense float64 Hessian of the eval-mode loss."""
    m = model.double().eval()
    xx = x.double()
    yy = y.double() if y.is_floating_point() else y
    f = make_loss_fn(m, loss, xx, yy)
    theta = flatten_params(m)
    return torch.linalg.eigvalsh(torch.func.hessian(f)(theta)), f, theta


def test_cli_writes_a_complete_run_folder(write_spec, zoo, tmp_path, capsys):
    spec = write_spec(zoo["mlp_spec"])
    runs = tmp_path / "runs"
    code = main(["diagnose", str(spec), "--preset", "smoke", "--runs-dir", str(runs),
                 "--set", "n_train=0", "--set", "n_eval=0", "--set", "trace_probes=60",
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    run = next((runs / "diagnose").iterdir())
    assert captured.err.strip().splitlines()[-1] == str(run)
    for name in ("config.json", "env.json", "status.json", "summary.json", "report.html",
                 "report.md"):
        assert (run / name).is_file(), name
    assert json.loads((run / "status.json").read_text())["state"] == "completed"
    for png in (run / "figures").glob("*.png"):
        assert png.with_suffix(".csv").is_file() and png.with_suffix(".svg").is_file()
    assert "diagnose" in (runs / "index.html").read_text()
    assert "eval mode" in (run / "report.md").read_text()
    # the oracle: the same model and training split (n_train=0 keeps all 60 examples)
    ns: dict = {}
    exec(zoo["mlp_spec"], ns)
    x, y = ns["data"]()["train"]
    eig, _, _ = _dense(ns["model"](), "cross_entropy", x, y)
    assert summary["params"] == eig.numel() == 67
    top = torch.tensor(summary["hessian_top"], dtype=torch.float64)
    assert torch.allclose(top, eig.flip(0)[:3], rtol=1e-4, atol=1e-6)  # float32 model
    assert summary["minimal_ratio"] == pytest.approx(minimal_ratio(eig), abs=2 / 67)
    lo, hi = summary["hessian_trace"]["ci95"]
    assert lo <= summary["hessian_exact"]["trace"] <= hi and summary["hessian_trace"]["n"] == 60
    assert summary["hessian_exact"]["trace"] == pytest.approx(float(eig.sum()), rel=1e-4)
    for key in ("sharpness", "jacobian_norm", "loss_grad_norm", "hessian_trace"):
        assert {"value", "ci95"} <= summary[key].keys(), key
    assert set(summary["skipped"]) == {"interpolation", "trajectory"}


def _quadratic_model(a: torch.Tensor):
    """Linear model w -> X w with X^T X / N = diag(a) at w = 0, targets 0: f(w) = w^T diag(a) w."""
    n = a.numel()
    model = nn.Linear(n, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()
    x = torch.diag((n * a).sqrt())
    return model, x, torch.zeros(n, 1, dtype=torch.float64)


def test_closed_form_quadratic_spectrum_trace_and_sharpness(tmp_path):
    a = torch.tensor([4.0, 2.5, 1.0, 0.5, 0.25, 0.1], dtype=torch.float64)
    model, x, y = _quadratic_model(a)
    eps = 0.01
    run = trainlab.diagnose(model, (x, y), "mse", preset="smoke", out=tmp_path / "q",
                            only=["hessian", "trace", "sharpness"], epsilon=eps,
                            **SMOKE)
    s = run.summary
    assert s["hessian_top"] == pytest.approx((2 * a[:3]).tolist(), rel=1e-6)  # H = 2 diag(a)
    assert s["hessian_trace"]["value"] == pytest.approx(2 * float(a.sum()), rel=1e-6)
    # the box maximum of w^T diag(a) w over |w_i| <= eps is eps^2 sum(a), at any corner
    expected = 100 * eps**2 * float(a.sum())
    assert s["sharpness"]["value"] == pytest.approx(expected, rel=1e-6)
    assert s["sharpness"]["max"] == pytest.approx(expected, rel=1e-6)
    assert s["diagnostics"] == ["hessian", "trace", "sharpness"]
    chunked = trainlab.diagnose(model, (x, y), "mse", preset="smoke", out=tmp_path / "c",
                                only=["hessian", "trace", "density", "layers"], hvp_chunk=4,
                                **SMOKE).summary
    assert chunked["hessian_top"] == pytest.approx(s["hessian_top"], rel=1e-9)
    assert chunked["hessian_trace"]["value"] == pytest.approx(s["hessian_trace"]["value"],
                                                              rel=1e-9)
    # density and layers through the same micro-batches: H = 2 diag(a) in one layer
    assert chunked["slq_range"][1] == pytest.approx(2 * float(a.max()), rel=1e-6)
    (layer,) = chunked["layers"]
    assert layer["top_eigenvalue"] == pytest.approx(2 * float(a.max()), rel=1e-6)
    assert layer["trace"] == pytest.approx(2 * float(a.sum()), rel=1e-6)


@pytest.mark.parametrize("kind", ["resnet", "dropout", "custom_loss"])
def test_models_trainlab_did_not_build(kind, zoo, tmp_path):
    if kind == "resnet":
        model, (x, y), loss = zoo["resnet"](), zoo["images"](), "cross_entropy"
    elif kind == "dropout":
        model, (x, y), loss = zoo["dropout_mlp"](), zoo["vectors"](), "cross_entropy"
    else:
        model, (x, y), loss = zoo["dropout_mlp"](), zoo["vectors"](), zoo["huber_mean"]
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = trainlab.diagnose(model, (x, y), loss, preset="smoke", out=tmp_path / kind,
                            only=["hessian", "minimal_ratio", "sensitivity"], **SMOKE)
    assert model.training and all(torch.equal(v, model.state_dict()[k])
                                  for k, v in before.items())  # the user's model is untouched
    s = run.summary
    eig, f, theta = _dense(model, loss, x, y)  # eval mode: running stats, no dropout
    assert torch.allclose(torch.tensor(s["hessian_top"], dtype=torch.float64),
                          eig.flip(0)[:3], rtol=1e-3, atol=1e-5)
    assert s["hessian_exact"]["top"] == pytest.approx(eig.flip(0)[:3].tolist(), rel=1e-3,
                                                      abs=1e-5)
    assert s["mode"] == "eval" and "eval mode" in (run.dir / "report.md").read_text()
    assert s["jacobian_norm"]["n"] == x.shape[0]
    # the loss gradient w.r.t. the inputs, per example, by plain autograd
    m = model.double().eval()
    norms = []
    for xi, yi in zip(x.double(), y, strict=True):
        xi = xi[None].clone().requires_grad_(True)
        crit = loss if callable(loss) else F.cross_entropy
        (gx,) = torch.autograd.grad(crit(m(xi), yi[None]), xi)
        norms.append(float(gx.norm()))
    assert s["loss_grad_norm"]["value"] == pytest.approx(np.mean(norms), rel=1e-3)


def test_interpolation_endpoints_are_the_two_checkpoints(zoo, tmp_path):
    first, second = zoo["resnet"](0), zoo["resnet"](7)  # BatchNorm statistics differ too
    x, y = zoo["images"]()
    torch.save(first.state_dict(), tmp_path / "a.pt")
    torch.save(second.state_dict(), tmp_path / "b.pt")
    run = trainlab.diagnose(zoo["resnet"](3), {"train": (x[:24], y[:24]), "test": (x[24:], y[24:])},
                            checkpoint=str(tmp_path / "a.pt"), compare=str(tmp_path / "b.pt"),
                            preset="smoke", out=tmp_path / "i", only=["interpolation"],
                            **SMOKE)
    curve = run.summary["interpolation"]
    assert curve["alpha"][0] == -1.0 and curve["alpha"][-1] == 2.0
    i0, i1 = curve["alpha"].index(0.0), curve["alpha"].index(1.0)
    for net, i in ((first, i0), (second, i1)):
        net.eval()
        with torch.no_grad():
            assert curve["train_loss"][i] == pytest.approx(
                float(F.cross_entropy(net(x[:24]), y[:24])), rel=1e-5)
            assert curve["eval_loss"][i] == pytest.approx(
                float(F.cross_entropy(net(x[24:]), y[24:])), rel=1e-5)
            assert curve["eval_accuracy"][i] == pytest.approx(
                float((net(x[24:]).argmax(1) == y[24:]).double().mean()))


def test_trajectory_pca_matches_numpy_svd(zoo, trajectory, tmp_path):
    # step10 after step5: the checkpoints are ordered by their number, not by name
    folder, flats = trajectory([f"step{step * 5}.pt" for step in range(5)])
    run = trainlab.diagnose(zoo["dropout_mlp"](4), zoo["vectors"](), trajectory=str(folder),
                            preset="smoke", out=tmp_path / "t", only=["trajectory"], **SMOKE)
    diffs = flats - flats[-1]
    s = np.linalg.svd(diffs - diffs.mean(0), compute_uv=False)
    expected = (s[:2] ** 2 / (s**2).sum()).tolist()
    got = run.summary["trajectory_explained_variance_ratio"]
    assert got == pytest.approx(expected, rel=1e-6)
    rows = (run.dir / "figures" / "trajectory.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [f"step{i * 5}.pt" for i in range(5)]


def test_trace_takes_the_hessian_runs_krylov_space(zoo, tmp_path):
    """After `hessian`, the trace's exact part is that run's Krylov space (no new Lanczos
    steps): its interval still covers the dense trace, and alone it builds its own."""
    ns: dict = {}
    exec(zoo["mlp_spec"], ns)
    x, y = ns["data"]()["train"]
    eig, _, _ = _dense(ns["model"](), "cross_entropy", x, y)
    both = trainlab.diagnose(ns["model"](), (x, y), "cross_entropy", preset="smoke",
                             out=tmp_path / "both", only=["hessian", "trace"],
                             trace_probes=40, **SMOKE).summary
    alone = trainlab.diagnose(ns["model"](), (x, y), "cross_entropy", preset="smoke",
                              out=tmp_path / "alone", only=["trace"], trace_probes=40,
                              **SMOKE).summary
    t = both["hessian_trace"]
    assert t["subspace_from"] == "hessian" and t["subspace_rank"] == both["lanczos_steps"]
    assert alone["hessian_trace"]["subspace_from"] == "trace"
    for s in (both, alone):
        lo, hi = s["hessian_trace"]["ci95"]
        assert lo <= float(eig.sum()) <= hi
