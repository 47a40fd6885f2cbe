"""The columns of a table: numbers, class labels and where a bad cell is (`data.tables`).

`data.tables` reads a file into a frame; this module turns the frame's columns into
numbers (``float64``) or class ids with their labels, chooses the target and feature
columns, and reports every problem as a `BadInput` naming the file, the line (found by
re-reading the file with the `csv` module, only on error) and the column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from trainlab.errors import BadInput

# A decimal number as pandas reads it (Python's float() also takes "1_0" and non-ASCII
# digits, which pandas does not; the two paths must agree on what a number is).
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NONFINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)


def _show(value: str, limit: int = 40) -> str:
    """A short, one-line, quoted rendering of a cell or name for messages."""
    if len(value) > limit:
        value = value[:limit] + "..."
    return repr(value)


def _names(columns: Iterable[str]) -> str:
    return ", ".join(_show(c) for c in columns)


def _records(text: str, delim: str):
    """(line, record) of every non-blank record; csv.Error becomes BadInput by the caller."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, skipinitialspace=True)
    for record in reader:
        if record and not (len(record) == 1 and not record[0].strip()):
            yield reader.line_num, record


def _locate(name: str, text: str, delim: str, header: list[str], row: int | None):
    """(line, record) of data row ``row``; with None, the first row of the wrong width.

    Raises the ragged-row BadInput itself when it meets such a row first.
    """
    try:
        records = _records(text, delim)
        next(records)
        for i, (line, record) in enumerate(records):
            if len(record) != len(header):
                raise BadInput(f"{name}: line {line}: expected {len(header)} fields like the "
                               f"header, found {len(record)}")
            if i == row:
                return line, record
    except csv.Error as exc:
        raise BadInput(f"{name}: malformed table: {' '.join(str(exc).split())}") from None
    return None, None


def _number(where: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise BadInput(f"{where}: empty cell")
    if _NONFINITE.fullmatch(text):
        raise BadInput(f"{where}: not a finite number: {_show(text)}")
    if not _NUMBER.fullmatch(text):
        raise BadInput(f"{where}: not a number: {_show(text)}")
    value = float(text)
    if not math.isfinite(value):
        raise BadInput(f"{where}: not a finite number: {_show(text)}")
    return value


@dataclass
class _Source:
    """One file being read: its name, text, delimiter and header."""

    name: str
    text: str
    delim: str
    header: list[str]

    def fail_at(self, row: int, column: str, why: str):
        """BadInput for data row ``row``, column ``column``, at its line in the file."""
        line, record = _locate(self.name, self.text, self.delim, self.header, row)
        where = f"line {line}, " if line else ""
        if "{cell}" in why:  # pandas already turned the cell into a number: show the text
            cell = record[self.header.index(column)].strip() if record else "?"
            why = why.replace("{cell}", _show(cell))
        raise BadInput(f"{self.name}: {where}column {_show(column)}: {why}")


def _finite(src: _Source, values: np.ndarray, column: str) -> np.ndarray:
    """A column pandas already read as numbers (N,), as float64; a NaN or inf cell is
    reported at its line."""
    values = values.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        src.fail_at(int(bad[0]), column, "not a finite number: {cell}")
    return values


def _numeric(src: _Source, frame, column: str, hint: str) -> np.ndarray:
    """A column as float64; every bad cell is reported at its line."""
    values = frame[column].to_numpy()
    if values.dtype.kind in "iuf":
        return _finite(src, values, column)
    cells = [str(v) for v in values]
    if not any(c.strip() for c in cells):
        raise BadInput(f"{src.name}: column {_show(column)} is empty (no value in any row): "
                       "fill it, or leave it out with data.features")
    out = np.empty(len(cells))
    for i, cell in enumerate(cells):
        try:
            out[i] = _number("", cell)
        except BadInput as exc:
            _locate(src.name, src.text, src.delim, src.header, i)  # a short row says so first
            why = str(exc).removeprefix(": ")
            if why.startswith("not a number"):
                why += hint
            src.fail_at(i, column, why)
    return out


def _classes(src: _Source, frame, column: str, n_classes: int | None):
    """Class ids (N,) float64 and the label of each class, sorted (numbers numerically)."""
    values = frame[column].to_numpy()
    if values.dtype.kind in "iuf":
        nums = _finite(src, values, column)
        uniq, codes = np.unique(nums, return_inverse=True)
        labels = [str(int(u)) if float(u).is_integer() else repr(float(u)) for u in uniq]
    else:
        cells = np.asarray([str(v).strip() for v in values], dtype=object)
        empty = np.flatnonzero(cells == "")
        if empty.size:
            _locate(src.name, src.text, src.delim, src.header, int(empty[0]))
            src.fail_at(int(empty[0]), column, "empty label")
        uniq, codes = np.unique(cells.astype(str), return_inverse=True)
        labels = [str(u) for u in uniq]
    if n_classes is not None and len(labels) != n_classes:
        first = None
        if len(labels) > n_classes:  # the row where the first class too many appears
            first = int(np.sort(np.unique(codes, return_index=True)[1])[n_classes])
        more = ", ..." if len(labels) > 8 else ""
        plural = "es" if len(labels) != 1 else ""
        seen = f"{len(labels)} class{plural} ({_names(labels[:8])}{more})"
        why = (f"{seen}; this experiment needs exactly {n_classes}: keep {n_classes} classes in "
               "the file, or choose another label column with data.target")
        if first is not None:
            src.fail_at(first, column, why)
        raise BadInput(f"{src.name}: column {_show(column)}: {why}")
    return codes.astype(np.float64), labels


def _choose(src: _Source, frame, target, features, classes: bool):
    """The target and feature names, defaults filled in, unknown names refused."""
    header = src.header
    for name in [target, *(features or [])]:
        if name is not None and name not in header:
            key = "data.target" if name == target else "data.features"
            raise BadInput(f"{src.name}: line 1: unknown column {_show(name)} in {key} "
                           f"(columns: {_names(header)})")
    if target is None:
        text_cols = [c for c in header if frame[c].to_numpy().dtype.kind not in "iuf"
                     and c not in (features or [])]
        target = text_cols[0] if classes and len(text_cols) == 1 else header[-1]
    if features is None:
        features = [c for c in header if c != target]
    if target in features:
        raise BadInput(f"{src.name}: column {_show(target)} is both the target and a feature: "
                       "leave it out of data.features")
    if not features:
        raise BadInput(f"{src.name}: no feature columns (data.features is empty)")
    return target, list(features)
