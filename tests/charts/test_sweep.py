"""Sweep figures hold the sweep's numbers: the heatmap's cells are the Sharpe pivot of the
rows, the parallel coordinates carry every kept row."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit as tk
from toolkit.charts import sweep_heatmap, sweep_parallel
from toolkit.errors import ConfigError


@pytest.fixture(scope="module")
def results():
    bars = tk.load("SPY", start="2015-01-01", end="2020-12-31")
    grid = tk.make_grid(
        "donchian",
        {"entry_window": [10, 20, 40], "exit_window": [5, 10, 20], "allow_short": [0, 1]},
    )
    return tk.sweep(bars, "donchian", grid, progress=False)


def test_heatmap_cells_are_the_pivot_of_the_rows(results) -> None:
    fig = sweep_heatmap(results, "entry_window", "exit_window")
    (heat,) = fig.data
    pivot = results.pivot_table(
        index="exit_window", columns="entry_window", values="sharpe", aggfunc="max"
    )
    np.testing.assert_array_equal(np.asarray(heat.z), pivot.to_numpy())
    assert list(heat.x) == [10, 20, 40] and list(heat.y) == [5, 10, 20]
    assert heat.zmid == 0.0 and "sharpe %{z:.3f}" in heat.hovertemplate
    assert "18 runs" in fig.layout.title.text and fig.layout.xaxis.title.text == "entry_window"
    # a fraction is shown as a percentage, with its own aggregation and no forced midpoint
    dd = sweep_heatmap(results, "entry_window", "exit_window", "max_drawdown", agg="mean")
    mean = results.pivot_table(
        index="exit_window", columns="entry_window", values="max_drawdown", aggfunc="mean"
    )
    np.testing.assert_allclose(np.asarray(dd.data[0].z), mean.to_numpy())
    assert dd.data[0].zmid is None and "%{z:.2%}" in dd.data[0].hovertemplate


def test_parallel_coordinates_keep_the_best_rows(results) -> None:
    params = ["entry_window", "exit_window", "allow_short"]
    fig = sweep_parallel(results, params, top=5)
    (lines,) = fig.data
    best = results.nlargest(5, "sharpe")
    assert [d.label for d in lines.dimensions] == [*params, "sharpe"]
    for d in lines.dimensions:
        np.testing.assert_array_equal(np.asarray(d.values), best[d.label].to_numpy())
    np.testing.assert_array_equal(np.asarray(lines.line.color), best["sharpe"].to_numpy())
    assert fig.layout.title.text.startswith("top 5 of 18 runs")
    everything = sweep_parallel(results, params)
    assert len(everything.data[0].dimensions[0].values) == len(results)


def test_bad_columns_are_named(results) -> None:
    with pytest.raises(ConfigError, match="no column nope"):
        sweep_heatmap(results, "entry_window", "nope")
    with pytest.raises(ConfigError, match="no column nope"):
        sweep_parallel(results, ["entry_window", "nope"])
    with pytest.raises(ConfigError, match="at least two parameters"):
        sweep_parallel(results, ["entry_window"])
