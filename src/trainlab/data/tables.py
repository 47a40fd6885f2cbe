"""Tables as people have them: one reader for every experiment that takes a file.

A table is a text file with a header row and one row per example. The reader accepts
comma-, tab- or semicolon-separated files (detected from the header, or given), quoted
fields and headers, a UTF-8 byte-order mark, CRLF line ends, blank lines and spaces
around cells. Columns are chosen by name. A classification target may hold words
(``Male``/``Female``): its sorted distinct values become classes 0, 1, ... and the
mapping travels with the table (`Table.classes`).

Parsing is pandas' C parser (a million rows of three numbers in well under a second,
`bench/tables.py`). Every problem with a file is a `BadInput` whose one-line message
names the file and, where it applies, the line and the column, and says what would fix
it; the line is found by re-reading the file with the `csv` module, only on error.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainlab.data.table_columns import (  # validation and label mapping of the columns
    _choose,
    _classes,
    _locate,
    _names,
    _numeric,
    _records,
    _show,
    _Source,
)
from trainlab.errors import BadInput

__all__ = ["DELIMITERS", "Table", "check_same_columns", "parse_delimiter", "read_csv_table",
           "read_data_table"]

#: Delimiters the reader detects from the header, by name.
DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon"}
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}


@dataclass
class Table:
    """A table split into features and a target.

    Attributes:
        columns: every column name, in file order.
        x: features, float64 of shape ``(N, D)``.
        y: target, float64 of shape ``(N,)``; class ids ``0..K-1`` for a class target.
        feature_names: the ``D`` feature column names, in file order.
        target_name: the target column's name.
        classes: for a class target, the label of class ``k`` at index ``k`` (as written
            in the file); None for a numeric target.
        path: the file it was read from ("" when built in memory).
    """

    columns: list[str]
    x: np.ndarray
    y: np.ndarray
    feature_names: list[str] = field(default_factory=list)
    target_name: str = ""
    classes: list[str] | None = None
    path: str = ""

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
        return cls(columns=columns, x=np.ascontiguousarray(data[:, keep]),
                   y=np.ascontiguousarray(data[:, t]),
                   feature_names=[columns[i] for i in keep], target_name=target)

    def to_array(self) -> np.ndarray:
        """Features and target as one ``(N, D+1)`` float64 array, in file order."""
        used = [c for c in self.columns if c in self.feature_names or c == self.target_name]
        return np.insert(self.x, used.index(self.target_name), self.y, axis=1)


def parse_delimiter(value: str) -> str | None:
    """The delimiter a config value names: "" (detect), a character, or tab/comma/semicolon."""
    if value in ("", None):
        return None
    value = _DELIMITER_NAMES.get(value.lower(), value)
    if len(value) != 1 or value in "\"\r\n" or value.isalnum():
        raise BadInput(f"config key 'data.delimiter': expected one character, 'tab' or empty "
                       f"(detect), got {value!r}")
    return value


def _decode(path: Path) -> str:
    name = str(path)
    if not path.exists():
        raise BadInput(f"{name}: no such file")
    if path.is_dir():
        raise BadInput(f"{name}: is a directory, not a table file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{name}: cannot read: {' '.join(str(exc).split())}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        hint = " (UTF-16? save it as UTF-8)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise BadInput(f"{name}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                       f"offset {exc.start}){hint}") from None
    if not text.strip():
        raise BadInput(f"{name}: empty file")
    return text


def _detect(text: str) -> str:
    """The delimiter of the first non-blank line: the most frequent of , tab ; outside quotes."""
    first = next(line for line in text.splitlines() if line.strip())
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(name: str, text: str, delim: str) -> list[str]:
    try:
        first = next(_records(text, delim), None)
    except csv.Error as exc:
        raise BadInput(f"{name}: line 1: malformed header: {' '.join(str(exc).split())}") from None
    if first is None:
        raise BadInput(f"{name}: no header row (an unclosed quote?)")
    line, record = first
    header = [cell.strip() for cell in record]
    seen: dict[str, int] = {}
    for i, col in enumerate(header, start=1):
        if not col:
            raise BadInput(f"{name}: line {line}: empty column name in the header (column {i})")
        if col in seen:
            raise BadInput(f"{name}: line {line}: duplicate column name {_show(col)} "
                           f"(columns {seen[col]} and {i})")
        seen[col] = i
    if len(header) < 2:
        raise BadInput(
            f"{name}: line {line}: the header has 1 column ({_show(header[0])}); a table needs "
            "at least two (features and a target). Columns are detected separated by commas, "
            "tabs or semicolons; for another delimiter set data.delimiter")
    return header


def _check_widths(src: _Source) -> None:
    """BadInput (from `_locate`) if a row has more or fewer fields than the header.

    pandas pads short rows and, with ``index_col=False``, drops a trailing extra field,
    so widths are checked here: by counting delimiters per line with NumPy when nothing
    is quoted (milliseconds for a million rows), else by the csv module.
    """
    if '"' in src.text:
        _locate(src.name, src.text, src.delim, src.header, None)
        return
    raw = np.frombuffer(src.text.encode("utf-8"), dtype=np.uint8)
    ends = np.append(np.flatnonzero(raw == 10), len(raw))
    starts = np.concatenate([[0], ends[:-1] + 1])
    delims = np.flatnonzero(raw == ord(src.delim))
    counts = np.searchsorted(delims, ends) - np.searchsorted(delims, starts)
    for i in np.flatnonzero(counts != len(src.header) - 1):
        if counts[i] or raw[starts[i]:ends[i]].tobytes().strip():  # not a blank line
            _locate(src.name, src.text, src.delim, src.header, None)
            return


def _frame(src: _Source, decimal: str):
    import warnings

    import pandas as pd  # lazily: `import trainlab.data` stays light

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(src.text), sep=src.delim, engine="c", header=0,
                                index_col=False, skipinitialspace=True, skip_blank_lines=True,
                                na_filter=False, keep_default_na=False, decimal=decimal,
                                quotechar='"')
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError, OverflowError) as exc:
        _locate(src.name, src.text, src.delim, src.header, None)
        raise BadInput(f"{src.name}: malformed table: {' '.join(str(exc).split())}") from None
    if frame.shape[1] != len(src.header):
        _locate(src.name, src.text, src.delim, src.header, None)
        raise BadInput(f"{src.name}: line 1: the header has {len(src.header)} columns but the "
                       f"rows have {frame.shape[1]}")
    frame.columns = src.header
    return frame


def read_csv_table(path: str | os.PathLike, target: str | None = None, *,
                   features: Sequence[str] | None = None, delimiter: str | None = None,
                   classes: bool = False, n_classes: int | None = None) -> Table:
    """Read a table with a header row (comma, tab or semicolon separated).

    Args:
        path: the file (UTF-8, optionally with a byte-order mark; LF or CRLF).
        target: the target column; default the last column, or for ``classes`` the only
            non-numeric column when there is exactly one.
        features: the feature columns, in this order; default every other column.
        delimiter: one character; None detects comma, tab or semicolon from the header.
            With a semicolon or tab, numbers with a decimal comma (``1,5``) are read too.
        classes: the target holds class labels (numbers or words), mapped to ``0..K-1`` in
            sorted order; `Table.classes` keeps the labels.
        n_classes: with ``classes``, the number of classes the caller needs.

    Returns:
        A `Table`: ``x`` float64 ``(N, D)``, ``y`` float64 ``(N,)``.

    Raises:
        BadInput: a missing file, non-UTF-8 bytes, an empty file or one without data rows,
            an empty, duplicate or unknown column name, ragged rows, an empty column, empty
            / non-numeric / NaN / infinite cells among the features (or a numeric target),
            a wrong number of classes. The message names the file, the line and column
            where it applies, and what would fix it.
    """
    path = Path(path)
    text = _decode(path)
    delim = delimiter or _detect(text)
    src = _Source(str(path), text, delim, _header(str(path), text, delim))
    _check_widths(src)
    frame = _frame(src, ".")
    if len(frame) == 0:
        raise BadInput(f"{src.name}: header only, no data rows")
    target, features = _choose(src, frame, target, features, classes)
    if delim != "," and any(frame[c].to_numpy().dtype.kind not in "iuf" for c in features):
        frame = _decimal_comma(src, frame)
    hint = ("; a text column among the features: choose numeric ones with data.features"
            + (", or make it the label with data.target" if classes else ""))
    x = np.column_stack([_numeric(src, frame, c, hint) for c in features])
    if classes:
        y, labels = _classes(src, frame, target, n_classes)
    else:
        y, labels = _numeric(src, frame, target, "; the target must be numeric"), None
    return Table(columns=list(src.header), x=np.ascontiguousarray(x), y=y,
                 feature_names=features, target_name=target, classes=labels, path=src.name)


def _decimal_comma(src: _Source, frame):
    """The frame re-read with decimal commas when that makes more columns numeric."""
    other = _frame(src, ",")
    numeric = sum(frame[c].to_numpy().dtype.kind in "iuf" for c in src.header)
    return other if sum(other[c].to_numpy().dtype.kind in "iuf" for c in src.header) > numeric \
        else frame


def read_data_table(path: str | os.PathLike, data, **kwargs) -> Table:
    """`read_csv_table` with an experiment's ``data.target``, ``data.features`` and
    ``data.delimiter`` (any of them may be missing or empty: the defaults apply)."""
    return read_csv_table(path, getattr(data, "target", "") or None,
                          features=list(getattr(data, "features", None) or []) or None,
                          delimiter=parse_delimiter(getattr(data, "delimiter", "")), **kwargs)


def check_same_columns(train: Table, test: Table) -> None:
    """BadInput unless the test table has the training table's columns (same order)."""
    if test.columns != train.columns:
        raise BadInput(f"{test.path}: line 1: columns {_names(test.columns)} differ from the "
                       f"training file's ({_names(train.columns)}, {train.path}): give the "
                       "test file the same header")
