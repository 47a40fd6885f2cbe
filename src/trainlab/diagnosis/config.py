"""The settings of `trainlab diagnose`: sample sizes and iteration counts, per preset."""

from __future__ import annotations

from dataclasses import dataclass

from trainlab.config import BaseConfig, option
from trainlab.errors import BadInput


@dataclass
class DiagnoseConfig(BaseConfig):
    """What `trainlab diagnose` measures and with how much work (see `PRESETS`)."""

    spec: str = option("", "the SPEC.py file (empty when called from Python)")
    checkpoint: str = option("", "state dict loaded into the model before measuring")
    compare: str = option("", "second state dict: the far end of the interpolation")
    trajectory: str = option("", "folder of state dicts (*.pt, in name order) for PCA")
    only: list[str] = option([], "diagnostics to run (empty: every one that applies)")
    n_train: int = option(1024, "training examples of the loss whose curvature is measured "
                          "(a seeded subset; 0 = all)", minimum=0)
    n_eval: int = option(1000, "evaluation examples of the sensitivity (0 = all)", minimum=0)
    top_k: int = option(5, "Hessian eigenvalues reported (the largest)", positive=True)
    lanczos_iters: int = option(100, "most Lanczos steps (Hessian-vector products)",
                                positive=True)
    lanczos_tol: float = option(1e-5, "tolerance of the Lanczos stopping rule (lanczos_rule)",
                                minimum=0)
    lanczos_rule: str = option("gap", "stopping rule: 'gap' (min(r, r^2/gap) <= tol·|λ_i|, "
                               "fewer steps) or 'residual' (r <= tol·max|λ|)")
    basis_mib: int = option(1024, "memory cap of the Lanczos basis (float64, P numbers per "
                            "step): fewer steps on very large models", positive=True)
    trace_probes: int = option(40, "Rademacher probes of the trace (after its subspace; 40 "
                               "with trace_rank=20 give a narrower interval than 100 plain "
                               "probes on the bench task)", positive=True)
    trace_rank: int = option(20, "Lanczos steps whose subspace the trace takes exactly "
                             "before its probes (Hutch++-style; 0 = plain Hutchinson)",
                             minimum=0)
    trace_batch: int = option(1, "probes per vmapped Hessian product (1 is fastest on a "
                              "CPU; more can help on a GPU)", positive=True)
    hvp_chunk: int = option(0, "examples per micro-batch of the Hessian products (hessian, "
                            "trace, density, layers): bounds memory to one micro-batch's "
                            "graph, about 1.5x the work (0 = automatic: the whole sample "
                            "when its graph fits in hvp_mib)", minimum=0)
    hvp_mib: int = option(1536, "memory budget of one Hessian-product graph, for the "
                          "automatic hvp_chunk (estimated from what autograd saves)",
                          positive=True)
    slq_vectors: int = option(10, "start vectors of the spectral density (SLQ)", positive=True)
    slq_iters: int = option(90, "Lanczos steps per SLQ vector", positive=True)
    layer_iters: int = option(40, "Lanczos steps per layer (per-layer top eigenvalue)",
                              positive=True)
    layer_probes: int = option(30, "Hutchinson probes per layer", positive=True)
    dense_max_params: int = option(5000, "largest P for the exact dense Hessian (minimal "
                                   "ratio)", positive=True)
    epsilon: float = option(1e-3, "Keskar sharpness box: |δᵢ| ≤ ε(|θᵢ|+1) (1e-3 as in Keskar "
                            "et al. 2017)", positive=True)
    sharpness_steps: int = option(50, "projected sign-ascent steps per restart", positive=True)
    sharpness_restarts: int = option(5, "ascent restarts (the first from the gradient-sign "
                                     "corner, the others from random corners)", positive=True)
    grad_batches: int = option(8, "data batches of the gradient-norm interval", positive=True)
    alphas: int = option(31, "interpolation points, α evenly in [-1, 2]", positive=True)
    pca_components: int = option(2, "trajectory PCA components", positive=True)
    surface_grid: int = option(21, "loss surface (--only surface): grid points per side "
                               "(odd: the middle row and column are the 1-D slices)",
                               positive=True)
    surface_span: float = option(1.0, "loss surface: coefficients of the filter-normalized "
                                 "directions in [-span, span]", positive=True)

    def validate(self) -> None:
        if self.alphas < 2:
            raise BadInput("config key 'alphas': at least 2 interpolation points")
        if self.lanczos_rule not in ("gap", "residual"):
            raise BadInput(f"config key 'lanczos_rule': 'gap' or 'residual', got "
                           f"{self.lanczos_rule!r}")
        if self.sharpness_restarts < 2:
            raise BadInput("config key 'sharpness_restarts': at least 2 (for an interval)")


PRESETS = {
    "smoke": {"n_train": 128, "n_eval": 32, "top_k": 3, "lanczos_iters": 30,
              "trace_probes": 10, "trace_rank": 8, "slq_vectors": 2, "slq_iters": 20,
              "layer_iters": 10, "layer_probes": 6, "dense_max_params": 600,
              "sharpness_steps": 5, "sharpness_restarts": 2, "grad_batches": 4, "alphas": 7,
              "surface_grid": 5},
    "quick": {"n_train": 512, "n_eval": 256, "lanczos_iters": 60, "trace_probes": 30,
              "slq_vectors": 4, "slq_iters": 40, "layer_iters": 20, "layer_probes": 10,
              "dense_max_params": 2000, "sharpness_steps": 20, "sharpness_restarts": 3,
              "alphas": 13, "surface_grid": 11},
}
