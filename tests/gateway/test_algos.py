"""IB algo orders (Twap, Vwap, Adaptive) and icebergs (displaySize) through the simulator
with the real ib_async client: the parent fills over simulated minutes in partial
executions, each at the algo's price for its bar, with IBKR commissions; bad algos are
refused on the order id (IB's 145 for a bad algo field, 201 for what is not simulated)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, MarketOrder, Option, Order, Stock, TagValue

import toolkit as tk
from tests.gateway._client import wait_for
from toolkit.engine.fills import limit_fill_nb
from toolkit.gateway import Gateway

START = "2024-03-14 14:00"  # 10:00 New York, inside the SPY 1-minute file
MINUTE = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"


@pytest.fixture(scope="module")
def minute() -> pd.DataFrame:
    return tk.load(MINUTE, adjust="none")


@pytest.fixture()
def gw():
    # ten simulated minutes a second, held at START until the test's orders are placed
    with Gateway(port=0, start=START, speed=600, paused=True) as g:
        yield g


def _client(gw: Gateway) -> tuple[IB, Stock, list[tuple[int, int, str]]]:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
    [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req, code, msg, contract: errors.append((req, code, msg))
    return ib, spy, errors


def _algo(order: Order, strategy: str, **params: str) -> Order:
    order.algoStrategy = strategy
    order.algoParams = [TagValue(k, v) for k, v in params.items()]
    return order


def _statuses(ib: IB, order_id: int) -> list[tuple[float, float]]:
    seen: list[tuple[float, float]] = []
    ib.orderStatusEvent += lambda t: (
        seen.append((t.orderStatus.filled, t.orderStatus.remaining))
        if t.order.orderId == order_id else None
    )
    return seen


def _check_fills(trade, minute: pd.DataFrame, total: float) -> pd.DataFrame:
    """The executions as a frame (time, shares, price, commission), checked against the
    parent's totals and IBKR fixed commissions."""
    rows = [
        (pd.Timestamp(f.execution.time), f.execution.shares, f.execution.price,
         f.commissionReport.commission)
        for f in trade.fills
    ]
    fills = pd.DataFrame(rows, columns=["time", "shares", "price", "commission"])
    assert fills["shares"].sum() == total == trade.orderStatus.filled
    avg = (fills["shares"] * fills["price"]).sum() / total
    assert trade.orderStatus.avgFillPrice == pytest.approx(avg, rel=1e-9)
    for r in fills.itertuples():
        assert r.commission == pytest.approx(tk.ibkr_fixed().cost(r.shares, r.price))
    return fills


def test_twap_parent_fills_over_its_window_at_each_bars_open(gw, minute) -> None:
    ib, spy, errors = _client(gw)
    try:
        order = _algo(MarketOrder("BUY", 1000), "Twap", strategyType="Marketable",
                      startTime="10:00:00 US/Eastern", endTime="20240314-14:10:00",
                      allowPastEndTime="0")
        trade = ib.placeOrder(spy, order)
        statuses = _statuses(ib, trade.order.orderId)  # events arrive in ib.sleep, after this
        wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
        gw.resume()
        wait_for(ib, lambda: trade.orderStatus.status == "Filled"
                 and len(trade.fills) >= 9 and all(f.commissionReport.commission > 0
                                                   for f in trade.fills), 20)
        fills = _check_fills(trade, minute, 1000)
        # nine window minutes (14:01 .. 14:09): slices of 112 and 111 shares, one a minute
        assert len(fills) == 9 and set(fills["shares"]) == {111.0, 112.0}
        assert list(fills["time"]) == list(pd.date_range("2024-03-14 14:01", periods=9,
                                                         freq="1min", tz="UTC"))
        for r in fills.itertuples():
            assert r.price == pytest.approx(minute.loc[r.time, "open"])
        filled = [f for f, _ in statuses]
        assert filled == sorted(filled) and len(set(filled)) >= 9
        assert all(f + rem == 1000 for f, rem in statuses)
        assert not errors
    finally:
        ib.disconnect()


def test_vwap_fills_at_bar_prices_within_max_pct_vol_and_cancels_the_rest_at_end(
    gw, minute
) -> None:
    ib, spy, errors = _client(gw)
    try:
        # two window minutes (14:01, 14:02) whose 1 % caps add up to 3,926 + 2,967 shares:
        # the cap binds in the second and the rest is cancelled at endTime
        order = _algo(MarketOrder("BUY", 7000), "Vwap", maxPctVol="0.01",
                      startTime="20240314 10:00:00 US/Eastern",
                      endTime="20240314 10:03:00 US/Eastern", allowPastEndTime="0",
                      noTakeLiq="0")
        trade = ib.placeOrder(spy, order)
        wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
        gw.resume()
        wait_for(ib, lambda: trade.orderStatus.status == "Cancelled", 20)
        ib.sleep(0.2)
        status = trade.orderStatus
        fills = _check_fills(trade, minute, status.filled)
        assert status.filled + status.remaining == 7000
        assert list(fills["time"]) == list(pd.date_range("2024-03-14 14:01", periods=2,
                                                         freq="1min", tz="UTC"))
        caps = [math.floor(0.01 * minute.loc[t, "volume"]) for t in fills["time"]]
        assert caps == [3926, 2967]
        assert (fills["shares"] <= caps).all() and fills["shares"].iloc[1] == 2967
        assert status.filled < 7000  # what the cap held back was not placed after endTime
        for r in fills.itertuples():  # the bar's typical price, toolkit.execution's VWAP proxy
            bar = minute.loc[r.time]
            assert r.price == pytest.approx((bar["high"] + bar["low"] + bar["close"]) / 3)
        wait_for(ib, lambda: ib.positions() and ib.positions()[0].position == status.filled)
        assert [code for _, code, _ in errors] == [202]  # IB's "Order Canceled" at endTime
        [done] = [t for t in ib.reqCompletedOrders(False) if t.order.permId == trade.order.permId]
        assert done.order.algoStrategy == "Vwap" and len(done.order.algoParams) == 5
    finally:
        ib.disconnect()


def test_adaptive_limit_and_iceberg(gw, minute) -> None:
    ib, spy, errors = _client(gw)
    try:
        close = float(minute.loc[pd.Timestamp(START, tz="UTC"), "close"])
        limit = round(close + 0.20, 2)
        adaptive = ib.placeOrder(spy, _algo(LimitOrder("BUY", 300, limit), "Adaptive",
                                            adaptivePriority="Patient"))
        ice = LimitOrder("BUY", 2000, limit)
        ice.displaySize = 150
        iceberg = ib.placeOrder(spy, ice)
        wait_for(ib, lambda: iceberg.fills and adaptive.orderStatus.status == "Submitted")
        # openOrder carries the algo and the display size back (a reconnecting bridge sees them)
        other = IB()
        other.connect("127.0.0.1", gw.port, clientId=2, timeout=5)
        try:  # its trades are built from the openOrder messages alone
            sent = {t.order.orderId: t.order for t in other.reqAllOpenOrders()}
        finally:
            other.disconnect()
        assert sent[adaptive.order.orderId].algoStrategy == "Adaptive"
        assert sent[adaptive.order.orderId].algoParams == [TagValue("adaptivePriority",
                                                                     "Patient")]
        assert sent[iceberg.order.orderId].displaySize == 150
        gw.resume()
        wait_for(ib, lambda: adaptive.orderStatus.status == "Filled"
                 and iceberg.orderStatus.status == "Filled", 20)
        a = _check_fills(adaptive, minute, 300)
        t0 = pd.Timestamp(START, tz="UTC")
        for r in a.itertuples():
            # toolkit.execution's adaptive limit against the previous minute's range (low =
            # bid, high = ask), capped by the order's limit, filled by the engine's limit rule
            prev, bar = minute.loc[r.time - pd.Timedelta(minutes=1)], minute.loc[r.time]
            rule = tk.execution.adaptive_limit("BUY", prev["low"], prev["high"],
                                               (r.time - t0).total_seconds(), "Patient")
            assert r.price == pytest.approx(limit_fill_nb(
                1.0, min(rule, limit), bar["open"], bar["high"], bar["low"]))
        i = _check_fills(iceberg, minute, 2000)
        assert i["shares"].max() <= 150 and len(i) >= 2000 / 150
        assert (i["price"] <= limit).all()
        assert not errors
    finally:
        ib.disconnect()


def test_bad_algo_orders_are_refused_on_their_order_id(gw) -> None:
    ib, spy, errors = _client(gw)
    try:
        bad = {
            "unknown": _algo(MarketOrder("BUY", 100), "Twapp", strategyType="Marketable"),
            "range": _algo(MarketOrder("BUY", 100), "Vwap", maxPctVol="0.9"),
            "missing": _algo(MarketOrder("BUY", 100), "Twap", endTime="11:00:00 US/Eastern"),
            "param": _algo(MarketOrder("BUY", 100), "Adaptive", maxPctVol="0.1"),
            "priority": _algo(MarketOrder("BUY", 100), "Adaptive", adaptivePriority="Fast"),
            "window": _algo(MarketOrder("BUY", 100), "Twap", strategyType="Marketable",
                            startTime="11:00:00 US/Eastern", endTime="10:30:00 US/Eastern"),
        }
        trades = {k: ib.placeOrder(spy, o) for k, o in bad.items()}
        wait_for(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades.values()))
        by_id = {req: (code, msg) for req, code, msg in errors}
        words = {"unknown": "invalid algo strategy 'Twapp'", "range": "maxPctVol '0.9' is out",
                 "missing": "needs the algo parameter strategyType",
                 "param": "invalid algo parameter 'maxPctVol' for Adaptive",
                 "priority": "adaptivePriority 'Fast'", "window": "endTime"}
        for key, trade in trades.items():
            code, msg = by_id[trade.order.orderId]
            if key == "unknown":  # a name the simulator does not work: the generic refusal
                assert code == 201 and msg.startswith("Order rejected - reason:")
            else:  # TWS's answer to an algo field it does not accept
                assert code == 145 and msg.startswith("Error in validating entry fields - ")
            assert words[key] in msg, (key, msg)
            assert not trade.fills
    finally:
        ib.disconnect()


def test_algo_on_an_option_is_refused() -> None:
    with Gateway(port=0, start="2018-01-10 22:00", paused=True) as g:
        ib = IB()
        ib.connect("127.0.0.1", g.port, clientId=1, timeout=5)
        try:
            errors: list[tuple[int, int, str]] = []
            ib.errorEvent += lambda req, code, msg, contract: errors.append((req, code, msg))
            [call] = ib.qualifyContracts(
                Option("SPX", "20180131", 2750, "C", "SMART", tradingClass="SPXW"))
            trade = ib.placeOrder(call, _algo(MarketOrder("BUY", 1), "Adaptive",
                                              adaptivePriority="Normal"))
            wait_for(ib, lambda: trade.orderStatus.status == "Cancelled")
            [(req, code, msg)] = errors
            assert (req, code) == (trade.order.orderId, 201) and "stocks only" in msg
        finally:
            ib.disconnect()


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("09:45:00 US/Eastern", "2024-03-14 13:45"),  # EDT since 2024-03-10
        ("9:45:00 EST", "2024-03-14 13:45"),  # IB's EST means New York time
        ("09:45:00", "2024-03-14 13:45"),  # no zone: New York
        ("20240315 09:45:00 US/Eastern", "2024-03-15 13:45"),
        ("20240314-14:45:00", "2024-03-14 14:45"),  # the dash form is UTC
        ("10:00:00 UTC", "2024-03-14 10:00"),
    ],
)
def test_ib_algo_times(text: str, utc: str) -> None:
    from datetime import date

    from toolkit.gateway.algos import ib_time

    assert ib_time(text, date(2024, 3, 14)) == pd.Timestamp(utc, tz="UTC")
