"""Writing tables: delimited text files that `read_csv_table` reads back exactly."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from trainlab.data.tables import Table
from trainlab.errors import BadInput

__all__ = ["write_csv_table", "write_table"]


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it back at once
    os.umask(mask)
    return mask


# the mode an ordinary open() gives: 0666 less the umask
_FILE_MODE = 0o666 & ~_umask()


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


def write_csv_table(path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Sequence],
                    delimiter: str = ",") -> Path:
    """Write a header and rows as a delimited text file, atomically (temp file + rename).

    Floats are written with ``repr`` (whole numbers without ``.0``) so that
    `read_csv_table` gives back exactly the same values; strings as they are.
    ``rows`` may be a ``(N, C)`` array or any iterable of length-C sequences.

    Returns:
        The path written.
    """
    path = Path(path)
    columns = [str(c) for c in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp's 0600 would make the table private
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n", delimiter=delimiter)
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
    """Write a `Table`'s features and target as CSV, in their original column order."""
    used = [c for c in table.columns if c in table.feature_names or c == table.target_name]
    return write_csv_table(path, used, table.to_array())
