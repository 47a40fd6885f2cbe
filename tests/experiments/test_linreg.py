"""linreg: SGD reaches least squares on noise-free data; lstsq equals NumPy's; divergence."""

import numpy as np
import pytest

from trainlab.data import read_csv_table
from trainlab.errors import BadInput
from trainlab.runner import execute


def _params(part: dict) -> np.ndarray:
    return np.append(part["weights"], part["bias"])


def test_sgd_within_one_percent_of_least_squares_on_noise_free_data(tmp_path):
    out = execute("linreg", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                  sets={"noise": 0, "epochs": 60, "lrs": [0.05]})
    assert out.state == "completed"
    s = out.summary
    sgd, lstsq = _params(s["sgd"]), _params(s["lstsq"])
    # Noise-free crop-yield table: yield = 20 + 3 fertilizer + 2 insecticide exactly.
    np.testing.assert_allclose(lstsq, [3.0, 2.0, 20.0], atol=1e-9)
    assert np.all(np.abs(sgd - lstsq) <= 0.01 * np.abs(lstsq))
    assert s["max_abs_param_diff"] == pytest.approx(np.max(np.abs(sgd - lstsq)))
    rows = np.array([[6, 4], [10, 5], [14, 8]], dtype=float)
    np.testing.assert_allclose(s["lstsq"]["predictions"], 20 + rows @ [3.0, 2.0], atol=1e-9)
    np.testing.assert_allclose(s["sgd"]["predictions"], s["lstsq"]["predictions"], rtol=0.01)


def test_lstsq_equals_numpy_and_sweep_reports_divergence(tmp_path):
    out = execute("linreg", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True)
    assert out.state == "completed"
    s = out.summary
    table = read_csv_table(s["data_path"])  # the CSV the run wrote and read back
    design = np.column_stack([table.x, np.ones(len(table))])
    expected = np.linalg.lstsq(design, table.y, rcond=None)[0]
    np.testing.assert_allclose(_params(s["lstsq"]), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_params(s["normal_equation"]), expected, rtol=1e-8)
    sweep = {r["lr"]: r for r in s["lr_sweep"]}
    assert sweep[1.5]["diverged"] and not sweep[0.05]["diverged"]
    assert sweep[0.05]["final_loss"] < sweep[0.005]["final_loss"]


def test_test_rows_must_match_the_features_before_any_folder(tmp_path):
    csv = tmp_path / "three.csv"
    csv.write_text("a,b,c,y\n1,2,3,4\n2,3,4,5\n3,5,1,2\n")
    runs = tmp_path / "runs"
    with pytest.raises(BadInput, match="test_rows"):
        execute("linreg", preset="smoke", runs_dir=runs, progress=False, quiet=True,
                sets={"data.path": str(csv)})
    assert not runs.exists() or not any(runs.rglob("config.json"))


def test_semicolon_table_with_named_columns_gives_the_least_squares_of_those_columns(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, (30, 2))
    y = 1.5 + 2.0 * x[:, 0] - 0.5 * x[:, 1] + 0.01 * rng.standard_normal(30)
    rows = np.column_stack([x[:, 1], rng.normal(size=30), y, x[:, 0]]).tolist()
    lines = ["id;b;noise;target;a"] + [f"{i};" + ";".join(map(str, r)) for i, r in enumerate(rows)]
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(lines) + "\n")
    out = execute("linreg", preset="smoke", runs_dir=tmp_path / "runs", progress=False,
                  quiet=True, sets={"data.path": str(path), "data.target": "target",
                                    "data.features": ["a", "b"]})
    assert out.state == "completed"
    expected = np.linalg.lstsq(np.column_stack([x, np.ones(30)]), y, rcond=None)[0]
    np.testing.assert_allclose(_params(out.summary["lstsq"]), expected, rtol=1e-9)
    assert out.summary["feature_names"] == ["a", "b"]


def test_a_large_table_draws_a_sample_and_keeps_the_figure_small(tmp_path):
    from trainlab.report.plots import SCATTER_LIMIT, scatter_sample

    n = 3 * SCATTER_LIMIT
    shown = scatter_sample(n, seed=0)
    assert len(shown) == SCATTER_LIMIT == len(set(shown.tolist())) and shown.max() < n
    np.testing.assert_array_equal(scatter_sample(10), np.arange(10))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, 2))
    path = tmp_path / "big.csv"
    np.savetxt(path, np.column_stack([x, x @ [1.0, 2.0]]), delimiter=",", header="a,b,y",
               comments="")
    out = execute("linreg", preset="smoke", runs_dir=tmp_path / "runs", progress=False,
                  quiet=True, sets={"data.path": str(path), "batch_size": n, "epochs": 1,
                                    "lrs": [0.1]})
    assert out.state == "completed"
    svg = out.path / "figures" / "predicted-vs-observed.svg"
    # All 15,000 points as SVG markers would be about 4 MB; the sample is rasterized.
    assert svg.stat().st_size < 1_000_000
    assert f"{SCATTER_LIMIT:,} of the {n:,} rows" in (out.path / "report.md").read_text()
