"""Reading IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (TT: the data type code, NN: the
number of dimensions), NN big-endian unsigned 32-bit dimension sizes, then the data in
C order, big-endian. The file may be gzip-compressed (recognised by its first two bytes
``1f 8b``, whatever its name).

The reader checks everything against the header before it trusts it: a header that
declares more data than the file holds is reported as truncated without allocating the
declared size, and bytes after the declared data are reported as trailing bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path

import numpy as np

from trainlab.errors import BadInput

__all__ = ["IDX_DTYPES", "read_idx", "find_idx_files", "DEFAULT_IDX_SUBDIRS"]

#: IDX data type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_MAX_NDIM = 32  # numpy's guaranteed limit
_MAX_BYTES = 2**62  # larger shapes overflow numpy's size arithmetic

#: Folders under a data root searched for IDX files, in order ("." is the root itself).
DEFAULT_IDX_SUBDIRS: tuple[str, ...] = (".", "raw", "MNIST/raw", "FashionMNIST/raw")


def _read_exactly(stream, n: int) -> bytearray:
    """Read up to ``n`` bytes from ``stream`` in chunks (never allocates ``n`` up front)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _count_rest(stream, cap: int = 1 << 26) -> tuple[int, bool]:
    """Count the bytes left in ``stream`` up to ``cap``; return (count, hit_cap)."""
    total = 0
    while total < cap:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return total, False
        total += len(chunk)
    return total, True


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a numpy array.

    Args:
        path: the file; gzip compression is detected from the content, not the name.

    Returns:
        An array of shape ``(d1, ..., dn)`` as declared by the header, in native byte
        order, with the dtype of the header's type code (uint8 for MNIST images and
        labels: images ``(N, 28, 28)``, labels ``(N,)``).

    Raises:
        BadInput: for a missing or unreadable file, corrupt gzip data, a wrong magic
            number, an unsupported type code, a truncated header or data, or bytes
            after the declared data. The message starts with the file's path.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise BadInput(f"{name}: no such file")
    if path.is_dir():
        raise BadInput(f"{name}: is a directory, not an IDX file")
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _parse(stream, name, compressed=True)
            return _parse(raw, name, compressed=False)
    except BadInput:
        raise
    except EOFError:
        raise BadInput(f"{name}: truncated gzip data: the compressed stream ends early") from None
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadInput(f"{name}: corrupt gzip data: {_one_line(exc)}") from None
    except OSError as exc:
        raise BadInput(f"{name}: cannot read: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _parse(stream: io.IOBase, name: str, *, compressed: bool) -> np.ndarray:
    magic = _read_exactly(stream, 4)
    if len(magic) == 0:
        raise BadInput(f"{name}: empty file")
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        shown = " ".join(f"{b:02x}" for b in magic)
        raise BadInput(
            f"{name}: not an IDX file: magic bytes {shown} (expected 00 00 <type> <ndim>)"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise BadInput(f"{name}: unsupported IDX data type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise BadInput(f"{name}: IDX header declares 0 dimensions")
    if ndim > _MAX_NDIM:
        raise BadInput(f"{name}: IDX header declares {ndim} dimensions (at most {_MAX_NDIM})")
    dims_raw = _read_exactly(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise BadInput(
            f"{name}: truncated header: expected {4 * ndim} bytes of dimension sizes, "
            f"found {len(dims_raw)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    expected = dtype.itemsize
    bound = dtype.itemsize  # like expected, but a zero dimension does not hide the others
    for d in dims:
        expected *= d
        bound *= max(d, 1)
    if bound > _MAX_BYTES:
        raise BadInput(
            f"{name}: IDX header declares an impossibly large array "
            f"(dims {'x'.join(map(str, dims))})"
        )
    data = _read_exactly(stream, expected)
    if len(data) < expected:
        raise BadInput(
            f"{name}: truncated: expected {expected} bytes of data, found {len(data)}"
        )
    extra, capped = _count_rest(stream)
    if extra:
        count = f"more than {extra}" if capped else str(extra)
        kind = "decompressed " if compressed else ""
        raise BadInput(
            f"{name}: trailing bytes: {count} more {kind}byte(s) after the {expected} bytes "
            f"of data declared by the header (dims {'x'.join(map(str, dims))})"
        )
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _idx_name(prefix: str, kind: str) -> str:
    return f"{prefix}-images-idx3-ubyte" if kind == "images" else f"{prefix}-labels-idx1-ubyte"


def find_idx_files(
    root: str | os.PathLike,
    prefixes: tuple[str, ...] = ("train", "t10k"),
    subdirs: tuple[str, ...] = DEFAULT_IDX_SUBDIRS,
) -> dict[str, Path]:
    """Locate the IDX files of an MNIST-like data set under ``root``.

    For every prefix P, the files ``P-images-idx3-ubyte`` and ``P-labels-idx1-ubyte``
    (each possibly with ``.gz``; the uncompressed one wins when both exist) are looked for
    in ``root/<subdir>`` for each of ``subdirs`` in order (by default the root itself,
    ``raw/``, and torchvision's ``MNIST/raw/`` and ``FashionMNIST/raw/``). The first folder
    holding all of them is used.

    Returns:
        ``{"train-images": Path, "train-labels": Path, "t10k-images": Path, ...}``.

    Raises:
        BadInput: the root is not a folder, or no folder holds all the files; the message
            lists the names and folders that were searched.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: no such directory (data.root must be a folder of IDX files)")
    kinds = ("images", "labels")
    wanted = [(f"{p}-{kind}", _idx_name(p, kind)) for p in prefixes for kind in kinds]
    for sub in subdirs:
        folder = root / sub if sub != "." else root
        if not folder.is_dir():
            continue
        found: dict[str, Path] = {}
        missing: list[str] = []
        for key, base in wanted:
            for candidate in (folder / base, folder / f"{base}.gz"):
                if candidate.is_file():
                    found[key] = candidate
                    break
            else:
                missing.append(base)
        if not missing:
            return found
    looked = ", ".join(f"{base}[.gz]" for _, base in wanted)
    where = ", ".join(f"{sub}/" if sub != "." else "./" for sub in subdirs)
    raise BadInput(f"{root}: IDX files not found: looked for {looked} in {where}")
