"""Sweeps with Optuna: settings and command, search space, storages and heartbeats,
the worker loop, the report.

`settings` turns typed options into checked `Settings` and runs the study (used by
`trainlab.sweep(...)` and by `command`, the `trainlab sweep` command line); the other
modules do the work and import Optuna, so they are loaded only when a sweep runs
(`space`, `settings` and `command` alone do not need it).
"""
