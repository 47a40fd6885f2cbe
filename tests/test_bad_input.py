"""One table of bad inputs: each gets exit 2, one line on stderr naming the problem, and
leaves no run folder behind (docs/DESIGN.md §1)."""

import gzip
import struct
from pathlib import Path

import numpy as np

from trainlab.cli import main


def _idx(path: Path, array: np.ndarray, cut: int = 0, magic: bytes | None = None) -> None:
    header = (magic or bytes([0, 0, 0x08, array.ndim])) + struct.pack(f">{array.ndim}I",
                                                                      *array.shape)
    data = header + array.astype(">u1").tobytes()
    path.write_bytes(gzip.compress(data[:len(data) - cut]))


def _mnist_root(tmp: Path, cut: int = 0, magic: bytes | None = None) -> Path:
    root = tmp / "idx"
    root.mkdir(parents=True)
    imgs = np.zeros((4, 28, 28), np.uint8)
    labels = np.arange(4, dtype=np.uint8)
    for prefix in ("train", "t10k"):
        _idx(root / f"{prefix}-images-idx3-ubyte.gz", imgs, cut, magic)
        _idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


CSV = {
    "ragged": ("a,b,y\n1,2,3\n4,5\n", "line 3"),
    "non-numeric": ("a,b,y\n1,2,3\n4,x,6\n", "'x'"),
    "empty": ("", "empty"),
    "header-only": ("a,b,y\n", "no data rows"),
    "nan": ("a,b,y\n1,2,3\nnan,5,6\n", "NaN"),
    "inf": ("a,b,y\n1,2,3\n4,inf,6\n", "inf"),
}


def _cases(tmp: Path):
    for name, (text, fragment) in CSV.items():
        path = tmp / f"{name}.csv"
        path.write_text(text)
        yield f"csv-{name}", ["run", "linreg", "--set", f"data.path={path}"], fragment
    yield "missing-file", ["run", "linreg", "--set", f"data.path={tmp}/nope.csv"], "nope.csv"
    yield "directory", ["run", "linreg", "--set", f"data.path={tmp}"], "directory"
    (tmp / "good.csv").write_text("a,b,y\n1,2,3\n4,5,7\n2,2,2\n")
    yield "missing-target", ["run", "linreg", "--set", f"data.path={tmp}/good.csv",
                             "--set", "data.target=zzz"], "zzz"
    # degenerate tables: least squares would have no unique answer (linreg)
    for name, text, fragment in (
            ("one-row", "a,b,y\n1,2,3\n", "needs at least D+1 = 3 rows"),
            ("two-rows", "a,b,y\n1,2,3\n4,6,7\n", "needs at least D+1 = 3 rows"),
            ("constant-column", "a,b,y\n1,2,3\n4,2,7\n2,2,2\n5,2,1\n",
             "column 'b' is constant"),
            ("dependent-columns", "a,b,y\n1,2,3\n4,8,7\n2,4,2\n5,10,1\n",
             "linearly dependent")):
        (tmp / f"{name}.csv").write_text(text)
        yield name, ["run", "linreg", "--set", f"data.path={tmp}/{name}.csv"], fragment
    (tmp / "gap.csv").write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(40)))
    (tmp / "uv.csv").write_text("u,v\n1,2\n2,3\n")
    yield "test-columns-differ", ["run", "curvefit", "--set", f"data.path={tmp}/gap.csv",
                                  "--set", f"data.test_path={tmp}/uv.csv"], "differ from"
    yield "polyfit-one-point", ["run", "polyfit", "--set", "n_points=1"], "at least 5 points"
    yield "idx-truncated", ["run", "mnist", "--set",
                            f"data.root={_mnist_root(tmp / 't', cut=100)}"], "truncated"
    yield "idx-magic", ["run", "mnist", "--set",
                        f"data.root={_mnist_root(tmp / 'm', magic=b'PK' + bytes(2))}"], "magic"
    yield "unknown-experiment", ["run", "nosuchexp"], "unknown experiment"
    yield "unknown-key", ["run", "polyfit", "--set", "nosuchkey=1"], "unknown config key"
    yield "wrong-type", ["run", "polyfit", "--set", "epochs=ten"], "expected an integer"
    yield "negative-epochs", ["run", "polyfit", "--set", "epochs=-1"], "must be > 0"
    yield "zero-lr", ["run", "polyfit", "--set", "lrs=[0.1, 0]"], "must be > 0"
    yield "zero-batch", ["run", "polyfit", "--set", "batch_size=0"], "must be > 0"
    toml = tmp / "bad.toml"
    toml.write_text("epochs = ")
    yield "invalid-toml", ["run", "polyfit", "--config", str(toml)], "invalid TOML"
    yield "unsafe-expression", ["run", "critical-points", "--set",
                                "target=__import__('os').system('touch pwned')"], "not allowed"
    yield "syntax-expression", ["run", "critical-points", "--set", "target=sin(x"], "expression"
    yield "huge-exponent", ["run", "critical-points", "--set", "target=x**x**x**99"], "exponent"


def test_every_bad_input_exits_2_with_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    seen = []
    for name, argv, fragment in _cases(tmp_path):
        code = main([*argv, "--preset", "smoke", "--runs-dir", str(runs)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, (name, err)
        assert len(err) == 1 and fragment.lower() in err[0].lower(), (name, err)
        assert "Traceback" not in err[0]
        leftovers = list(runs.glob("*/*")) if runs.exists() else []
        assert leftovers == [], (name, leftovers)
        seen.append((name, err[0]))
    assert not (tmp_path / "pwned").exists()
    assert len(seen) >= 20
    Path(tmp_path / "messages.txt").write_text("\n".join(f"{n}: {m}" for n, m in seen))
