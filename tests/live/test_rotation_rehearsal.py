"""Dual momentum (research/strategies/dual_momentum.py, GEM's four ETFs) rehearsed live on
the gateway simulator: every decision is the backtest's panel weight for that bar and the
session's fills are the backtest's orders (the sector rotation uses the same code path)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import toolkit as tk
from tests.live._sessions import (
    assert_decisions_are_targets,
    assert_fills_are_orders,
    backtest_like,
    rehearse,
)

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
    cfg, fills, decisions = rehearse(live_config, tmp_path / "gem_paper.toml", GEM, "2023-05-31")
    first = pd.Timestamp(decisions["bar_time"].min())
    last = pd.Timestamp(decisions["bar_time"].max())
    targets, bt = backtest_like(cfg, tk.load_many(SYMBOLS, adjust="none"), first, last)
    assert_decisions_are_targets(decisions, targets)
    held = {s for s, w in zip(decisions["symbol"], decisions["signal"], strict=True) if w > 0}
    assert len(held) >= 2  # it switched between assets in those five months
    assert len(assert_fills_are_orders(fills, bt)) >= 2
