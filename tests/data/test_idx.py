"""IDX reader: real Fashion-MNIST files, round trips, every malformed case, fuzzing."""

from __future__ import annotations

import gzip
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlab.data.idx import find_idx_files, read_idx
from trainlab.errors import BadInput

# ---------------------------------------------------------------- the real files


def test_real_fashion_mnist_train_files(fashion_dir):
    images = read_idx(fashion_dir / "train-images-idx3-ubyte.gz")
    labels = read_idx(fashion_dir / "train-labels-idx1-ubyte.gz")
    assert images.shape == (60000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (60000,)
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels).tolist() == [6000] * 10
    assert 0 < images.mean() < 255  # real pictures, not a constant


def test_real_fashion_mnist_test_files(fashion_dir):
    images = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10


def test_truncated_copy_of_real_file_names_the_file(fashion_dir, tmp_path):
    source = (fashion_dir / "train-images-idx3-ubyte.gz").read_bytes()
    cut = tmp_path / "train-images-idx3-ubyte.gz"
    cut.write_bytes(source[:100_000])
    with pytest.raises(BadInput, match=r"train-images-idx3-ubyte\.gz: truncated"):
        read_idx(cut)


def test_truncated_data_reports_expected_and_found(fashion_dir, tmp_path):
    # the real labels, decompressed, cut after 1000 data bytes, then compressed again
    data = gzip.decompress((fashion_dir / "train-labels-idx1-ubyte.gz").read_bytes())
    cut = tmp_path / "train-labels-idx1-ubyte.gz"
    cut.write_bytes(gzip.compress(data[: 8 + 1000]))
    with pytest.raises(BadInput) as info:
        read_idx(cut)
    message = str(info.value)
    assert message == f"{cut}: truncated: expected 60000 bytes of data, found 1000"


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
)
def test_round_trip(write_idx, tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((5, 3, 4)) * 100).astype(dtype)
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), array, gz)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0] = 0  # writable


def test_gzip_is_detected_by_content_not_name(write_idx, tmp_path):
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    path = write_idx(tmp_path / "no-suffix", array, gz=True)
    np.testing.assert_array_equal(read_idx(path), array)


def test_empty_dimension_gives_empty_array(write_idx, tmp_path):
    path = write_idx(tmp_path / "empty.idx", np.zeros((0, 28, 28), dtype=np.uint8))
    assert read_idx(path).shape == (0, 28, 28)


# ---------------------------------------------------------------- malformed files


def _header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


H8_2, H8_4, H8_6 = _header(0x08, (2,)), _header(0x08, (4,)), _header(0x08, (2, 3))
MALFORMED = [
    ("empty", b"", "empty file"),
    ("short-magic", b"\x00\x00", "not an IDX file"),
    ("wrong-magic", b"\x12\x34\x08\x01" + bytes(8), "not an IDX file: magic bytes 12 34 08 01"),
    ("png", b"\x89PNG\r\n\x1a\n", "not an IDX file"),
    ("bad-type", _header(0x0A, (2,)) + b"\x00\x00", "unsupported IDX data type code 0x0A"),
    ("zero-dims", b"\x00\x00\x08\x00", "0 dimensions"),
    ("too-many-dims", b"\x00\x00\x08\xff", "255 dimensions"),
    ("short-header", b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated header"),
    ("short-data", H8_6 + b"\x01" * 5, "truncated: expected 6 bytes of data, found 5"),
    ("short-int32", _header(0x0C, (3,)) + bytes(11), "expected 12 bytes of data, found 11"),
    ("trailing", H8_2 + b"\x01\x02\x03", "trailing bytes: 1 more byte(s) after the 2"),
    ("huge-dims", _header(0x0E, (2**32 - 1,) * 4) + bytes(64), "impossibly large array"),
    ("huge-zero-dims", _header(0x08, (0, 2**32 - 1, 2**32 - 1)), "impossibly large array"),
    ("big-dims", _header(0x08, (2**30, 2**30)) + bytes(64), "expected 1152921504606846976"),
    ("bad-gzip", b"\x1f\x8b" + bytes(30), "gzip"),
    ("truncated-gzip", gzip.compress(_header(0x08, (999,)) + bytes(999))[:30], "truncated gzip"),
    ("gzip-trailing", gzip.compress(H8_2 + b"\x01\x02\x03"), "1 more decompressed byte(s)"),
    ("gzip-short", gzip.compress(H8_4 + b"\x01"), "expected 4 bytes of data, found 1"),
]


@pytest.mark.parametrize(("content", "expected"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_bad_input_naming_file(tmp_path, content, expected):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(BadInput) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_huge_declared_size_is_refused_quickly(tmp_path):
    path = tmp_path / "huge"
    # 2 EiB declared, 10 bytes present: nothing of the declared size may be allocated
    path.write_bytes(_header(0x08, (2**31, 2**30)) + b"\x00" * 10)
    start = time.perf_counter()
    with pytest.raises(BadInput, match="truncated: expected 2305843009213693952 bytes"):
        read_idx(path)
    assert time.perf_counter() - start < 2.0


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(BadInput, match="nope-idx1-ubyte: no such file"):
        read_idx(tmp_path / "nope-idx1-ubyte")
    with pytest.raises(BadInput, match="is a directory"):
        read_idx(tmp_path)


# ---------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def _check_read(folder: Path, data: bytes) -> None:
    path = folder / "fuzz.idx"
    path.write_bytes(data)
    try:
        array = read_idx(path)
    except BadInput as exc:
        assert str(exc).startswith(str(path))
        assert "\n" not in str(exc)
        return
    assert isinstance(array, np.ndarray)
    assert array.ndim >= 1
    assert array.dtype.isnative


_headers = st.builds(
    lambda code, dims: bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims),
    st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0x0A, 0xFF]),
    st.lists(st.integers(0, 6) | st.integers(0, 2**32 - 1), min_size=0, max_size=4),
)
_payloads = st.binary(max_size=300)
_fuzz_inputs = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda h, p: h + p, _headers, _payloads),
    st.builds(lambda h, p: gzip.compress(h + p), _headers, _payloads),
    st.builds(lambda b: gzip.compress(b)[: len(b) // 2 + 3], st.binary(max_size=200)),
    st.builds(lambda b: b"\x1f\x8b" + b, st.binary(max_size=200)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_fuzz_inputs)
def test_fuzz_read_idx_raises_only_bad_input(fuzz_dir, data):
    _check_read(fuzz_dir, data)


# ---------------------------------------------------------------- finding the files

LAYOUTS = [".", "raw", "MNIST/raw", "FashionMNIST/raw"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_find_idx_files_layouts(make_idx_set, tmp_path, layout):
    folder = tmp_path / layout if layout != "." else tmp_path
    make_idx_set(folder, gz=layout != "raw")
    found = find_idx_files(tmp_path)
    assert set(found) == {"train-images", "train-labels", "t10k-images", "t10k-labels"}
    for path in found.values():
        assert path.parent == folder


def test_find_idx_files_prefers_uncompressed(make_idx_set, tmp_path):
    make_idx_set(tmp_path, gz=True)
    make_idx_set(tmp_path, gz=False)
    assert all(p.suffix != ".gz" for p in find_idx_files(tmp_path).values())


def test_find_idx_files_needs_all_files_in_one_folder(make_idx_set, tmp_path):
    make_idx_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(BadInput) as info:
        find_idx_files(tmp_path)
    message = str(info.value)
    for name in ("train-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]", "MNIST/raw/"):
        assert name in message
    assert "\n" not in message


def test_find_idx_files_root_not_a_folder(tmp_path):
    with pytest.raises(BadInput, match="no such directory"):
        find_idx_files(tmp_path / "missing")
