"""A user's strategy (research/strategies/channel_trend.py, named by its research config's
``[strategy] module``) trades through the live bridge against the gateway simulator over TCP
and makes the backtest's trades on the same bars: the registry resolves it as a built-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from tests.live._sessions import (
    assert_decisions_are_targets,
    assert_fills_are_orders,
    backtest_like,
    rehearse,
)

# 95% of equity per position, as in spy_sma_paper.toml: a live order is sized at the close and
# a next-open fill above it must still be affordable (the backtest would trim the buy)
USER_CONFIG = """
name = "channel_trend_paper"
[data]
symbols = ["SPY"]
start = "2018-01-01"
adjust = "none"
[strategy]
module = "research.strategies.channel_trend"
name = "channel_trend"
[strategy.params]
lookback = 20
exit_window = 10
[engine]
slippage_bps = 1.0
weights = [0.95]
"""


def test_user_strategy_rehearsal_equals_its_backtest(live_config, tmp_path: Path) -> None:
    cfg, fills, decisions = rehearse(
        live_config, tmp_path / "channel_trend_paper.toml", USER_CONFIG, "2023-09-29"
    )
    run = cfg.strategies[0].run
    assert run.strategy == "channel_trend"
    assert run.strategy_module == "research.strategies.channel_trend"
    days = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    assert len(days) >= 150

    targets, bt = backtest_like(cfg, tk.load("SPY", adjust="none"), days[0], days[-1])
    # the same signal function decided every bar, and traded what the backtest traded
    np.testing.assert_array_equal(
        decisions["signal"].to_numpy(), targets.loc[days, "SPY"].to_numpy()
    )
    orders = bt.orders
    assert len(orders) >= 2 and len(fills) == len(orders)
    sign = np.where(fills["side"] == "BOT", 1.0, -1.0)
    np.testing.assert_array_equal(sign * fills["shares"].to_numpy(), orders["quantity"].to_numpy())
    np.testing.assert_allclose(fills["price"].to_numpy(), orders["price"].to_numpy(), atol=1e-6)


# Cross-sectional: one signal call on the panel per bar, one shared book. No [engine] weights:
# the strategy's weights are fractions of the whole book (1 per symbol); 10% leverage keeps a
# next-open fill above the decision close affordable.
XS_CONFIG = """
name = "xs_paper"
[data]
symbols = ["SPY", "TLT", "GLD"]
start = "2018-01-01"
adjust = "none"
[strategy]
module = "research.strategies.xs_momentum"
name = "xs_momentum"
[strategy.params]
lookback = 42
top = 1
rebalance = 5
[engine]
max_leverage = 1.1
"""


def test_cross_sectional_rehearsal_trades_one_book_like_its_backtest(
    live_config, tmp_path: Path
) -> None:
    cfg, fills, decisions = rehearse(
        live_config, tmp_path / "xs_paper.toml", XS_CONFIG, "2023-06-30"
    )
    first = pd.Timestamp(decisions["bar_time"].min())
    last = pd.Timestamp(decisions["bar_time"].max())
    bars = tk.load_many(["SPY", "TLT", "GLD"], adjust="none")
    targets, bt = backtest_like(cfg, bars, first, last)
    # every decision is the panel signal's weight for that symbol and bar
    assert_decisions_are_targets(decisions, targets)
    assert set(np.unique(decisions["signal"])) <= {0.0, 1.0}
    # one book holding one ETF at a time: the same fills as the backtest
    assert len(assert_fills_are_orders(fills, bt)) >= 4
    # the session rerun by the backtest (backtest --like-session) trades the same book: its
    # weights are the strategy's, not equal 1/3 sleeves
    from toolkit.live.replay import replay_session

    (replay,) = replay_session(cfg.session.journal)
    compared = replay.fills_compared()
    assert len(compared) == len(fills) and compared["match"].all(), compared
