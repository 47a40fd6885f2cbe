"""trainlab: the classic experiments of a first deep-learning course, one command each.

    >>> import trainlab
    >>> r = trainlab.run("polyfit", preset="smoke")
    >>> r.summary["runs"][0]["max_abs_coeff_error"]

Building blocks for your own experiments live in `trainlab.models` (ensembles of
MLPs and CNNs), `trainlab.train.fit` (the one training loop), `trainlab.data`
(datasets, safe expressions) and `trainlab.diagnostics` (Hessians, sharpness, …).
"""

__version__ = "0.1.0"

from trainlab.api import (  # noqa: E402
    Run,
    diagnose,
    list_experiments,
    load,
    resume,
    run,
    sweep,
)

__all__ = ["Run", "__version__", "diagnose", "list_experiments", "load", "resume", "run",
           "sweep"]
