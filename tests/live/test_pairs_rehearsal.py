"""A pairs trade (research/strategies/pairs.py, XOM/CVX with a Kalman hedge ratio) rehearsed
live on the gateway simulator: every journaled decision is the backtest's weight for that bar
and symbol, the legs go short and long together, and the fills are the backtest's orders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from tests.live._sessions import backtest_like
from toolkit.engine._step import D_NONE, D_SAME, P_CODE, P_WHAT, PLAN_COLS
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal
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
    research = tmp_path / "pair_paper.toml"
    research.write_text(PAIR)
    cfg = live_config(
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
        simulator={"start": "2023-01-03 21:30", "end": "2023-03-31", "speed": 8_640_000.0},
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
    signals = decisions.pivot_table(index="bar_time", columns="symbol", values="signal")
    held = signals[(signals != 0).any(axis=1)]
    assert len(held) > 0 and (np.sign(held["XOM"]) == -np.sign(held["CVX"])).all()  # a spread
    live = fills.assign(q=np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"])
    live = live.assign(time=pd.to_datetime(live["ts"])).sort_values(["time", "symbol"])
    orders = bt.orders.sort_values(["time", "symbol"])
    assert len(orders) >= 4 and len(live) == len(orders) and (orders["quantity"] < 0).any()
    np.testing.assert_array_equal(live["symbol"].to_numpy(), orders["symbol"].to_numpy())
    np.testing.assert_array_equal(live["q"].to_numpy(), orders["quantity"].to_numpy())
    np.testing.assert_allclose(live["price"].to_numpy(), orders["price"].to_numpy(), atol=1e-6)


def test_a_row_without_a_decision_ignores_its_unwritten_guard_bits() -> None:
    """plan_close_nb leaves a D_NONE / D_SAME row's other columns unwritten (the live plan
    is np.empty): reading their guard bits raised OverflowError on garbage (inf), which
    crashed the pairs rehearsal on its first unchanged target."""
    row = np.full(PLAN_COLS, np.inf)
    for what, decision in ((D_SAME, Decision.UNCHANGED), (D_NONE, Decision.NO_SIGNAL)):
        row[P_WHAT] = what
        assert _outcome("XOM", 0.0, 100.0, 5.0, row).decision is decision
    assert np.isinf(row[P_CODE])
