"""mc.plot(): percentile bands are the result's fan, the histogram its paths' drawdowns."""

from __future__ import annotations

import numpy as np

import toolkit as tk


def test_fan_bands_and_drawdowns_are_the_results() -> None:
    bars = tk.load("SPY", start="2018-01-01", end="2022-12-31")
    result = tk.backtest(bars, "sma_cross", {"fast": 10, "slow": 40})
    mc = tk.monte_carlo(result, n_paths=300, seed=3, dd_threshold=0.15)
    fig = mc.plot()
    by_hover = {t.hovertemplate.split(":")[0]: t for t in fig.data if t.type == "scatter"}
    for col in ("p5", "p25", "p75", "p95"):
        np.testing.assert_array_equal(by_hover[col].y, mc.fan[col].to_numpy())
        np.testing.assert_array_equal(by_hover[col].x, mc.fan.index.to_numpy())
    np.testing.assert_array_equal(by_hover["median"].y, mc.fan["p50"].to_numpy())
    # the bands fill between their low and high percentiles
    assert by_hover["p95"].fill == "tonexty" and by_hover["p75"].fill == "tonexty"
    (hist,) = [t for t in fig.data if t.type == "histogram"]
    np.testing.assert_array_equal(hist.x, mc.paths["max_drawdown"].to_numpy())
    labels = [a.text for a in fig.layout.annotations]
    assert f"P(dd <= -15%) = {mc.prob_drawdown:.1%}" in labels
    assert fig.layout.yaxis.type == "log" and "300 paths, seed 3" in fig.layout.title.text
