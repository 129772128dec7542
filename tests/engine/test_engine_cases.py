"""Small hand-computed simulations: every order type, exits, gaps, costs, shorts, flips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.engine import EngineSettings, ibkr_fixed, ibkr_tiered, no_costs, proportional, simulate


def bars(rows: list[tuple[float, float, float, float]], start: str = "2024-01-01") -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(rows), freq="D", tz="UTC")
    f = pd.DataFrame(rows, index=idx, columns=["open", "high", "low", "close"], dtype=float)
    f["volume"] = 1e6
    return f


def run(b: pd.DataFrame, target: list[float], **kw) -> object:
    kw.setdefault("commission", no_costs())
    kw.setdefault("init_cash", 1000.0)
    return simulate(b, pd.Series(target, index=b.index, dtype=float), EngineSettings(**kw))


FLAT = [
    (10, 10, 10, 10),
    (10, 11, 9, 10),
    (10.5, 11, 10, 10.8),
    (11, 12, 10.5, 11.5),
    (11.5, 12, 11, 12),
]


def test_market_next_open_with_cash_limit_and_whole_shares() -> None:
    r = run(bars(FLAT), [0, 1, 1, 0, 0])
    o = r.orders
    # decided at bar 1's close (10): 100 shares wanted; at bar 2's open (10.5) cash buys 95
    assert list(o["bar"]) == [2, 4]
    assert list(o["quantity"]) == [95.0, -95.0]
    assert list(o["price"]) == [10.5, 11.5]
    np.testing.assert_allclose(
        r.equity.to_numpy(), [1000, 1000, 2.5 + 95 * 10.8, 2.5 + 95 * 11.5, 1095]
    )
    t = r.trades.iloc[0]
    assert (t.entry_price, t.exit_price, t.quantity, t.pnl) == (10.5, 11.5, 95.0, 95.0)
    assert t["return"] == pytest.approx(95 / 997.5)
    assert (t.holding_bars, t.holding_days, bool(t.is_open)) == (2, 2, False)


def test_same_bar_close_fill() -> None:
    r = run(bars(FLAT), [0, 1, 1, 0, 0], fill="close")
    assert list(r.orders["bar"]) == [1, 3]
    assert list(r.orders["price"]) == [10.0, 11.5]
    assert r.equity.iloc[-1] == 1150.0


def test_truncation_toward_zero_and_slippage() -> None:
    b = bars([(9, 9, 9, 9), (9, 9, 9, 9), (9, 9, 9, 9)])
    r = run(b, [0, 0.3, 0.3], fill="close", slippage_bps=10)
    # 0.3 x 1000 / 9 = 33.3 -> 33 shares at 9 x 1.001
    assert r.orders["quantity"].iloc[0] == 33.0
    assert r.orders["price"].iloc[0] == pytest.approx(9.009)
    assert r.orders["slippage_cost"].iloc[0] == pytest.approx(33 * 0.009)


def test_commission_minimum_and_cap_in_the_engine() -> None:
    b = bars([(10, 10, 10, 10)] * 3)
    r = run(b, [0, 0.5, 0.5], fill="close", commission=ibkr_fixed(regulatory_fees=False))
    # 50 shares x 0.005 = 0.25 -> minimum 1.00
    assert r.orders["commission"].iloc[0] == 1.0
    assert r.cash.iloc[-1] == 1000 - 500 - 1.0
    cheap = bars([(0.25, 0.25, 0.25, 0.25)] * 3)
    r = run(cheap, [0, 1, 1], fill="close", init_cash=251.0, commission=ibkr_fixed(False))
    # 1,000 shares at 0.25: 5.00 capped at 1% of 250 = 2.50; 1,004 shares would not fit with fees
    assert r.orders["quantity"].iloc[0] == 994.0
    assert r.orders["commission"].iloc[0] == pytest.approx(0.01 * 994 * 0.25)


def test_tiered_volume_accumulates_within_a_month_and_resets() -> None:
    idx_rows = [(1.0, 1.0, 1.0, 1.0)] * 6
    b = bars(idx_rows, start="2024-01-29")  # bars on Jan 29, 30, 31, Feb 1, 2, 3
    c = ibkr_tiered(exchange_per_share=0.0, regulatory_fees=False)
    r = run(b, [0.4, 0.8, 0.4, 0.8, 0.0, 0.0], fill="close", init_cash=1_000_000.0, commission=c)
    o = r.orders
    assert len(o) == 5 and o["quantity"].iloc[0] == 400_000
    # month-to-date volume before each order: resets on the first February bar (order 4)
    q = o["quantity"].abs().to_numpy()
    before = [0.0, q[0], q[0] + q[1], 0.0, q[3]]
    expected = [c.cost(qty, 1.0, v) for qty, v in zip(o["quantity"], before, strict=True)]
    np.testing.assert_allclose(o["commission"].to_numpy(), expected, rtol=1e-12)
    # 1st and 4th at the first tier (0.0035), the others at the second (0.0020)
    assert o["commission"].iloc[0] == pytest.approx(1400 * 1.00074 + 80)
    assert o["commission"].iloc[1] == pytest.approx(q[1] * 0.002 * 1.00074 + 0.0002 * q[1])
    assert o["commission"].iloc[3] == pytest.approx(q[3] * 0.0035 * 1.00074 + 0.0002 * q[3])


def test_limit_entry_unfilled_is_retried_then_gap_fill() -> None:
    rows = [
        (10, 10, 10, 10),
        (10, 10.1, 9.95, 10.0),
        (10.0, 10.4, 9.96, 10.2),
        (10.0, 10.5, 9.9, 10.3),
    ]
    r = run(bars(rows), [0, 1, 1, 1], order_type="limit", order_offset_bps=100)
    # bar 0 target 0; bar 1 close 10 -> limit 9.90, bar 2 low 9.96: no fill
    # bar 2 close 10.2 -> limit 10.098; bar 3 opens at 10.0, below the limit: filled at the open
    o = r.orders
    assert list(o["bar"]) == [3]
    assert o["price"].iloc[0] == 10.0
    assert o["reference_price"].iloc[0] == pytest.approx(10.098)
    assert o["quantity"].iloc[0] == 98.0  # sized at the 10.2 decision close: 1000 / 10.2 -> 98


def test_stop_entry_and_gap() -> None:
    rows = [(10, 10, 10, 10), (10, 10, 10, 10), (10.0, 10.3, 9.9, 10.2), (10.2, 10.2, 10.2, 10.2)]
    r = run(bars(rows), [0, 1, 1, 1], order_type="stop", order_offset_bps=100, slippage_bps=10)
    # stop at 10.10; bar 2 trades through it intrabar: filled at 10.10 plus slippage
    assert r.orders["price"].iloc[0] == pytest.approx(10.1 * 1.001)
    rows[2] = (10.5, 10.6, 10.4, 10.5)
    r = run(bars(rows), [0, 1, 1, 1], order_type="stop", order_offset_bps=100)
    assert r.orders["price"].iloc[0] == 10.5  # gapped over the stop: the open


def _exit(rows, **kw):
    return run(bars(rows), [1.0] * len(rows), fill="close", **kw)


def test_stop_loss_intrabar_and_gap_through() -> None:
    base = [(10, 10, 10, 10), (9.8, 10.0, 9.4, 9.6), (9.6, 9.6, 9.6, 9.6)]
    r = _exit(base, stop_loss=0.05)
    o = r.orders
    assert list(o["reason"]) == ["signal", "stop_loss"]
    assert o["price"].iloc[1] == 9.5
    assert r.trades["pnl"].iloc[0] == pytest.approx(-50.0)
    gap = [(10, 10, 10, 10), (9.0, 9.3, 8.8, 9.2), (9.2, 9.2, 9.2, 9.2)]
    r = _exit(gap, stop_loss=0.05)
    assert r.orders["price"].iloc[1] == 9.0  # worse than the stop: the open
    assert r.trades["pnl"].iloc[0] == pytest.approx(-100.0)


def test_no_reentry_after_stop_until_target_changes() -> None:
    rows = [(10, 10, 10, 10), (9.8, 10.0, 9.4, 9.6), (9.6, 9.7, 9.5, 9.6), (9.6, 9.7, 9.5, 9.6)]
    r = _exit(rows, stop_loss=0.05)
    assert len(r.orders) == 2 and r.positions.iloc[-1, 0] == 0
    r = _exit(rows, stop_loss=0.05, rebalance="every_bar")
    assert list(r.orders["bar"]) == [0, 1, 1]  # every_bar re-enters at the same close


def test_take_profit_and_gap_up() -> None:
    r = _exit([(10, 10, 10, 10), (10.5, 11.2, 10.4, 11.1), (11, 11, 11, 11)], take_profit=0.10)
    assert list(r.orders["reason"]) == ["signal", "take_profit"]
    assert r.orders["price"].iloc[1] == 11.0
    r = _exit([(10, 10, 10, 10), (11.5, 11.8, 11.4, 11.6), (11, 11, 11, 11)], take_profit=0.10)
    assert r.orders["price"].iloc[1] == 11.5


def test_stop_loss_assumed_first_when_both_inside_one_bar() -> None:
    r = _exit(
        [(10, 10, 10, 10), (10, 11.5, 9.0, 10), (10, 10, 10, 10)], stop_loss=0.05, take_profit=0.10
    )
    assert r.orders["reason"].iloc[1] == "stop_loss"
    assert r.orders["price"].iloc[1] == 9.5


def test_trailing_stop_follows_the_peak() -> None:
    rows = [(10, 10, 10, 10), (10.5, 12.0, 10.4, 11.8), (11.5, 11.6, 10.7, 11.0), (11, 11, 11, 11)]
    r = _exit(rows, trailing_stop=0.10)
    # peak 12.0 after bar 1 -> stop 10.8, hit in bar 2 (low 10.7)
    assert list(r.orders["reason"]) == ["signal", "trailing_stop"]
    assert r.orders["price"].iloc[1] == pytest.approx(10.8)
    assert r.orders["bar"].iloc[1] == 2


def test_short_position_pnl_and_stop() -> None:
    rows = [(10, 10, 10, 10), (9.5, 9.6, 9.0, 9.0), (9.0, 9.0, 9.0, 9.0)]
    r = run(bars(rows), [-1, -1, 0], fill="close")
    assert list(r.orders["quantity"]) == [-100.0, 100.0]
    assert r.trades["direction"].iloc[0] == "short"
    assert r.trades["pnl"].iloc[0] == pytest.approx(100.0)
    assert r.equity.iloc[-1] == pytest.approx(1100.0)
    up = [(10, 10, 10, 10), (10.2, 10.6, 10.1, 10.5), (10.5, 10.5, 10.5, 10.5)]
    r = run(bars(up), [-1, -1, -1], fill="close", stop_loss=0.05)
    assert r.orders["reason"].iloc[1] == "stop_loss" and r.orders["price"].iloc[1] == 10.5


def test_flip_long_to_short_splits_trade_and_commission() -> None:
    rows = [(10, 10, 10, 10), (11, 11, 11, 11), (10, 10, 10, 10), (10, 10, 10, 10)]
    r = run(bars(rows), [1, -1, -1, 0], fill="close", commission=proportional(0.001))
    o = r.orders
    assert o["quantity"].iloc[1] < -o["quantity"].iloc[0]  # one order crosses zero
    t = r.trades
    assert list(t["direction"]) == ["long", "short"]
    long_qty = t["quantity"].iloc[0]
    share = long_qty / abs(o["quantity"].iloc[1])
    assert t["commission"].iloc[0] == pytest.approx(
        o["commission"].iloc[0] + share * o["commission"].iloc[1]
    )
    assert t["pnl"].sum() == pytest.approx(r.equity.iloc[-1] - 1000.0)


def test_pnl_of_trades_adds_up_to_equity_change_on_real_data(spy) -> None:
    from toolkit.engine import backtest

    r = backtest(
        spy,
        "sma_cross",
        {"fast": 10, "slow": 40, "allow_short": 1},
        EngineSettings(commission=ibkr_fixed(), slippage_bps=2, stop_loss=0.04),
    )
    assert r.trades["pnl"].sum() == pytest.approx(r.equity.iloc[-1] - 100_000.0, rel=1e-9)
    assert r.orders["commission"].sum() == pytest.approx(r.trades["commission"].sum(), rel=1e-9)
    assert (r.orders["quantity"] == r.orders["quantity"].round()).all()


def test_multi_symbol_weights_and_shared_cash() -> None:
    b1 = bars([(10, 10, 10, 10)] * 3)
    b2 = bars([(20, 20, 20, 20)] * 3)
    panel = pd.concat({"A": b1, "B": b2}, axis=1).swaplevel(0, 1, axis=1)
    tgt = pd.DataFrame({"A": [1.0, 1, 1], "B": [1.0, 1, 1]}, index=b1.index)
    r = simulate(panel, tgt, EngineSettings(init_cash=1000, fill="close", commission=no_costs()))
    assert list(r.orders["quantity"]) == [50.0, 25.0]  # equal sleeves of 500
    r = simulate(
        panel,
        tgt,
        EngineSettings(init_cash=1000, fill="close", commission=no_costs()),
        weights=[0.8, 0.2],
    )
    assert list(r.orders["quantity"]) == [80.0, 10.0]


def test_leverage_allows_borrowing_up_to_the_cap() -> None:
    b = bars([(10, 10, 10, 10)] * 3)
    r = run(b, [2.0, 2.0, 2.0], fill="close", max_leverage=2.0)
    assert r.orders["quantity"].iloc[0] == 200.0 and r.cash.iloc[0] == -1000.0
    r = run(b, [3.0, 3.0, 3.0], fill="close", max_leverage=2.0)
    assert r.orders["quantity"].iloc[0] == 200.0  # target clipped to the cap
