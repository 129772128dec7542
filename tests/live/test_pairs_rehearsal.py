"""A pairs trade (research/strategies/pairs.py, XOM/CVX with a Kalman hedge ratio) rehearsed
live on the gateway simulator: every journaled decision is the backtest's weight for that bar
and symbol, the legs go short and long together, and the fills are the backtest's orders."""

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
from toolkit.engine._step import D_NONE, D_SAME, P_CODE, P_WHAT, PLAN_COLS
from toolkit.live.sleeve import Decision, _outcome

SYMBOLS = ["XOM", "CVX"]
# a 120-bar formation re-run every 40 bars and entries at |z| >= 1 so that three months of
# rehearsal open and close the pair; fdr = 1 trades the pair whatever its test says
PAIR = f"""
name = "pair_paper"
[data]
symbols = {SYMBOLS!r}
start = "2018-01-01"
adjust = "none"
[strategy]
module = "research.strategies.pairs"
name = "pairs_trading"
[strategy.params]
formation = 120
trade = 40
fdr = 1.0
max_pairs = 1
entry = 1.0
exit = 0.0
kalman = 1
delta = 0.001
[engine]
max_leverage = 1.1
"""


def test_pairs_rehearsal_trades_like_its_backtest(live_config, tmp_path: Path) -> None:
    cfg, fills, decisions = rehearse(live_config, tmp_path / "pair_paper.toml", PAIR, "2023-03-31")
    first = pd.Timestamp(decisions["bar_time"].min())
    last = pd.Timestamp(decisions["bar_time"].max())
    targets, bt = backtest_like(cfg, tk.load_many(SYMBOLS, adjust="none"), first, last)
    assert_decisions_are_targets(decisions, targets)
    signals = decisions.pivot_table(index="bar_time", columns="symbol", values="signal")
    held = signals[(signals != 0).any(axis=1)]
    assert len(held) > 0 and (np.sign(held["XOM"]) == -np.sign(held["CVX"])).all()  # a spread
    orders = assert_fills_are_orders(fills, bt)
    assert len(orders) >= 4 and (orders["quantity"] < 0).any()


def test_a_row_without_a_decision_ignores_its_unwritten_guard_bits() -> None:
    """plan_close_nb leaves a D_NONE / D_SAME row's other columns unwritten (the live plan
    is np.empty): reading their guard bits raised OverflowError on garbage (inf), which
    crashed the pairs rehearsal on its first unchanged target."""
    row = np.full(PLAN_COLS, np.inf)
    for what, decision in ((D_SAME, Decision.UNCHANGED), (D_NONE, Decision.NO_SIGNAL)):
        row[P_WHAT] = what
        assert _outcome("XOM", 0.0, 100.0, 5.0, row).decision is decision
    assert np.isinf(row[P_CODE])
