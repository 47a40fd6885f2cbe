"""Numeric CSV tables: a header row, then one row of numbers per example.

Every problem with a file is a `BadInput` whose one-line message names the file and,
where it applies, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainlab.errors import BadInput

__all__ = ["Table", "read_csv_table", "write_csv_table", "write_table"]


@dataclass
class Table:
    """A numeric table split into features and a target.

    Attributes:
        columns: every column name, in file order.
        x: features, float64 of shape ``(N, D)``, ``D = len(columns) - 1``.
        y: target, float64 of shape ``(N,)``.
        feature_names: the ``D`` feature column names, in file order.
        target_name: the target column's name.
    """

    columns: list[str]
    x: np.ndarray
    y: np.ndarray
    feature_names: list[str] = field(default_factory=list)
    target_name: str = ""

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @classmethod
    def from_array(cls, columns: Sequence[str], data: np.ndarray, target: str | None = None):
        """Build a table from a ``(N, C)`` array whose columns are named by ``columns``.

        ``target`` defaults to the last column.
        """
        columns = [str(c) for c in columns]
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != len(columns):
            raise BadInput(f"table data of shape {data.shape} does not fit {len(columns)} columns")
        target = columns[-1] if target is None else target
        if target not in columns:
            cols = ", ".join(_show(c) for c in columns)
            raise BadInput(f"unknown target column {_show(target)} (columns: {cols})")
        t = columns.index(target)
        keep = [i for i in range(len(columns)) if i != t]
        return cls(
            columns=columns,
            x=np.ascontiguousarray(data[:, keep]),
            y=np.ascontiguousarray(data[:, t]),
            feature_names=[columns[i] for i in keep],
            target_name=target,
        )

    def to_array(self) -> np.ndarray:
        """The table as one ``(N, C)`` float64 array, columns in file order."""
        t = self.columns.index(self.target_name)
        return np.insert(self.x, t, self.y, axis=1)


def _show(value: str, limit: int = 40) -> str:
    """A short, one-line, quoted rendering of a cell or name for messages."""
    if len(value) > limit:
        value = value[:limit] + "..."
    return repr(value)


def read_csv_table(path: str | os.PathLike, target: str | None = None) -> Table:
    """Read a numeric CSV file with a header row.

    Args:
        path: the CSV file (UTF-8, optionally with a byte-order mark). Blank lines are
            skipped; every other row must have as many fields as the header.
        target: the target column's name; the last column when None.

    Returns:
        A `Table`: ``x`` float64 ``(N, C-1)`` and ``y`` float64 ``(N,)``.

    Raises:
        BadInput: missing file, a folder, unreadable or non-UTF-8 bytes, an empty file, a
            header without data rows, empty or duplicate column names, fewer than two
            columns, ragged rows, empty / non-numeric / NaN / infinite cells, or an unknown
            target column. The message names the file, and the line and column if any.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise BadInput(f"{name}: no such file")
    if path.is_dir():
        raise BadInput(f"{name}: is a directory, not a CSV file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{name}: cannot read: {' '.join(str(exc).split())}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise BadInput(
            f"{name}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start})"
        ) from None
    if not text.strip():
        raise BadInput(f"{name}: empty file")
    return _parse_rows(name, text, target)


def _parse_rows(name: str, text: str, target: str | None) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header: list[str] | None = None
    rows: list[list[float]] = []
    try:
        for record in reader:
            line = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if header is None:
                header = _check_header(name, line, record)
                continue
            if len(record) != len(header):
                raise BadInput(
                    f"{name}: line {line}: expected {len(header)} fields like the header, "
                    f"found {len(record)}"
                )
            rows.append([_number(name, line, header[i], cell) for i, cell in enumerate(record)])
    except csv.Error as exc:
        raise BadInput(
            f"{name}: line {reader.line_num}: malformed CSV: {' '.join(str(exc).split())}"
        ) from None
    if header is None:
        raise BadInput(f"{name}: empty file")
    if not rows:
        raise BadInput(f"{name}: header only, no data rows")
    if target is not None and target not in header:
        cols = ", ".join(_show(c) for c in header)
        raise BadInput(f"{name}: unknown target column {_show(target)} (columns: {cols})")
    data = np.asarray(rows, dtype=np.float64)
    return Table.from_array(header, data, target)


def _check_header(name: str, line: int, record: list[str]) -> list[str]:
    header = [cell.strip() for cell in record]
    seen: dict[str, int] = {}
    for i, col in enumerate(header, start=1):
        if not col:
            raise BadInput(f"{name}: line {line}: empty column name in the header (column {i})")
        if col in seen:
            raise BadInput(
                f"{name}: line {line}: duplicate column name {_show(col)} "
                f"(columns {seen[col]} and {i})"
            )
        seen[col] = i
    if len(header) < 2:
        raise BadInput(
            f"{name}: line {line}: the header has {len(header)} column; a table needs at "
            "least two (features and a target)"
        )
    return header


def _number(name: str, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    where = f"{name}: line {line}, column {_show(column)}"
    if not text:
        raise BadInput(f"{where}: empty cell")
    try:
        value = float(text)
    except (ValueError, OverflowError):
        raise BadInput(f"{where}: not a number: {_show(text)}") from None
    if not math.isfinite(value):
        raise BadInput(f"{where}: not a finite number: {_show(text)}")
    return value


def _format(value) -> str:
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))  # labels and whole numbers read better as 1 than 1.0
        return repr(value)
    return str(value)


def write_csv_table(
    path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Sequence]
) -> Path:
    """Write a header and rows as CSV, atomically (temp file + rename).

    Floats are written with ``repr`` (whole numbers without ``.0``) so that
    `read_csv_table` gives back exactly the same values.
    ``rows`` may be a ``(N, C)`` array or any iterable of length-C sequences.

    Returns:
        The path written.
    """
    path = Path(path)
    columns = [str(c) for c in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            for i, row in enumerate(rows):
                row = list(row)
                if len(row) != len(columns):
                    raise BadInput(
                        f"{path}: row {i} has {len(row)} values for {len(columns)} columns"
                    )
                writer.writerow([_format(v) for v in row])
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_table(path: str | os.PathLike, table: Table) -> Path:
    """Write a `Table` as CSV with its columns in their original order."""
    return write_csv_table(path, table.columns, table.to_array())
