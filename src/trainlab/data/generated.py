"""Built-in example tables, generated from documented seeded recipes.

Each generator uses its own ``numpy.random.default_rng(seed)``, so a (recipe, arguments,
seed) triple always gives the same table. The ``write_*`` functions save them as CSV
files (via `trainlab.data.tables.write_csv_table`) so experiments can read them through
``data.path`` like any user file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.expressions import parse_expression
from trainlab.data.tables import Table
from trainlab.data.writers import write_csv_table, write_table
from trainlab.errors import BadInput

__all__ = [
    "CROP_YIELD_COEFFS",
    "GAP_FUNCTION",
    "GapPair",
    "crop_yield_table",
    "gap_regression_pair",
    "height_weight_table",
    "GAP_CASES",
    "gap_case",
    "write_builtin_tables",
    "write_gender_height_weight",
    "write_crop_yield_csv",
    "write_gap_pair_csv",
    "write_height_weight_csv",
]

#: yield = intercept + fertilizer_coeff * fertilizer + insecticide_coeff * insecticide.
CROP_YIELD_COEFFS: dict[str, float] = {"intercept": 20.0, "fertilizer": 3.0, "insecticide": 2.0}

#: The gap pair's target, as an expression for `trainlab.data.expressions`.
GAP_FUNCTION = "sin(1.5*x)+0.3*x"
GAP_RANGE = (-5.0, 5.0)
GAP_BOUNDS = (1.0, 3.0)


def _check_n(n: int, minimum: int = 2) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < minimum:
        raise BadInput(f"table size must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _check_noise(noise: float) -> float:
    noise = float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise BadInput(f"noise must be a finite number >= 0, got {noise}")
    return noise


def crop_yield_table(n: int = 50, seed: int = 0, noise: float = 1.0) -> Table:
    """A crop-yield table for linear regression: ``fertilizer, insecticide, yield``.

    Recipe (``rng = numpy.random.default_rng(seed)``):
    ``fertilizer = round(rng.uniform(2, 16, n), 1)``,
    ``insecticide = round(rng.uniform(1, 10, n), 1)``,
    ``yield = 20 + 3.0 * fertilizer + 2.0 * insecticide + noise * rng.standard_normal(n)``
    (`CROP_YIELD_COEFFS`). With ``noise=0`` the table is exactly linear.

    Returns:
        A `Table` with x ``(n, 2)`` and target ``yield``.
    """
    n, noise = _check_n(n), _check_noise(noise)
    rng = np.random.default_rng(seed)
    fertilizer = np.round(rng.uniform(2.0, 16.0, n), 1)
    insecticide = np.round(rng.uniform(1.0, 10.0, n), 1)
    eps = rng.standard_normal(n)
    c = CROP_YIELD_COEFFS
    y = c["intercept"] + c["fertilizer"] * fertilizer + c["insecticide"] * insecticide
    if noise > 0:
        y = y + noise * eps
    data = np.column_stack([fertilizer, insecticide, y])
    return Table.from_array(["fertilizer", "insecticide", "yield"], data, "yield")


def height_weight_table(n: int = 1000, seed: int = 0) -> Table:
    """Adults' height and weight for binary classification: ``height_cm, weight_kg, sex``.

    Recipe (``rng = numpy.random.default_rng(seed)``): ``sex = rng.permutation(arange(n) %
    2)`` (0 female, 1 male; balanced to within one), then per row
    - male: ``height ~ N(175.5, 7.4)``, ``weight = 84.8 + 1.06 * (height - 175.5) + N(0, 5)``;
    - female: ``height ~ N(162.0, 6.9)``, ``weight = 61.6 + 1.07 * (height - 162.0) + N(0, 5)``;
    both rounded to 0.1. The means and spreads are those of adult survey data (weight sd
    about 9 kg within a sex, height-weight correlation about 0.85); a linear classifier
    on the two features reaches about 90% accuracy.

    Returns:
        A `Table` with x ``(n, 2)`` and target ``sex``.
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    sex = rng.permutation(np.arange(n) % 2)
    male = sex == 1
    z_height = rng.standard_normal(n)
    z_weight = rng.standard_normal(n)
    height = np.where(male, 175.5 + 7.4 * z_height, 162.0 + 6.9 * z_height)
    weight = np.where(male, 84.8 + 1.06 * (height - 175.5), 61.6 + 1.07 * (height - 162.0))
    weight = weight + 5.0 * z_weight
    data = np.column_stack([np.round(height, 1), np.round(weight, 1), sex.astype(np.float64)])
    return Table.from_array(["height_cm", "weight_kg", "sex"], data, "sex")


#: Per-class (height mean, height sd, weight mean, weight sd, height-weight correlation)
#: of the classic 10,000-row "Gender, Height, Weight" course table (inches, pounds).
GENDER_TABLE_STATS: dict[str, tuple[float, float, float, float, float]] = {
    "Male": (69.03, 2.86, 187.0, 19.8, 0.86),
    "Female": (63.71, 2.70, 135.9, 19.0, 0.85),
}


def write_gender_height_weight(path: str | os.PathLike, n: int = 10_000, seed: int = 0,
                               delimiter: str = ",") -> Path:
    """Write a realistic copy of the classic ``Gender,Height,Weight`` table.

    Same header, units (inches, pounds), word labels and row order as the published
    file (all ``Male`` rows, then all ``Female``; ``n // 2`` of each, the rest male).
    Recipe (``rng = numpy.random.default_rng(seed)``), per class with the
    `GENDER_TABLE_STATS` (μ_h, σ_h, μ_w, σ_w, r): ``height = μ_h + σ_h z1``,
    ``weight = μ_w + σ_w (r z1 + sqrt(1 - r²) z2)`` with z1, z2 standard normal: the
    class-conditional distributions are correlated Gaussians. Numbers are written with
    full precision, as in the original. A linear classifier reaches about 91 % accuracy.
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    rows = []
    for label, count in (("Male", n - n // 2), ("Female", n // 2)):
        mh, sh, mw, sw, r = GENDER_TABLE_STATS[label]
        z1, z2 = rng.standard_normal(count), rng.standard_normal(count)
        height = mh + sh * z1
        weight = mw + sw * (r * z1 + np.sqrt(1 - r * r) * z2)
        rows += [(label, float(h), float(w)) for h, w in zip(height, weight, strict=True)]
    return write_csv_table(path, ["Gender", "Height", "Weight"], rows, delimiter=delimiter)


@dataclass
class GapPair:
    """Train and test tables of a 1-D regression whose training range has a gap.

    Attributes:
        train: columns ``x, y``; no x inside ``gap``.
        test: columns ``x, y``; x evenly spaced over the whole range, gap included.
        gap: ``(lo, hi)``, the x-interval without training points.
        function: the noise-free target as an expression of x.
    """

    train: Table
    test: Table
    gap: tuple[float, float]
    function: str = GAP_FUNCTION


def _gap_target(x: np.ndarray) -> np.ndarray:
    return np.sin(1.5 * x) + 0.3 * x  # keep in step with GAP_FUNCTION


def gap_regression_pair(
    seed: int = 0, n_train: int = 100, n_test: int = 100, noise: float = 0.1
) -> GapPair:
    """A 1-D regression set with a gap in the training range.

    Recipe (``rng = numpy.random.default_rng(seed)``): target ``f(x) = sin(1.5 x) + 0.3 x``
    (`GAP_FUNCTION`) on x in [-5, 5]; the gap is [1, 3]. Train x: ``n_train`` points drawn
    uniformly from [-5, 1) U (3, 5] (as ``u = rng.uniform(0, 8)``, x = -5 + u below 6,
    else 3 + (u - 6)), sorted. Test x: ``linspace(-5, 5, n_test)``. Both get
    ``y = f(x) + noise * rng.standard_normal``. With the defaults, 10-fold cross-validation
    on the train table trains on 90 and validates on 10 points.
    """
    n_train, n_test, noise = _check_n(n_train), _check_n(n_test), _check_noise(noise)
    rng = np.random.default_rng(seed)
    (lo, hi), (glo, ghi) = GAP_RANGE, GAP_BOUNDS
    left, right = glo - lo, hi - ghi
    u = rng.uniform(0.0, left + right, n_train)
    x_train = np.sort(np.where(u < left, lo + u, ghi + (u - left)))
    y_train = _gap_target(x_train) + noise * rng.standard_normal(n_train)
    x_test = np.linspace(lo, hi, n_test)
    y_test = _gap_target(x_test) + noise * rng.standard_normal(n_test)
    return GapPair(
        train=Table.from_array(["x", "y"], np.column_stack([x_train, y_train]), "y"),
        test=Table.from_array(["x", "y"], np.column_stack([x_test, y_test]), "y"),
        gap=(glo, ghi),
    )


#: Realistic 1-D regression sets like a course's curve-fitting exercise: 100 training
#: points with two gaps in x ∈ [-5, 5] and 101 evenly spaced test points; name ->
#: (target expression, gaps, noise std, (x scale, y scale)). Used to test and measure
#: curvefit's model selection on data it was not tuned on.
GAP_CASES: dict[str, tuple[str, tuple[tuple[float, float], ...], float, tuple[float, float]]] = {
    "sine-trend": ("sin(1.5*x)+0.3*x", ((-3.0, -2.0), (1.0, 2.5)), 0.1, (1.0, 1.0)),
    "bump": ("3*exp(-x**2/4)+0.2*x", ((-2.5, -1.2), (1.5, 3.0)), 0.05, (1.0, 1.0)),
    "quadratic-wave": ("0.1*x**2-cos(x)", ((-4.0, -2.8), (0.5, 2.0)), 0.2, (1.0, 1.0)),
    "step-like": ("tanh(2*x)+0.1*x", ((-1.8, -0.6), (2.2, 3.4)), 0.15, (1.0, 1.0)),
    "scaled-sine": ("sin(x)+0.5*cos(2*x)", ((-3.5, -2.2), (0.8, 2.0)), 0.1, (20.0, 40.0)),
}


def gap_case(name: str, seed: int = 0, n_train: int = 100, n_test: int = 101) -> GapPair:
    """One of `GAP_CASES` as train and test tables (columns ``x, y``).

    Recipe (``rng = numpy.random.default_rng(seed)``): train x uniform over [-5, 5]
    without the gaps (drawn by rejection), sorted; test x ``linspace(-5, 5, n_test)``;
    ``y = f(x) + noise · N(0, 1)`` for both; then x and y multiplied by the case's
    scales. `GapPair.gap` is the wider gap (scaled).
    """
    if name not in GAP_CASES:
        raise BadInput(f"unknown gap case {name!r} (known: {', '.join(GAP_CASES)})")
    text, gaps, noise, (sx, sy) = GAP_CASES[name]
    f = parse_expression(text)
    rng = np.random.default_rng(seed)
    xs: list[float] = []
    while len(xs) < n_train:
        x = float(rng.uniform(-5.0, 5.0))
        if not any(lo < x < hi for lo, hi in gaps):
            xs.append(x)
    x_train, x_test = np.sort(np.asarray(xs)), np.linspace(-5.0, 5.0, n_test)

    def target(x: np.ndarray) -> np.ndarray:
        return f(x).double().numpy() + noise * rng.standard_normal(len(x))

    y_train, y_test = target(x_train), target(x_test)
    lo, hi = max(gaps, key=lambda g: g[1] - g[0])
    return GapPair(
        train=Table.from_array(["x", "y"], np.column_stack([sx * x_train, sy * y_train]), "y"),
        test=Table.from_array(["x", "y"], np.column_stack([sx * x_test, sy * y_test]), "y"),
        gap=(sx * lo, sx * hi), function=text)


def write_crop_yield_csv(
    path: str | os.PathLike, n: int = 50, seed: int = 0, noise: float = 1.0
) -> Path:
    """Write `crop_yield_table` as CSV; returns the path."""
    return write_table(path, crop_yield_table(n=n, seed=seed, noise=noise))


def write_height_weight_csv(path: str | os.PathLike, n: int = 1000, seed: int = 0) -> Path:
    """Write `height_weight_table` as CSV; returns the path."""
    return write_table(path, height_weight_table(n=n, seed=seed))


def write_gap_pair_csv(
    train_path: str | os.PathLike,
    test_path: str | os.PathLike,
    seed: int = 0,
    noise: float = 0.1,
) -> tuple[Path, Path]:
    """Write `gap_regression_pair`'s train and test tables as CSV; returns both paths."""
    pair = gap_regression_pair(seed=seed, noise=noise)
    return write_table(train_path, pair.train), write_table(test_path, pair.test)


def write_builtin_tables(directory: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Write every built-in table with default sizes into ``directory``.

    Returns:
        ``{"crop_yield": .../crop_yield.csv, "height_weight": .../height_weight.csv,
        "gap_train": .../gap_train.csv, "gap_test": .../gap_test.csv}``.
    """
    directory = Path(directory)
    train, test = write_gap_pair_csv(directory / "gap_train.csv", directory / "gap_test.csv", seed)
    return {
        "crop_yield": write_crop_yield_csv(directory / "crop_yield.csv", seed=seed),
        "height_weight": write_height_weight_csv(directory / "height_weight.csv", seed=seed),
        "gap_train": train,
        "gap_test": test,
    }
