"""tk.backtest accepts a user's strategy like a built-in; a cross-sectional one trades one book
whose weights are fractions of the whole account."""

from __future__ import annotations

import numpy as np
import pandas as pd

import toolkit as tk
from toolkit.engine.backtest import strategy_targets


def test_single_symbol_user_strategy_is_its_targets_simulated() -> None:
    from research.strategies.channel_trend import channel_trend

    bars = tk.load("SPY", start="2010-01-01", end="2020-12-31")
    result = tk.backtest(bars, "channel_trend", {"lookback": 30, "exit_window": 10})
    assert result.strategy == "channel_trend"
    assert result.params == {"lookback": 30, "exit_window": 10}
    # the same targets through the engine by hand give the same run
    targets = channel_trend.signals(bars, lookback=30, exit_window=10)
    by_hand = tk.simulate(bars, targets)
    pd.testing.assert_series_equal(result.equity, by_hand.equity)
    assert len(result.trades) > 5


def test_cross_sectional_weights_are_book_weights() -> None:
    from research.strategies.xs_momentum import xs_momentum

    panel = tk.load_many(["SPY", "QQQ", "TLT", "GLD"], start="2012-01-01", end="2018-12-31")
    params = {"lookback": 63, "top": 2, "rebalance": 21}
    result = tk.backtest(panel, xs_momentum, params, tk.EngineSettings(commission=tk.no_costs()))
    weights = strategy_targets(panel, xs_momentum, xs_momentum.resolve(params))
    assert set(np.unique(weights.to_numpy())) <= {0.0, 0.5}
    # sleeve weight 1 per symbol: a 0.5 target is about half the account, not half of a quarter
    value = result.positions * panel["close"]
    held = value.iloc[-1][value.iloc[-1] > 0] / result.equity.iloc[-1]
    assert ((held > 0.35) & (held < 0.65)).all() and len(held) >= 1
    explicit = tk.simulate(panel, weights, result.settings, weights=[1.0] * 4)
    pd.testing.assert_series_equal(result.equity, explicit.equity)
