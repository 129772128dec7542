"""Dual momentum (research/strategies/dual_momentum.py, GEM's four ETFs) rehearsed live on
the gateway simulator: every decision is the backtest's panel weight for that bar and the
session's fills are the backtest's orders (the sector rotation uses the same code path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from tests.live._sessions import backtest_like
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal

SYMBOLS = ["SPY", "EFA", "AGG", "BIL"]
# a short lookback and weekly decisions so that half a year of rehearsal switches assets;
# 10% leverage keeps a next-open fill above the decision close affordable
GEM = f"""
name = "gem_paper"
[data]
symbols = {SYMBOLS!r}
start = "2018-01-01"
adjust = "none"
[strategy]
module = "research.strategies.dual_momentum"
name = "dual_momentum"
[strategy.params]
lookback = 42
top = 1
rebalance = 5
bond_filter = 0
[engine]
max_leverage = 1.1
"""


def test_dual_momentum_rehearsal_trades_like_its_backtest(live_config, tmp_path: Path) -> None:
    research = tmp_path / "gem_paper.toml"
    research.write_text(GEM)
    cfg = live_config(
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
        simulator={"start": "2023-01-03 21:30", "end": "2023-05-31", "speed": 8_640_000.0},
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        decisions = pd.DataFrame(j.rows("decisions", summary.session_id))
    first = pd.Timestamp(decisions["bar_time"].min())
    last = pd.Timestamp(decisions["bar_time"].max())
    targets, bt = backtest_like(cfg, tk.load_many(SYMBOLS, adjust="none"), first, last)
    when = pd.DatetimeIndex(pd.to_datetime(decisions["bar_time"]))
    expected = [targets.at[t, s] for t, s in zip(when, decisions["symbol"], strict=True)]
    np.testing.assert_array_equal(decisions["signal"].to_numpy(), expected)
    held = {s for s, w in zip(decisions["symbol"], decisions["signal"], strict=True) if w > 0}
    assert len(held) >= 2  # it switched between assets in those five months
    live = fills.assign(q=np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"])
    live = live.assign(time=pd.to_datetime(live["ts"])).sort_values(["time", "symbol"])
    orders = bt.orders.sort_values(["time", "symbol"])
    assert len(orders) >= 2 and len(live) == len(orders)
    np.testing.assert_array_equal(live["symbol"].to_numpy(), orders["symbol"].to_numpy())
    np.testing.assert_array_equal(live["q"].to_numpy(), orders["quantity"].to_numpy())
    np.testing.assert_allclose(live["price"].to_numpy(), orders["price"].to_numpy(), atol=1e-6)
