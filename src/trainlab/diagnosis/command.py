"""`trainlab diagnose SPEC.py` and `trainlab.diagnose(model, data)`: one code path.

The inputs are checked and the shared samples fixed (`build_probe`) before anything is
written; then the run goes through `trainlab.runner` like any experiment, under the id
``diagnose``: ``runs/diagnose/<stamp>/`` with config, env, status, summary, figures
(each with its data as CSV) and the report, listed in ``runs/index.html``.
"""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.config import parse_sets, resolve
from trainlab.errors import BadInput
from trainlab.registry import Experiment
from trainlab.runner import Outcome, execute_experiment, resolve_device

from .config import PRESETS, DiagnoseConfig
from .probe import Probe, build_probe
from .registry import DIAGNOSTICS, load_all, select
from .spec import load_spec

EXP_ID = "diagnose"
QUESTION = ("What do the curvature, sharpness and sensitivity of this model look like at "
            "its current weights, and how sure are those numbers?")
WHAT_TO_LOOK_AT = (
    "- Top eigenvalues come with Lanczos residual bounds: an eigenvalue of H lies within "
    "each bound.\n"
    "- Stochastic estimates (trace, SLQ trace, sharpness, sensitivity, batch gradient "
    "norms) carry a 95 % t-interval over probes, restarts, examples or batches: compare "
    "two models only where the intervals do not overlap.\n"
    "- A trace far above top_k · top eigenvalue means many sizeable directions; a few "
    "dominant eigenvalues mean a sharp, low-dimensional curvature.")
HEADLINE = ("params", "hessian_top", "hessian_trace.value", "sharpness.value",
            "jacobian_norm.value", "loss_grad_norm.value", "minimal_ratio")


def _mode_text(probe: Probe) -> str:
    layers = probe.layers_in_train_mode
    which = (f" It has {len(layers)} layer(s) whose behaviour depends on the mode "
             f"(BatchNorm, dropout: {', '.join(layers[:6])}{'…' if len(layers) > 6 else ''}).")
    return ("The model was measured in **eval mode** (`model.eval()`): BatchNorm uses its "
            "running statistics and dropout is off, so the loss is a deterministic function "
            "of the weights and examples do not interact. In training mode every evaluation "
            "would draw new dropout masks and batch statistics, and the Hessian, sharpness and "
            "sensitivity would mix that noise with the curvature."
            + (which if layers else " This model has no such layer, so both modes agree."))


def _run_fn(probe: Probe, chosen, skipped):
    def run(cfg, ctx) -> dict:
        ctx.text(_mode_text(probe), title="How the model was measured")
        ctx.text(f"P = {probe.params} parameters in {len(probe.groups)} layer group(s); "
                 f"loss `{probe.loss_name}` on {probe.train[0].shape[0]} training examples "
                 f"(seeded subset); sensitivity on {probe.eval[0].shape[0]} "
                 f"{probe.eval_name} examples.", title="Inputs")
        summary: dict[str, Any] = {
            "params": probe.params, "mode": "eval", "loss": probe.loss_name,
            "n_train": int(probe.train[0].shape[0]), "n_eval": int(probe.eval[0].shape[0]),
            "train_loss": probe.loss_at(probe.theta, probe.train),
            "eval_loss": probe.loss_at(probe.theta, probe.eval),
            "diagnostics": [d.name for d in chosen],
            "skipped": {name: reason for name, reason in skipped}}
        names = [d.name for d in chosen]
        probe.keep_krylov = "hessian" in names and "trace" in names and cfg.trace_rank > 0
        for d in chosen:
            ctx.echo(f"diagnose: {d.name}")
            summary.update(d.fn(probe, cfg, ctx))
        if skipped:
            ctx.table([{"diagnostic": n, "why not": r} for n, r in skipped],
                      title="Not run")
        return summary

    return run


def run_diagnose(model, data, loss: Any = None, *, checkpoint: Any = None,
                 compare: Any = None, trajectory: Any = None, only: list[str] | None = None,
                 preset: str = "full", sets: dict | None = None, seed: int | None = None,
                 device: str = "auto", out=None, runs_dir="runs", spec: str = "",
                 progress: bool | None = None, quiet: bool = False) -> Outcome:
    """Diagnose ``model`` on ``data`` into a run folder and return the outcome.

    Everything is validated first (`BadInput`, nothing written); see the module docstring.
    """
    sets = dict(sets or {})
    if only:
        sets["only"] = list(only)
    for key, value in (("spec", spec), ("checkpoint", checkpoint), ("compare", compare),
                       ("trajectory", trajectory)):
        if isinstance(value, str) and value:
            sets[key] = value
    cfg = resolve(DiagnoseConfig, PRESETS, preset, None, sets, seed)
    dev = resolve_device(device)
    probe = build_probe(model, data, loss, cfg, dev, checkpoint=checkpoint, compare=compare,
                        trajectory=trajectory)
    chosen, skipped = select(cfg.only, probe, cfg)
    exp = Experiment(id=EXP_ID, purpose="every diagnostic of the lab on your own model",
                     chapter="other", config=DiagnoseConfig, presets=PRESETS,
                     run=_run_fn(probe, chosen, skipped), question=QUESTION,
                     what_to_look_at=WHAT_TO_LOOK_AT, headline=HEADLINE,
                     summary_keys=("params", "mode", "diagnostics", "skipped"))
    return execute_experiment(exp, cfg, preset=preset, device=dev, out=out, runs_dir=runs_dir,
                              progress=progress, quiet=quiet)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `trainlab diagnose`."""
    p.add_argument("spec", help="SPEC.py defining model(), data() and optionally loss "
                   "(your own Python code: it runs as such)")
    p.add_argument("--checkpoint", help="state dict to load into model() first")
    p.add_argument("--compare", help="second state dict: interpolation from this model to it")
    p.add_argument("--trajectory", metavar="DIR", help="folder of state dicts for PCA")
    load_all()
    p.add_argument("--only", metavar="A,B,...", help="comma-separated diagnostics, of "
                   f"{', '.join(DIAGNOSTICS)} (default: every one that applies)")
    p.add_argument("--preset", default="full", help="smoke | quick | full (default: full)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting (see docs/diagnose.md)")
    p.add_argument("--seed", type=int, help="random seed (samples, probes, restarts)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    p.add_argument("--out", help="exact run folder (must not exist or be empty)")
    p.add_argument("--runs-dir", default="runs", help="parent of run folders (default: ./runs)")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")


def from_args(args: argparse.Namespace) -> Outcome:
    """Run `trainlab diagnose` from its parsed arguments (see `add_arguments`)."""
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    if args.only is not None and not only:
        raise BadInput("--only: give at least one diagnostic name")
    model, data, loss = load_spec(args.spec)
    return run_diagnose(model, data, loss, checkpoint=args.checkpoint, compare=args.compare,
                        trajectory=args.trajectory, only=only, preset=args.preset,
                        sets=parse_sets(args.sets), seed=args.seed, device=args.device,
                        out=args.out, runs_dir=args.runs_dir, spec=args.spec,
                        quiet=args.json)
