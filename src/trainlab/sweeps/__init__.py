"""Sweeps with Optuna: the search space, storages and heartbeats, the worker loop, the report.

`trainlab.sweep` is the command line; these modules do the work and import Optuna, so
they are loaded only when a sweep runs (`space` alone does not need Optuna).
"""
