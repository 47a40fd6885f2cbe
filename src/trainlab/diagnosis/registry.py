"""The diagnostics of `trainlab diagnose`, one small registered function each.

A diagnostic is ``fn(probe, cfg, ctx) -> dict``: it measures, adds its tables and
figures to the report through ``ctx`` and returns its summary keys. Registering one
is one decorator, ``@diagnostic("name", title=..., needs=...)``, where ``needs(probe,
cfg)`` returns why it cannot run on this input (or None). `select` picks those of
``--only`` (or every default one that applies), in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainlab.errors import BadInput

Needs = Callable[..., str | None]


@dataclass(frozen=True)
class Diagnostic:
    """One registered diagnostic."""

    name: str
    title: str
    fn: Callable[..., dict]
    needs: Needs | None = None
    default: bool = True


DIAGNOSTICS: dict[str, Diagnostic] = {}


def diagnostic(name: str, *, title: str, needs: Needs | None = None,
               default: bool = True) -> Callable:
    """Register ``fn(probe, cfg, ctx) -> dict`` under ``name`` (see the module docstring)."""

    def decorate(fn: Callable[..., dict]) -> Callable[..., dict]:
        if name in DIAGNOSTICS and DIAGNOSTICS[name].fn is not fn:
            raise ValueError(f"diagnostic {name!r} registered twice")
        DIAGNOSTICS[name] = Diagnostic(name, title, fn, needs, default)
        return fn

    return decorate


def load_all() -> None:
    """Import the modules that register the built-in diagnostics."""
    from . import curvature, inputs, landscape, surface  # noqa: F401


def select(only: list[str], probe, cfg) -> tuple[list[Diagnostic], list[tuple[str, str]]]:
    """The diagnostics to run and ``(name, reason)`` of the default ones skipped.

    Unknown names in ``only``, or named ones that cannot run, are `BadInput`.
    """
    load_all()
    unknown = [n for n in only if n not in DIAGNOSTICS]
    if unknown:
        raise BadInput(f"--only: unknown diagnostic {unknown[0]!r} "
                       f"(known: {', '.join(DIAGNOSTICS)})")
    chosen, skipped = [], []
    for d in DIAGNOSTICS.values():
        if only and d.name not in only:
            continue
        if not only and not d.default:
            continue
        reason = d.needs(probe, cfg) if d.needs else None
        if reason is None:
            chosen.append(d)
        elif only:
            raise BadInput(f"--only {d.name}: {reason}")
        else:
            skipped.append((d.name, reason))
    return chosen, skipped
