"""optimizers: every optimizer trains (L-BFGS included), tables and grid are complete."""

import pytest
import torch

from trainlab.errors import BadInput
from trainlab.runner import execute

ALL = {"sgd", "momentum", "adagrad", "adadelta", "adam", "lbfgs"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("optimizers", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    return out


def test_every_optimizer_has_a_result(smoke):
    results = smoke.summary["results"]
    assert {r["optimizer"] for r in results} == ALL and len(results) == len(ALL)
    for r in results:
        assert not r["diverged"]
        assert 0 <= r["test_error"] <= 100 and 0 <= r["train_error"] <= 100
        assert r["seconds"] > 0


def test_lbfgs_runs_and_learns(smoke):
    (lbfgs,) = [r for r in smoke.summary["results"] if r["optimizer"] == "lbfgs"]
    assert lbfgs["train_error"] < 60  # chance is 90 %; one full-batch L-BFGS step does better
    assert lbfgs["train_loss"] < 2.0  # below log(10) = 2.30 of the uniform guess


def test_lr_grid_covers_every_optimizer(smoke):
    sens = smoke.summary["lr_sensitivity"]
    for opt in ALL:
        rows = [r for r in sens if r["optimizer"] == opt]
        assert len(rows) == 3
        default = next(r for r in smoke.summary["results"] if r["optimizer"] == opt)["lr"]
        assert [r["lr"] for r in rows] == pytest.approx([default * f for f in (0.1, 1, 10)])
    # the grid's middle member repeats the default run (same start, same batches)
    for opt in ALL - {"lbfgs"}:
        main = next(r for r in smoke.summary["results"] if r["optimizer"] == opt)
        mid = [r for r in sens if r["optimizer"] == opt][1]
        assert mid["train_loss"] == pytest.approx(main["train_loss"], rel=1e-4)
    assert {s["optimizer"] for s in smoke.summary["lr_spread"]} == ALL


def test_lrs_must_match_optimizers(tmp_path):
    with pytest.raises(BadInput, match="one learning rate per optimizer"):
        execute("optimizers", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                sets={"optimizers": ["sgd", "adam"]})


def test_momentum_reaches_only_the_momentum_optimizers(monkeypatch):
    """Plain SGD must stay plain: the `momentum` field is for `momentum`/`nesterov` only."""
    from trainlab.config import resolve
    from trainlab.experiments import optimizers

    seen = {}

    def spy(model, train, **kw):
        seen[kw["optim"].name] = kw["optim"].momentum

    monkeypatch.setattr(optimizers, "fit", spy)
    cfg = resolve(optimizers.Config, optimizers.PRESETS, "smoke")
    ds = type("DS", (), {"num_classes": 3, "input_shape": (4,)})()
    split = optimizers.Split(torch.zeros(6, 4), torch.zeros(6, dtype=torch.long))
    ctx = type("Ctx", (), {"device": torch.device("cpu")})()
    for opt in ALL | {"nesterov"}:
        optimizers.train_one(cfg, ctx, ds, split, split, opt, [0.1], "spy")
    assert seen.pop("momentum") == seen.pop("nesterov") == cfg.momentum == 0.9
    assert all(m == 0.0 for m in seen.values()), seen


def test_time_figure_shows_fast_optimizers_next_to_lbfgs():
    """The wall-time panels: the fast optimizers use a readable share of the axis."""
    import numpy as np

    from trainlab.experiments.optimizers import _plot_curves
    from trainlab.history import History

    def history(seconds):
        n = len(seconds)
        return History(list(range(n)), list(seconds),
                       {"train/loss": [[1.0 / (t + 1)] for t in range(n)],
                        "test/accuracy": [[0.5 + 0.04 * t] for t in range(n)]})

    class Ctx:
        figures = {}

        def figure(self, fig, name, caption):
            self.figures[name] = fig

    ctx = Ctx()
    _plot_curves(ctx, {"adam": history([0.0, 0.06, 0.12, 0.18, 0.24, 0.3]),
                       "lbfgs": history([0.0, 1.6, 3.2, 4.8, 6.4, 8.0])})
    for ax in ctx.figures["curves-seconds"].axes:
        assert ax.get_xscale() == "log"
        adam = next(line for line in ax.get_lines() if line.get_label() == "adam")
        x = np.asarray(adam.get_xdata(), float)
        assert (x > 0).all()  # 0 s has no place on a log axis
        ends = ax.transAxes.inverted().transform(ax.transData.transform(
            [[x.min(), 1.0], [x.max(), 1.0]]))[:, 0]
        assert ends[1] - ends[0] > 0.25  # on a linear axis it was 0.03 of the width
    assert ctx.figures["curves-epoch"].axes[0].get_xscale() == "linear"


def test_lbfgs_default_rate_fit_is_the_grid_middle_one(tmp_path):
    """The grid reuses the default rate's L-BFGS fit for its ×1 point: a second fit of the
    same model, batches and rate gives the same numbers to the bit."""
    from trainlab.config import resolve
    from trainlab.experiments import optimizers as exp
    from trainlab.registry import get
    from trainlab.run_context import RunContext

    e = get("optimizers")
    cfg = resolve(e.config, e.presets, "smoke", None, None, None)
    ctx = RunContext(tmp_path, "optimizers", torch.device("cpu"), cfg.seed)
    ds, train, test = exp.load_data(cfg, ctx.device)
    lr = cfg.lrs[cfg.optimizers.index("lbfgs")]
    first, second = (exp.train_one(cfg, ctx, ds, train, test, "lbfgs", [lr], n)
                     for n in ("opt-lbfgs", "grid-lbfgs-1"))
    assert exp._row(first, 0, "lbfgs", lr) == exp._row(second, 0, "lbfgs", lr)
    assert not first.diverged[0]
