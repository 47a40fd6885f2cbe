"""How values read in reports, the CLI and the API: `fmt`, headline numbers, flat configs.

Neutral: no HTML or markdown here, so the command line can format a number without
importing a page renderer.
"""

from __future__ import annotations

import json
from typing import Any


def fmt(value: Any) -> str:
    """Short human form of a number or value (4 significant digits, lists cut at 8)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, (list, tuple)):
        if len(value) > 8:
            return "[" + ", ".join(fmt(v) for v in value[:8]) + f", … ({len(value)} items)]"
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


# Units of headline numbers, by how the key's last part ends: the summary conventions
# are accuracies as fractions (0-1) and classification errors in percent (mnist,
# optimizers: 100 x (1 - accuracy)), which side by side read as a contradiction
# (test_accuracy 0.946, test_error 5.4) unless labelled.
UNIT_SUFFIXES = (("accuracy", "fraction"), ("accuracies", "fractions"), ("test_error", "%"),
                 ("train_error", "%"), ("seconds", "s"))


def unit(key: str) -> str:
    """The unit of a summary key by the naming conventions (`""` when none applies)."""
    last = key.rsplit(".", 1)[-1]
    for suffix, name in UNIT_SUFFIXES:
        if last == suffix or last.endswith("_" + suffix):
            return name
    return ""


# Words of summary keys, for the generic tooltip of a headline key (`explain`); an
# experiment may declare better texts (`headline_help` in its decorator).
_MEASURES = {"accuracy": "fraction of examples classified correctly (0-1)",
             "accuracies": "fractions of examples classified correctly (0-1)",
             "error": "percent of examples misclassified, 100 x (1 - accuracy)",
             "loss": "value of the loss", "seconds": "wall-clock time in seconds",
             "epochs": "number of passes over the training data",
             "params": "number of trainable parameters",
             "ratio": "ratio", "variance": "variance"}
_QUALIFIERS = {"best": "best over the settings compared", "final": "at the end of training",
               "test": "on the held-out test set", "train": "on the training set",
               "max": "largest", "mean": "mean"}


def explain(key: str) -> str:
    """A generic one-line explanation of summary key `key` from its words and units,
    e.g. `best_test_accuracy` -> "fraction of examples classified correctly (0-1); best
    over the settings compared; on the held-out test set"."""
    words = key.replace(".", "_").split("_")
    measure = next((_MEASURES[w] for w in reversed(words) if w in _MEASURES), "")
    if not measure:  # n_saddle -> "number of saddle"; best_lr -> "lr; best over ..."
        rest = [w for w in words if w not in _QUALIFIERS]
        measure = ("number of " + " ".join(rest[1:]) if rest[:1] == ["n"] and rest[1:]
                   else " ".join(rest or words))
    notes = [_QUALIFIERS[w] for w in words if w in _QUALIFIERS]
    text = "; ".join([measure, *notes])
    return f"{key}: {text}"


def headline_numbers(summary: dict | None, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Scalar numbers of a summary: the named keys (dotted) or every top-level scalar."""
    if not summary:
        return {}
    out: dict[str, Any] = {}
    for key in keys:
        value: Any = summary
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            out[key] = value
    if not keys:
        out = {k: v for k, v in summary.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


def flat_items(nested: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """`{"a": {"b": 1}}` -> `[("a.b", 1)]`, in the dict's order (for config tables)."""
    rows = []
    for k, v in nested.items():
        if isinstance(v, dict):
            rows += flat_items(v, f"{prefix}{k}.")
        else:
            rows.append((prefix + k, v))
    return rows
