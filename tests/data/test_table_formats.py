"""Tables as people have them: delimiters, quoting, columns by name, word labels, bad input."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlab.data.tables import check_same_columns, parse_delimiter, read_csv_table
from trainlab.errors import BadInput

ROWS = [[1.5, -2.0, 3.0], [4.0, 5.25, -6.0], [7.0, 8.0, 9.5]]


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


@pytest.mark.parametrize("delim", [",", "\t", ";"])
def test_delimiter_is_detected_from_the_header(tmp_path, delim):
    text = delim.join(["a", "b", "y"]) + "\n" + "\n".join(
        delim.join(str(v) for v in r) for r in ROWS) + "\n"
    table = read_csv_table(_write(tmp_path / "t.txt", text))
    np.testing.assert_array_equal(table.to_array(), ROWS)
    assert table.feature_names == ["a", "b"] and table.target_name == "y"


def test_semicolon_file_with_decimal_commas(tmp_path):
    table = read_csv_table(_write(tmp_path / "t.csv", "a;y\n1,5;2\n3;4,25\n"))
    np.testing.assert_array_equal(table.to_array(), [[1.5, 2.0], [3.0, 4.25]])


def test_given_delimiter_wins_over_detection(tmp_path):
    path = _write(tmp_path / "t.csv", "a|b,c|y\n1|2|3\n4|5|6\n")
    table = read_csv_table(path, delimiter="|")
    assert table.columns == ["a", "b,c", "y"]
    assert parse_delimiter("tab") == "\t" and parse_delimiter("\\t") == "\t"
    assert parse_delimiter("") is None and parse_delimiter(";") == ";"
    with pytest.raises(BadInput, match="data.delimiter"):
        parse_delimiter("ab")


def test_bom_crlf_quoted_header_and_cells_spaces_all_at_once(tmp_path):
    raw = b'\xef\xbb\xbf"height (in)" ; "w" ;"sex"\r\n 60.5 ;"120" ; "F"\r\n\r\n70 ; 180 ;M \r\n'
    table = read_csv_table(_write(tmp_path / "t.csv", raw), classes=True)
    assert table.columns == ["height (in)", "w", "sex"] and table.target_name == "sex"
    np.testing.assert_array_equal(table.x, [[60.5, 120], [70, 180]])
    assert table.classes == ["F", "M"]
    np.testing.assert_array_equal(table.y, [0, 1])


def test_columns_by_name_and_default_label_column(tmp_path):
    path = _write(tmp_path / "t.csv", "Gender,Height,Weight,id\nMale,70,180,1\nFemale,64,130,2\n"
                                      "Female,62,120,3\n")
    table = read_csv_table(path, classes=True, features=["Height", "Weight"])
    assert table.target_name == "Gender"  # the only non-numeric column
    assert table.classes == ["Female", "Male"]
    np.testing.assert_array_equal(table.y, [1, 0, 0])
    np.testing.assert_array_equal(table.x, [[70, 180], [64, 130], [62, 120]])
    numeric = read_csv_table(path, target="Weight", features=["id", "Height"])
    np.testing.assert_array_equal(numeric.x, [[1, 70], [2, 64], [3, 62]])
    np.testing.assert_array_equal(numeric.y, [180, 130, 120])


def test_numeric_class_labels_keep_their_order(tmp_path):
    path = _write(tmp_path / "t.csv", "a,b,label\n1,2,10\n3,4,2\n5,6,10\n")
    table = read_csv_table(path, classes=True, n_classes=2)
    assert table.classes == ["2", "10"]
    np.testing.assert_array_equal(table.y, [1, 0, 1])


# ---------------------------------------------------------------- bad input, one line each

BAD = [
    # (name, file content, reader arguments, expected part of the message)
    ("semicolon-one-column-hint", "a;b\n1;2\n", {"delimiter": ","},
     "line 1: the header has 1 column ('a;b'); a table needs at least two"),
    ("text-feature", "Gender,Height,Weight\nMale,70,180\n", {"target": "Weight"},
     "line 2, column 'Gender': not a number: 'Male'; a text column among the features: "
     "choose numeric ones with data.features"),
    ("text-feature-classes", "h,w,sex,town\n1,2,F,Oslo\n3,4,M,Rome\n", {"classes": True,
     "target": "sex"}, "line 2, column 'town': not a number: 'Oslo'; a text column among the "
     "features: choose numeric ones with data.features, or make it the label with data.target"),
    ("three-classes-for-binary", "h,w,sex\n1,2,F\n3,4,M\n5,6,M\n7,8,X\n", {"classes": True,
     "n_classes": 2}, "line 5, column 'sex': 3 classes ('F', 'M', 'X'); this experiment needs "
     "exactly 2"),
    ("one-class", "h,w,sex\n1,2,F\n3,4,F\n", {"classes": True, "n_classes": 2},
     "column 'sex': 1 class ('F'); this experiment needs exactly 2"),
    ("empty-column", "a,b,y\n1,,3\n2,,4\n", {}, "column 'b' is empty (no value in any row): fill "
     "it, or leave it out with data.features"),
    ("unknown-label", "h,w,sex\n1,2,F\n", {"classes": True, "target": "Gender"},
     "line 1: unknown column 'Gender' in data.target (columns: 'h', 'w', 'sex')"),
    ("unknown-feature", "h,w,sex\n1,2,0\n", {"features": ["h", "height"]},
     "unknown column 'height' in data.features (columns: 'h', 'w', 'sex')"),
    ("target-among-features", "h,w,y\n1,2,0\n", {"features": ["h", "y"], "target": "y"},
     "column 'y' is both the target and a feature"),
    ("empty-label", "h,w,sex\n1,2,F\n3,4,\n", {"classes": True},
     "line 3, column 'sex': empty label"),
    ("short-row-in-label", "h,w,sex\n1,2,F\n3,4\n", {"classes": True},
     "line 3: expected 3 fields like the header, found 2"),
    ("text-target", "a,y\n1,2\n3,high\n", {}, "line 3, column 'y': not a number: 'high'; the "
     "target must be numeric"),
    ("nan-after-pandas", "a,y\n1,2\n3,inf\n", {}, "line 3, column 'y': not a finite number: 'inf'"),
    ("underscore-number", "a,y\n1_0,2\n", {}, "line 2, column 'a': not a number: '1_0'"),
    ("utf16", "a,y\n1,2\n".encode("utf-16"), {}, "not UTF-8 text (byte 0xff at offset 0) "
     "(UTF-16? save it as UTF-8)"),
    ("ragged-quoted", 'a,y\n"1",2\n3,4,5\n', {}, "line 3: expected 2 fields like the header, "
     "found 3"),
]


@pytest.mark.parametrize(("content", "kwargs", "expected"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_table_is_one_line_naming_file_line_column_and_fix(tmp_path, content, kwargs,
                                                               expected):
    path = _write(tmp_path / "people.csv", content)
    with pytest.raises(BadInput) as info:
        read_csv_table(path, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_test_file_with_other_columns_is_refused(tmp_path):
    train = read_csv_table(_write(tmp_path / "train.csv", "x,y\n1,2\n3,4\n"))
    test = read_csv_table(_write(tmp_path / "test.csv", "u,v\n1,2\n"))
    same = read_csv_table(_write(tmp_path / "same.csv", "x;y\n5;6\n"))
    check_same_columns(train, same)  # the delimiter may differ, the columns not
    with pytest.raises(BadInput) as info:
        check_same_columns(train, test)
    assert str(info.value) == (f"{tmp_path / 'test.csv'}: line 1: columns 'u', 'v' differ from "
                               f"the training file's ('x', 'y', {tmp_path / 'train.csv'}): give "
                               "the test file the same header")


# ---------------------------------------------------------------- random delimiters / quoting


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


_values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
_labels = st.sampled_from(["Male", "Female", "a b", 'say "hi"', "x,y", "x;y", "x\ty"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(delim=st.sampled_from([",", "\t", ";"]), quoting=st.sampled_from(
           [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
       rows=st.lists(st.tuples(_values, _values, _labels), min_size=1, max_size=12),
       crlf=st.booleans(), bom=st.booleans(), pad=st.booleans())
def test_written_by_csv_module_read_back_exactly(fuzz_dir, delim, quoting, rows, crlf, bom, pad):
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delim, quoting=quoting,
                        lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["first col", "second", "label"])
    for a, b, label in rows:
        cells = [repr(float(a)), repr(float(b)), label]
        if pad and quoting == csv.QUOTE_MINIMAL:
            cells[:2] = [f" {c} " for c in cells[:2]]  # spaces around numbers
        writer.writerow(cells)
    raw = buf.getvalue().encode("utf-8")
    path = fuzz_dir / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + raw if bom else raw)
    table = read_csv_table(path, classes=True, target="label")
    assert table.feature_names == ["first col", "second"]
    np.testing.assert_array_equal(table.x, [[float(a), float(b)] for a, b, _ in rows])
    labels = sorted({label for _, _, label in rows})
    assert table.classes == labels
    assert [table.classes[int(k)] for k in table.y] == [label for _, _, label in rows]
