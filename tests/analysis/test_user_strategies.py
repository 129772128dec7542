"""Walk-forward, Monte Carlo and sensitivity take a user's strategy as they take a built-in."""

from __future__ import annotations

import numpy as np

import toolkit as tk
from toolkit.analysis.sensitivity import stress
from toolkit.engine.backtest import strategy_targets


def test_walk_forward_with_a_single_symbol_user_strategy() -> None:
    from research.strategies.channel_trend import channel_trend

    bars = tk.load("SPY", start="2010-01-01", end="2019-12-31")
    grid = {"lookback": [20, 60], "exit_window": [10, 30]}
    wf = tk.walk_forward(bars, channel_trend, grid, n_folds=3)
    assert len(wf.folds) == 3 and set(wf.folds["lookback"]) <= {20, 60}
    assert np.isfinite(wf.oos_equity).all()


def test_walk_forward_oos_of_a_cross_sectional_book_is_its_backtest() -> None:
    from research.strategies.xs_momentum import xs_momentum

    panel = tk.load_many(["SPY", "TLT", "GLD"], start="2010-01-01", end="2019-12-31")
    wf = tk.walk_forward(panel, "xs_momentum", {"lookback": [63, 126]}, n_folds=2)
    fold = wf.folds.iloc[-1]
    params = xs_momentum.resolve({"lookback": int(fold["lookback"])})
    # out of sample the book trades weights of the whole account (sleeve weight 1)
    start = panel.index.get_loc(fold["test_start"])
    stop = panel.index.get_loc(fold["test_end"]) + 1
    target = strategy_targets(panel.iloc[:stop], xs_momentum, params).iloc[start:]
    oos = tk.simulate(panel.iloc[start:stop], target, weights=[1.0] * 3)
    np.testing.assert_allclose(
        wf.oos_returns.loc[fold["test_start"] :].to_numpy(), oos.returns.to_numpy(), rtol=1e-12
    )


def test_monte_carlo_and_stress_of_user_strategies() -> None:
    from research.strategies.channel_trend import channel_trend
    from research.strategies.xs_momentum import xs_momentum

    bars = tk.load("SPY", start="2012-01-01", end="2019-12-31")
    result = tk.backtest(bars, channel_trend)
    mc = tk.monte_carlo(result, "trade_shuffle", n_paths=200, seed=1)
    assert len(mc.paths) == 200
    panel = tk.load_many(["SPY", "TLT", "GLD"], start="2012-01-01", end="2019-12-31")
    table = stress(panel, "xs_momentum", {"lookback": 63}, tk.EngineSettings(), noise_runs=2)
    base = tk.backtest(panel, xs_momentum, {"lookback": 63}).metrics()
    assert table.loc["baseline", "sharpe"] == base["sharpe"]
