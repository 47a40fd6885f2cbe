"""CSV tables: reading, writing, every malformed case, fuzzing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlab.data.tables import Table, read_csv_table
from trainlab.data.writers import write_csv_table, write_table
from trainlab.errors import BadInput


def test_read_default_target_is_last_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,target\n1,2,3\n4.5,-6e2,7\n")
    table = read_csv_table(path)
    assert table.columns == ["a", "b", "target"]
    assert table.feature_names == ["a", "b"] and table.target_name == "target"
    assert table.x.dtype == np.float64 and table.x.shape == (2, 2)
    np.testing.assert_array_equal(table.x, [[1, 2], [4.5, -600]])
    np.testing.assert_array_equal(table.y, [3, 7])
    assert len(table) == 2


def test_read_named_target_in_the_middle(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a, y ,c\n1,2,3\n4,5,6\n")
    table = read_csv_table(path, target="y")
    assert table.feature_names == ["a", "c"]
    np.testing.assert_array_equal(table.x, [[1, 3], [4, 6]])
    np.testing.assert_array_equal(table.y, [2, 5])
    np.testing.assert_array_equal(table.to_array(), [[1, 2, 3], [4, 5, 6]])


def test_tolerated_variants(tmp_path):
    # byte-order mark, CRLF line ends, blank lines, spaces around cells, quoted numbers
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbfx,y\r\n\r\n 1 , "2"\r\n\r\n3,4\r\n\r\n')
    table = read_csv_table(path)
    assert table.columns == ["x", "y"]
    np.testing.assert_array_equal(table.x[:, 0], [1, 3])


def test_write_then_read_gives_the_same_values(tmp_path):
    rng = np.random.default_rng(0)
    small = rng.standard_normal(20) * 1e-7
    big = np.pi * 1e10 * rng.standard_normal(20)
    data = np.column_stack([small, rng.integers(0, 2, 20), big])
    path = write_csv_table(tmp_path / "sub" / "w.csv", ["small", "label", "big"], data)
    table = read_csv_table(path, target="label")
    np.testing.assert_array_equal(table.to_array(), data)
    assert path.read_text().splitlines()[1].split(",")[1] in ("0", "1")  # labels as ints
    assert not list(path.parent.glob(".*.tmp"))  # no temp file left behind


def test_write_table_round_trip(tmp_path):
    table = Table.from_array(["p", "q", "r"], np.arange(9.0).reshape(3, 3), target="q")
    back = read_csv_table(write_table(tmp_path / "t.csv", table), target="q")
    np.testing.assert_array_equal(back.x, table.x)
    np.testing.assert_array_equal(back.y, table.y)
    assert back.columns == table.columns


def test_write_csv_table_rejects_ragged_rows(tmp_path):
    with pytest.raises(BadInput, match="row 1 has 1 values for 2 columns"):
        write_csv_table(tmp_path / "w.csv", ["a", "b"], [[1, 2], [3]])
    assert not (tmp_path / "w.csv").exists()
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- malformed tables

MALFORMED = [
    ("empty", b"", None, "empty file"),
    ("whitespace-only", b"  \n\n \r\n", None, "empty file"),
    ("header-only", b"a,b\n", None, "header only, no data rows"),
    ("one-column", b"a\n1\n", None, "needs at least two"),
    ("ragged-short", b"a,b,c\n1,2,3\n4,5\n", None, "line 3: expected 3 fields like the header"),
    ("ragged-long", b"a,b\n1,2,3\n", None, "line 2: expected 2 fields like the header, found 3"),
    ("trailing-comma", b"a,b\n1,2,\n", None, "found 3"),
    ("non-numeric", b"a,b\n1,2\n3,abc\n", None, "line 3, column 'b': not a number: 'abc'"),
    ("empty-cell", b"a,b\n1,\n2,3\n", None, "line 2, column 'b': empty cell"),
    ("empty-column", b"a,b,c\n1,,3\n2,,4\n", None, "column 'b' is empty (no value in any row)"),
    ("nan", b"a,b\nnan,1\n", None, "line 2, column 'a': not a finite number: 'nan'"),
    ("inf", b"a,b\n1,-inf\n", None, "column 'b': not a finite number: '-inf'"),
    ("overflow", b"a,b\n1,1e999\n", None, "not a finite number: '1e999'"),
    ("unknown-target", b"a,b\n1,2\n", "c", "unknown column 'c' in data.target (columns: 'a', 'b')"),
    ("duplicate", b"a,b,a\n1,2,3\n", None, "duplicate column name 'a' (columns 1 and 3)"),
    ("empty-name", b"a,,c\n1,2,3\n", None, "empty column name in the header (column 2)"),
    ("latin-1", b"a,b\n1,2\n3,\xe94\n", None, "line 3: not UTF-8 text (byte 0xe9"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00", None, "not UTF-8 text"),
    ("newline-in-cell", b'a,b\n1,"2\n3"\n', None, "not a number: '2\\n3'"),
    ("huge-field", b"a,b\n1," + b"9" * 200_000 + b"\n", None, "malformed table"),
]


@pytest.mark.parametrize(
    ("content", "target", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_table_is_bad_input_naming_file(tmp_path, content, target, expected):
    path = tmp_path / "crops.csv"
    path.write_bytes(content)
    with pytest.raises(BadInput) as info:
        read_csv_table(path, target=target)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(BadInput, match=r"nothere\.csv: no such file"):
        read_csv_table(tmp_path / "nothere.csv")
    with pytest.raises(BadInput, match="is a directory, not a table file"):
        read_csv_table(tmp_path)


# ---------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


_csv_chars = list("ab,\n\r\" 0123456789.-+eEnaif_\t\x00é")
_csv_text = st.text(alphabet=st.sampled_from(_csv_chars), max_size=120)
_good_cells = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from([" 1 ", '"2"', "-0", "1_0", "+.5", "1E3"]),
)
_bad_cells = st.sampled_from(["", "abc", "1e999", "nan", "-inf", "0x1", '"1\n2"', "1 2"])
_cells = st.one_of(_good_cells, _good_cells, _good_cells, _bad_cells)


def _table_text(width: int):
    header = st.sampled_from([",".join("abc"[:width]), ",".join("aab"[:width]), "x"])
    row = st.one_of(
        st.lists(_cells, min_size=width, max_size=width),
        st.lists(_good_cells, min_size=width, max_size=width),
        st.lists(_cells, min_size=1, max_size=4),
    ).map(",".join)
    return st.builds(
        lambda h, rows, end: (h + "\n" + "\n".join(rows) + end).encode("utf-8"),
        header,
        st.lists(row, max_size=6),
        st.sampled_from(["", "\n", "\r\n", "\n\n"]),
    )


_fuzz_inputs = st.one_of(
    st.binary(max_size=300),
    _csv_text.map(lambda t: t.encode("utf-8")),
    st.builds(lambda t: ("x,y\n" + t).encode("utf-8"), _csv_text),
    st.integers(2, 3).flatmap(_table_text),
    st.integers(2, 3).flatmap(_table_text),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_fuzz_inputs, target=st.sampled_from([None, None, "a", "b", "zz"]))
def test_fuzz_read_csv_raises_only_bad_input(fuzz_dir, data, target):
    path = fuzz_dir / "fuzz.csv"
    path.write_bytes(data)
    try:
        table = read_csv_table(path, target=target)
    except BadInput as exc:
        assert str(exc).startswith(str(path))
        assert "\n" not in str(exc)
        return
    n, d = table.x.shape
    assert n >= 1 and d == len(table.columns) - 1 >= 1
    assert table.y.shape == (n,)
    assert np.isfinite(table.x).all() and np.isfinite(table.y).all()
    assert len(set(table.columns)) == len(table.columns)
