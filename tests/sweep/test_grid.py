"""Grids: products, constraints, random samples."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.errors import ConfigError
from toolkit.sweep import make_grid


def test_product_with_strategy_constraint() -> None:
    g = make_grid("sma_cross", {"fast": range(2, 202), "slow": range(2, 202)})
    assert len(g) == 19_900  # every pair fast < slow from 2 to 201
    f = g.frame()
    assert (f.fast < f.slow).all()
    assert g.dropped == 200 * 200 - 19_900
    assert f["fast"].dtype == np.int64 and set(f["allow_short"]) == {0}


def test_where_expression_and_callable() -> None:
    g = make_grid(
        "sma_cross", {"fast": range(2, 50), "slow": range(3, 200)}, where="slow >= 3 * fast"
    )
    assert (g.frame().eval("slow >= 3 * fast")).all()
    h = make_grid(
        "sma_cross", {"fast": range(2, 50), "slow": range(3, 200)}, where=lambda f: f.slow % 10 == 0
    )
    assert (h.frame().slow % 10 == 0).all()


def test_random_sample_is_distinct_valid_and_reproducible() -> None:
    axes = {"fast": range(2, 400), "slow": range(3, 1000)}
    a = make_grid("sma_cross", axes, sample=500, seed=7)
    b = make_grid("sma_cross", axes, sample=500, seed=7)
    c = make_grid("sma_cross", axes, sample=500, seed=8)
    assert len(a) == 500
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    f = a.frame()
    assert (f.fast < f.slow).all()
    assert not f.duplicated().any()


def test_sample_larger_than_valid_space_returns_all_valid() -> None:
    g = make_grid("sma_cross", {"fast": [5, 10], "slow": [8, 20]}, sample=100)
    assert len(g) == 3  # (5,8) (5,20) (10,20)


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ({"speed": [1]}, r"grid axis speed is not a parameter of 'sma_cross'"),
        ({"fast": [0, 5]}, r"fast = 0 is out of range"),
        ({"fast": []}, r"grid axis 'fast' is empty"),
    ],
)
def test_invalid_axes(axes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make_grid("sma_cross", axes)


def test_array_and_range_axes_give_the_list_grid() -> None:
    # arrays and ranges are checked whole (fast path); lists value by value: same grid
    listed = make_grid("sma_cross", {"fast": list(range(2, 30)), "slow": [10.0, 40.0]})
    for fast in (np.arange(2, 30), range(2, 30), np.arange(2.0, 30.0)):
        g = make_grid("sma_cross", {"fast": fast, "slow": np.array([10, 40])})
        np.testing.assert_array_equal(g.values, listed.values)


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        (np.array([2.0, 2.5]), r"fast = np.float64\(2.5\) must be a whole number"),
        (np.array([0, 5]), r"fast = 0 is out of range"),
        (np.array([5.0, np.nan]), r"fast = np.float64\(nan\) is not a finite number"),
        (np.array([True, False]), r"fast = np.True_ has the wrong type"),
        (np.array(["5"]), r"fast = np.str_\('5'\) has the wrong type"),
        (range(499, 503), r"fast = 501 is out of range"),
        (np.array([]), r"grid axis 'fast' is empty"),
    ],
)
def test_invalid_array_axes_name_the_first_bad_value(axis, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make_grid("sma_cross", {"fast": axis})


def test_bad_where_expression() -> None:
    with pytest.raises(ConfigError, match="grid constraint 'nonsense >' failed"):
        make_grid("sma_cross", {"fast": [5], "slow": [10]}, where="nonsense >")


def test_the_rows_own_their_columns() -> None:
    """The sweep's frame takes its columns as they are (no consolidation copy): each is a
    contiguous array of its own, so editing the rows never reaches the grid or another row's
    metric, and numba kernels get the contiguous layout they compile for."""
    import pandas as pd

    import toolkit as tk
    from toolkit.sweep import METRICS, sweep

    bars = tk.load("SPY").iloc[-300:]
    grid = make_grid("rsi_reversion", {"window": [5, 9], "oversold": [20.0, 30.0]})
    before = grid.values.copy()
    rows = sweep(bars, "rsi_reversion", grid, progress=False)
    for name in [*grid.names, *METRICS]:
        col = rows[name].to_numpy()
        assert col.flags["C_CONTIGUOUS"], name
        assert not np.shares_memory(col, grid.values), name
    rows.loc[:, "oversold"] = -1.0
    rows.loc[:, "sharpe"] = 99.0
    np.testing.assert_array_equal(grid.values, before)
    assert not (rows["sortino"] == 99.0).any()
    assert isinstance(rows, pd.DataFrame) and len(rows) == len(grid)


def test_the_product_lists_points_in_the_samplers_order() -> None:
    """The full product and the sampler's mixed-radix decode agree point by point (last axis
    fastest), for axes of any length, one-value axes included."""
    from toolkit.sweep.grid import _decode, _product

    rng = np.random.default_rng(3)
    for sizes in ([3], [1, 4], [5, 1, 2], [2, 3, 4, 1], [7, 7]):
        columns = [rng.normal(size=n) for n in sizes]
        total = int(np.prod(sizes))
        want = _decode(np.arange(total), columns, np.array(sizes))
        np.testing.assert_array_equal(_product(columns), want)
