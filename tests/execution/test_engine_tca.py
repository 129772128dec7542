"""TCA of a bar backtest's orders (toolkit.execution.engine_tca): the arrival rule by hand
(signal orders at the decision close, exits at their trigger) and the reconciliation of the
orders' paper P&L, shortfall and after-horizon term with the engine's own P&L."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.engine.settings import EngineSettings
from toolkit.execution import after_horizon, engine_tca

PARTS = ["delay_cost", "execution_cost", "opportunity_cost", "fees"]


@pytest.fixture(scope="module")
def spy() -> pd.DataFrame:
    bars = tk.load("SPY")
    return bars[(bars.index >= "2019-01-01") & (bars.index < "2021-01-01")]


@pytest.mark.parametrize(
    "settings",
    [
        EngineSettings(slippage_bps=2.0, stop_loss=0.03, take_profit=0.05),
        EngineSettings(fill="close", slippage_bps=1.0),
        EngineSettings(order_type="limit", order_offset_bps=20.0),
    ],
    ids=["next-open-with-exits", "at-close", "limit"],
)
def test_arrival_rule_and_reconciliation_with_the_engine(spy, settings) -> None:
    result = tk.backtest(spy, "sma_cross", {"fast": 5, "slow": 20, "allow_short": 1}, settings)
    orders = result.orders
    t = engine_tca(result, spy)
    assert len(t) == len(orders) >= 10
    np.testing.assert_allclose(t[PARTS].sum(axis=1), t["total_cost"], rtol=0, atol=1e-9)
    close = spy["close"].to_numpy()
    for k, o in orders.iterrows():
        row = t.loc[k]
        if o["reason"] == "signal":
            same_bar = settings.fill == "close" and o["order_type"] == "market"
            decided = o["bar"] if same_bar else o["bar"] - 1
            assert row["arrival_price"] == close[decided]
        else:  # a protective exit: its trigger
            assert row["arrival_price"] == o["reference_price"]
        assert row["avg_fill_price"] == pytest.approx(o["price"], rel=1e-12)
        assert row["fees"] == o["commission"]
        assert row["end_price"] == close[o["bar"]] == row["close"]
        assert row["quantity"] == row["filled"] == abs(o["quantity"])
        s = 1.0 if o["quantity"] > 0 else -1.0
        assert row["execution_cost"] == pytest.approx(
            s * abs(o["quantity"]) * (o["price"] - row["arrival_price"]), abs=1e-6
        )
    if settings.stop_loss is not None:  # a stop's cost is its slippage past the trigger
        stops = t[(t["reason"] == "stop_loss") & (t["order_type"] == "stop")]
        assert len(stops) and stops["slippage_bp"].max() > settings.slippage_bps
    # paper - shortfall + after-horizon (to the last close) = the engine's P&L
    rebuilt = (t["paper_pnl"] - t["total_cost"]).sum() + after_horizon(t, {"SPY": close[-1]}).sum()
    pnl = result.equity.iloc[-1] - settings.init_cash
    assert rebuilt == pytest.approx(pnl, abs=0.005)


def test_no_orders_no_rows(spy) -> None:
    flat = tk.backtest(
        spy, "sma_cross", {"fast": 5, "slow": 20, "allow_short": 1}, EngineSettings(init_cash=1.0)
    )
    t = engine_tca(flat, spy)
    assert t.empty and "total_cost" in t.columns


def test_a_two_symbol_book_reconciles_per_symbol_marks() -> None:
    from toolkit.data import load_many

    bars = load_many(["SPY", "QQQ"])
    bars = bars[(bars.index >= "2019-01-01") & (bars.index < "2021-01-01")]
    result = tk.backtest(bars, "sma_cross", {"fast": 5, "slow": 20, "allow_short": 1})
    t = engine_tca(result, bars)
    assert set(t["symbol"]) == {"SPY", "QQQ"} and len(t) == len(result.orders)
    for sym in ("SPY", "QQQ"):  # each order's arrival is its own symbol's decision close
        mine = result.orders[result.orders["symbol"] == sym]
        closes = bars["close"][sym].to_numpy()
        np.testing.assert_array_equal(t.loc[mine.index, "arrival_price"], closes[mine["bar"] - 1])
    marks = {s: float(bars["close"][s].iloc[-1]) for s in ("SPY", "QQQ")}
    rebuilt = (t["paper_pnl"] - t["total_cost"]).sum() + after_horizon(t, marks).sum()
    assert rebuilt == pytest.approx(result.equity.iloc[-1] - 100_000.0, abs=0.005)
