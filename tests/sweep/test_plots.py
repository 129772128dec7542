"""Sweep pictures show the numbers they are given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import toolkit as tk
from toolkit.errors import ConfigError


@pytest.fixture(scope="module")
def results():
    bars = tk.load("SPY", start="2012-01-01")
    grid = tk.make_grid(
        "donchian",
        {"entry_window": [10, 20, 40], "exit_window": [5, 10, 20], "allow_short": [0, 1]},
    )
    return tk.sweep(bars, "donchian", grid, progress=False)


def test_heatmap_shows_the_aggregated_pivot(results) -> None:
    ax = tk.heatmap(results, "entry_window", "exit_window", "sharpe")
    image = ax.get_images()[0].get_array()
    expected = results.pivot_table(
        index="exit_window", columns="entry_window", values="sharpe", aggfunc="max"
    ).to_numpy()
    np.testing.assert_allclose(np.asarray(image), expected)
    assert ax.get_xlabel() == "entry_window" and ax.get_ylabel() == "exit_window"
    assert ax.get_title() == "sharpe (max over other parameters)"
    plt.close("all")


def test_parallel_coordinates_one_line_per_row(results) -> None:
    ax = tk.parallel_coordinates(
        results, ["entry_window", "exit_window", "allow_short"], "cagr", top=10
    )
    assert len(ax.lines) == 10
    for line in ax.lines:
        y = line.get_ydata()
        assert (y >= 0).all() and (y <= 1).all()
    plt.close("all")


def test_scatter_and_bad_column(results) -> None:
    from toolkit.sweep import scatter

    ax = scatter(results, "max_drawdown", "cagr", "sharpe")
    assert len(ax.collections[0].get_offsets()) == len(results)
    with pytest.raises(ConfigError, match="no column nonsense"):
        tk.heatmap(results, "entry_window", "nonsense")
    plt.close("all")
