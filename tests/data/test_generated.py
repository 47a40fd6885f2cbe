"""Generated example tables: their recipes' promises, seeding, and CSV files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab.data.expressions import parse_expression
from trainlab.data.generated import (
    CROP_YIELD_COEFFS,
    crop_yield_table,
    gap_regression_pair,
    height_weight_table,
    write_builtin_tables,
)
from trainlab.data.splits import kfold_indices
from trainlab.data.tables import read_csv_table
from trainlab.errors import BadInput


def _lstsq(x: np.ndarray, y: np.ndarray):
    design = np.column_stack([np.ones(len(x)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef, y - design @ coef


def test_noise_free_crop_table_is_exactly_linear():
    table = crop_yield_table(n=40, seed=3, noise=0.0)
    assert table.columns == ["fertilizer", "insecticide", "yield"]
    assert table.target_name == "yield" and table.x.shape == (40, 2)
    coef, residual = _lstsq(table.x, table.y)
    assert np.abs(residual).max() < 1e-9
    expected = [CROP_YIELD_COEFFS[k] for k in ("intercept", "fertilizer", "insecticide")]
    np.testing.assert_allclose(coef, expected, atol=1e-9)


def test_crop_table_ranges_and_noise():
    table = crop_yield_table(n=2000, seed=0, noise=2.0)
    fert, insect = table.x[:, 0], table.x[:, 1]
    assert fert.min() >= 2 and fert.max() <= 16
    assert insect.min() >= 1 and insect.max() <= 10
    _, residual = _lstsq(table.x, table.y)
    assert 1.8 < residual.std() < 2.2
    assert np.all(table.y > 0)


def test_tables_are_seeded():
    for make in (crop_yield_table, height_weight_table):
        a, b, c = make(seed=1), make(seed=1), make(seed=2)
        np.testing.assert_array_equal(a.to_array(), b.to_array())
        assert not np.array_equal(a.to_array(), c.to_array())


def test_height_weight_is_balanced_and_realistic():
    table = height_weight_table(n=4000, seed=0)
    assert table.columns == ["height_cm", "weight_kg", "sex"]
    sex = table.y
    assert set(np.unique(sex)) == {0.0, 1.0}
    assert abs(sex.mean() - 0.5) < 0.01
    height, weight = table.x[:, 0], table.x[:, 1]
    male, female = sex == 1, sex == 0
    assert 174 < height[male].mean() < 177 and 160.5 < height[female].mean() < 163.5
    assert 6.5 < height[male].std() < 8.3 and 6.0 < height[female].std() < 7.8
    assert 82 < weight[male].mean() < 88 and 59 < weight[female].mean() < 64
    assert 130 < height.min() and height.max() < 220  # Gaussian tails of 2000 people
    assert 25 < weight.min() and weight.max() < 150


def test_height_weight_is_separable_about_85_to_92_percent():
    # a linear discriminant fitted on one half and scored on the other
    table = height_weight_table(n=4000, seed=0)
    x = (table.x - table.x.mean(0)) / table.x.std(0)
    y = table.y
    fit, score = slice(0, 2000), slice(2000, None)
    m1, m0 = x[fit][y[fit] == 1].mean(0), x[fit][y[fit] == 0].mean(0)
    cov = np.cov(x[fit].T)
    w = np.linalg.solve(cov, m1 - m0)
    threshold = w @ (m1 + m0) / 2
    accuracy = np.mean((x[score] @ w > threshold) == (y[score] == 1))
    assert 0.85 <= accuracy <= 0.93


def test_gap_pair_has_no_training_points_in_the_gap():
    pair = gap_regression_pair(seed=0)
    lo, hi = pair.gap
    train_x, test_x = pair.train.x[:, 0], pair.test.x[:, 0]
    assert len(train_x) == 100 and len(test_x) == 100
    assert not np.any((train_x >= lo) & (train_x <= hi))
    assert np.sum((test_x >= lo) & (test_x <= hi)) >= 15
    assert test_x.min() == -5 and test_x.max() == 5
    assert train_x.min() < -4.5 and train_x.max() > 4.5
    assert np.all(np.diff(train_x) > 0)
    folds = kfold_indices(len(train_x), 10, seed=0)
    assert all(len(t) == 90 and len(v) == 10 for t, v in folds)


def test_gap_pair_targets_follow_the_stated_function():
    pair = gap_regression_pair(seed=4, noise=0.0)
    f = parse_expression(pair.function)
    for table in (pair.train, pair.test):
        x = torch.from_numpy(table.x[:, 0])
        np.testing.assert_allclose(table.y, f(x).numpy(), atol=1e-12)
    noisy = gap_regression_pair(seed=4, noise=0.1)
    residual = noisy.test.y - f(torch.from_numpy(noisy.test.x[:, 0])).numpy()
    assert 0.05 < residual.std() < 0.15


def test_generators_refuse_bad_arguments():
    with pytest.raises(BadInput):
        crop_yield_table(n=1)
    with pytest.raises(BadInput):
        crop_yield_table(noise=-1)
    with pytest.raises(BadInput):
        height_weight_table(n=2.5)  # type: ignore[arg-type]


def test_write_builtin_tables_round_trip(tmp_path):
    paths = write_builtin_tables(tmp_path / "tables", seed=0)
    assert set(paths) == {"crop_yield", "height_weight", "gap_train", "gap_test"}
    crop = read_csv_table(paths["crop_yield"])
    np.testing.assert_array_equal(crop.to_array(), crop_yield_table(seed=0).to_array())
    hw = read_csv_table(paths["height_weight"])
    assert hw.target_name == "sex"
    np.testing.assert_array_equal(hw.to_array(), height_weight_table(seed=0).to_array())
    pair = gap_regression_pair(seed=0)
    np.testing.assert_array_equal(read_csv_table(paths["gap_train"]).to_array(),
                                  pair.train.to_array())
    np.testing.assert_array_equal(read_csv_table(paths["gap_test"]).to_array(),
                                  pair.test.to_array())
    assert paths["height_weight"].read_text().splitlines()[1].endswith((",0", ",1"))


def test_gender_table_has_the_published_header_units_and_class_statistics(tmp_path):
    from trainlab.data import read_csv_table, write_gender_height_weight
    from trainlab.data.generated import GENDER_TABLE_STATS

    path = write_gender_height_weight(tmp_path / "wh.csv", n=10_000, seed=3)
    assert path.read_text().splitlines()[:2][0] == "Gender,Height,Weight"
    table = read_csv_table(path, classes=True)
    assert table.target_name == "Gender" and table.classes == ["Female", "Male"]
    assert len(table) == 10_000 and table.y[:5000].min() == 1 and table.y[5000:].max() == 0
    for k, label in enumerate(table.classes):
        h, w = table.x[table.y == k].T
        mh, sh, mw, sw, r = GENDER_TABLE_STATS[label]
        # 5,000 rows: sampling error of a mean ~ sd/70, of an sd ~ sd/100, of r ~ 0.004
        assert abs(h.mean() - mh) < 4 * sh / 70 and abs(w.mean() - mw) < 4 * sw / 70
        assert abs(h.std() - sh) < 4 * sh / 100 and abs(w.std() - sw) < 4 * sw / 100
        assert abs(np.corrcoef(h, w)[0, 1] - r) < 0.02
