"""Diagnostics of trained networks, one quantity per module, each checked against an oracle.

They work on ordinary `torch.nn.Module`s and on flat parameter vectors ``theta`` of shape
``(P,)``, or ``(E, P)`` for an ensemble, in the one layout that `params` documents (see
`flatten_params` and `make_loss_fn`); `critical` drives E networks to critical points;
`recorders` holds the quantities recorded during training (callbacks of `train.fit`).
They import nothing of trainlab but `errors` (ground floor, layer 5).
"""

from .activations import activation_maps, weight_histograms
from .critical import CriticalResult, find_critical, mlp_mse_grad_hessian, mlp_mse_objective
from .eigen import TopEigen, hessian_top
from .grad_norm import grad_norm, grad_norms_per_layer, loss_grad, loss_grad_norm
from .groups import ParamGroup, param_groups, restrict
from .hessian import (
    SpectralDensity,
    dense_hessian,
    func_grad_hessian,
    hessian_eigenvalues,
    hvp,
    hvp_operator,
    lanczos_top_k,
    spectral_density,
)
from .interpolation import interpolate, interpolation_curve
from .intervals import Estimate, t_interval
from .lanczos import Tridiagonal, lanczos
from .minimal_ratio import minimal_ratio
from .params import count_params, flatten_params, load_flat, make_loss_fn, unflatten_like
from .pca import PCAResult, trajectory_pca, weight_pca
from .recorders import GradNorms, ParamSnapshots, StopBelow, WeightHistograms, layer_labels
from .sensitivity import jacobian_norms, loss_input_grad_norms
from .sharpness import sharpness
from .surface import (
    Plane,
    filter_normalize,
    functional_loss,
    loss_surface,
    pca_plane,
    project,
    random_directions,
)
from .trace import TraceEstimate, hutchinson_trace

__all__ = [
    "CriticalResult",
    "Estimate",
    "GradNorms",
    "PCAResult",
    "Plane",
    "ParamGroup",
    "ParamSnapshots",
    "StopBelow",
    "SpectralDensity",
    "TopEigen",
    "TraceEstimate",
    "Tridiagonal",
    "WeightHistograms",
    "activation_maps",
    "count_params",
    "dense_hessian",
    "filter_normalize",
    "find_critical",
    "flatten_params",
    "func_grad_hessian",
    "functional_loss",
    "grad_norm",
    "grad_norms_per_layer",
    "hessian_eigenvalues",
    "hessian_top",
    "hutchinson_trace",
    "hvp",
    "hvp_operator",
    "interpolate",
    "interpolation_curve",
    "jacobian_norms",
    "lanczos",
    "lanczos_top_k",
    "layer_labels",
    "load_flat",
    "loss_grad",
    "loss_grad_norm",
    "loss_input_grad_norms",
    "loss_surface",
    "make_loss_fn",
    "minimal_ratio",
    "mlp_mse_grad_hessian",
    "mlp_mse_objective",
    "param_groups",
    "pca_plane",
    "project",
    "random_directions",
    "restrict",
    "sharpness",
    "spectral_density",
    "t_interval",
    "trajectory_pca",
    "unflatten_like",
    "weight_histograms",
    "weight_pca",
]
