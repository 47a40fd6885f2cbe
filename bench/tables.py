"""The table reader against numpy.loadtxt on the same numeric CSV file.

Baseline: ``numpy.loadtxt(path, delimiter=",", skiprows=1)`` (NumPy's C reader: numbers
only, no header names, no checks beyond parsing). trainlab: `read_csv_table` (delimiter
detection, header, per-column checks, the ragged-row scan). Both give the same float64
values, checked. Prints rows per second of the reader.

Usage: python bench/tables.py [--quick] [--json] [--rows N] [--repeats R]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed_result  # noqa: E402

from trainlab.data import read_csv_table  # noqa: E402


def write_file(path: Path, rows: int, seed: int = 0) -> None:
    """A crop-yield-like table: two features with one decimal, a target with three."""
    rng = np.random.default_rng(seed)
    f, i = np.round(rng.uniform(2, 16, rows), 1), np.round(rng.uniform(1, 10, rows), 1)
    y = np.round(20 + 3 * f + 2 * i + rng.standard_normal(rows), 3)
    with path.open("w") as fh:
        fh.write("fertilizer,insecticide,yield\n")
        np.savetxt(fh, np.column_stack([f, i, y]), fmt="%.1f,%.1f,%.3f")


def main() -> int:
    p = parser(__doc__.splitlines()[0], repeats=3)
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    rows = 20_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        write_file(path, rows)
        read_csv_table(path)  # warm-up: the first call imports pandas
        base_s, base = timed_result(lambda: np.loadtxt(path, delimiter=",", skiprows=1),
                                    args.repeats, args.clock)
        ours_s, table = timed_result(lambda: read_csv_table(path), args.repeats, args.clock)
        size = path.stat().st_size
    same = bool(np.array_equal(table.to_array(), base))
    case = {"size": {"N": rows, "bytes": size}, "baseline_s": base_s, "trainlab_s": ours_s,
            "rows_per_s": round(rows / ours_s), "same_values": same}
    emit("tables", [case], {"rows": rows, "repeats": args.repeats, "clock": args.clock},
         args.json)
    if not args.json:
        print(f"  read_csv_table: {rows / ours_s:,.0f} rows/s "
              f"({size / ours_s / 2**20:.1f} MiB/s); values equal numpy.loadtxt: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
