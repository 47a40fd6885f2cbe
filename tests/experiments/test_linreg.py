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
