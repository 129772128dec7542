"""Orders through the simulator with the real ib_async client: fills follow the engine's
fill rules and IBKR commission model, checked against the data file bar by bar."""

from __future__ import annotations

import contextlib
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, MarketOrder, Order, Stock, StopOrder

import toolkit as tk
from toolkit.engine.fills import limit_fill_nb, stop_fill_nb
from toolkit.gateway import Gateway

START = "2024-03-14 14:00"  # inside the SPY 1-minute file, 09:00 New York
MINUTE = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"


@pytest.fixture()
def gw():
    with Gateway(port=0, start=START, speed=600) as g:  # ten simulated minutes per second
        yield g


@pytest.fixture(scope="module")
def minute() -> pd.DataFrame:
    return tk.load(MINUTE)


def _wait(ib: IB, cond, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if cond():
            return
        ib.sleep(0.05)
    raise AssertionError("condition not met in time")


def _client(gw: Gateway, cid: int = 1) -> tuple[IB, Stock]:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=cid, timeout=5)
    [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    return ib, spy


def test_market_order_fills_at_the_current_bar_with_ibkr_commission(gw, minute) -> None:
    ib, spy = _client(gw)
    try:
        trade = ib.placeOrder(spy, MarketOrder("BUY", 100))
        _wait(
            ib,
            lambda: (
                trade.orderStatus.status == "Filled"
                and trade.fills
                and trade.fills[0].commissionReport.commission > 0
            ),
        )
        fill = trade.fills[0]
        t = pd.Timestamp(fill.execution.time)
        bar = minute[minute.index <= t].iloc[-1]  # the last completed bar at the fill time
        assert fill.execution.price == pytest.approx(bar["close"])
        assert fill.execution.shares == 100 and fill.execution.side == "BOT"
        assert fill.commissionReport.commission == pytest.approx(
            tk.ibkr_fixed().cost(100, bar["close"])
        )
        _wait(ib, lambda: ib.positions() and ib.positions()[0].position == 100)
        assert ib.positions()[0].avgCost == pytest.approx(
            bar["close"] + fill.commissionReport.commission / 100
        )
        _wait(
            ib,
            lambda: any(
                v.tag == "TotalCashValue" and float(v.value) < 1_000_000 - 50_000
                for v in ib.accountValues()
            ),
        )
    finally:
        ib.disconnect()


def _expected_fill(order, minute: pd.DataFrame, kind: str, level: float) -> float:
    """The engine's answer: the current price if marketable on arrival, else the first later
    bar whose range reaches ``level`` (gaps fill at the open)."""
    side = 1.0 if order.action == "BUY" else -1.0
    close = float(minute.loc[order.placed_bar, "close"])
    marketable = side * (level - close) >= 0 if kind == "LMT" else side * (close - level) >= 0
    if marketable:
        return close
    fn = limit_fill_nb if kind == "LMT" else stop_fill_nb
    for b in minute[minute.index > order.placed_bar].itertuples():
        price = fn(side, level, b.open, b.high, b.low)
        if not np.isnan(price):
            return float(price)
    raise AssertionError("never reached")


def test_limit_and_stop_orders_fill_by_the_engine_rules(gw, minute) -> None:
    ib, spy = _client(gw)
    try:
        now = gw.state.clock.now()
        ahead = minute[(minute.index > now) & (minute.index <= now + pd.Timedelta(minutes=60))]
        level = round(float(ahead["low"].min()) + 0.05, 2)  # reached within the next hour
        lmt = ib.placeOrder(spy, LimitOrder("BUY", 10, level))
        stp = ib.placeOrder(spy, StopOrder("SELL", 10, level))
        _wait(
            ib,
            lambda: lmt.orderStatus.status == "Filled" and stp.orderStatus.status == "Filled",
            seconds=15,
        )
        for trade, kind in ((lmt, "LMT"), (stp, "STP")):
            sim = gw.state.book.orders[(1, trade.order.orderId)]
            expected = _expected_fill(sim, minute, kind, level)
            assert trade.fills[0].execution.price == pytest.approx(expected)
            if kind == "LMT":
                assert trade.fills[0].execution.price <= level + 1e-9  # never worse than the limit
    finally:
        ib.disconnect()


def test_cancel_modify_global_cancel_and_rejections(gw) -> None:
    ib, spy = _client(gw)
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req, code, msg, contract: errors.append((req, code))
    try:
        far = ib.placeOrder(spy, LimitOrder("BUY", 5, 100.00))
        _wait(ib, lambda: far.orderStatus.status == "Submitted")
        far.order.lmtPrice = 101.00
        ib.placeOrder(spy, far.order)  # modify in place
        _wait(ib, lambda: gw.state.book.orders[(1, far.order.orderId)].lmt_price == 101.0)
        ib.cancelOrder(far.order)
        _wait(ib, lambda: far.orderStatus.status == "Cancelled")
        assert (far.order.orderId, 202) in errors
        a = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.00))
        b = ib.placeOrder(spy, StopOrder("BUY", 1, 9999.00))
        _wait(ib, lambda: a.orderStatus.status == b.orderStatus.status == "Submitted")
        ib.reqGlobalCancel()
        _wait(ib, lambda: a.orderStatus.status == b.orderStatus.status == "Cancelled")
        rejected = {
            "zero": ib.placeOrder(spy, MarketOrder("BUY", 0)),
            "tick": ib.placeOrder(spy, LimitOrder("BUY", 1, 100.005)),
            "type": ib.placeOrder(
                spy, Order(action="BUY", totalQuantity=1, orderType="REL", auxPrice=1.0)
            ),
            "symbol": ib.placeOrder(Stock("ZZZZ", "SMART", "USD", conId=1), MarketOrder("BUY", 1)),
        }
        _wait(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in rejected.values()))
        codes = {code for _, code in errors}
        assert {201, 110, 200} <= codes
    finally:
        ib.disconnect()


def test_reconnect_sees_executions_and_fresh_order_ids(gw) -> None:
    ib, spy = _client(gw, 5)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 20, orderRef="sma-SPY-1"))
    _wait(ib, lambda: trade.orderStatus.status == "Filled")
    working = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.00, orderRef="sma-SPY-2"))
    _wait(ib, lambda: working.orderStatus.status == "Submitted")
    used = working.order.orderId
    ib.disconnect()
    again = IB()
    again.connect("127.0.0.1", gw.port, clientId=5, timeout=5)
    try:
        fills = again.fills()
        assert [f.execution.shares for f in fills] == [20]
        assert fills[0].commissionReport.commission > 0
        assert fills[0].execution.orderRef == "sma-SPY-1"  # how a restart reconciles
        assert [(t.order.orderId, t.order.orderRef) for t in again.openTrades()] == [
            (used, "sma-SPY-2")
        ]
        assert again.client.getReqId() > used  # never reuses an order id
        assert again.positions()[0].position == 20
    finally:
        again.disconnect()


def _trail_expected(
    sim, minute: pd.DataFrame, amount: float | None, percent: float | None
) -> float:
    """Sell trailing stop: check the bar against the stop, then trail the stop to the bar's
    high (the engine's order); a hit fills at the stop, or at the open on a gap."""
    close = float(minute.loc[sim.placed_bar, "close"])
    gap = (lambda best: best * percent / 100) if percent is not None else (lambda best: amount)
    stop = round(close - gap(close), 6)
    for b in minute[minute.index > sim.placed_bar].itertuples():
        hit = stop_fill_nb(-1.0, stop, b.open, b.high, b.low)
        if not np.isnan(hit):
            return float(hit)
        stop = max(stop, round(b.high - gap(b.high), 6))
    raise AssertionError("never hit")


@pytest.mark.parametrize(("amount", "percent"), [(0.20, None), (None, 0.05)])
def test_trailing_stop_amount_and_percent(gw, minute, amount, percent) -> None:
    ib, spy = _client(gw)
    try:
        buy = ib.placeOrder(spy, MarketOrder("BUY", 10))
        _wait(ib, lambda: buy.orderStatus.status == "Filled")
        order = Order(action="SELL", totalQuantity=10, orderType="TRAIL")
        if percent is None:
            order.auxPrice = amount
        else:
            order.trailingPercent = percent
        trail = ib.placeOrder(spy, order)
        _wait(ib, lambda: trail.orderStatus.status == "Filled", seconds=20)
        sim = gw.state.book.orders[(1, trail.order.orderId)]
        assert trail.fills[0].execution.price == pytest.approx(
            _trail_expected(sim, minute, amount, percent)
        )
    finally:
        ib.disconnect()


def test_stop_limit_order(gw, minute) -> None:
    from ib_async import StopLimitOrder

    ib, spy = _client(gw)
    try:
        now = gw.state.clock.now()
        ahead = minute[(minute.index > now) & (minute.index <= now + pd.Timedelta(minutes=60))]
        stop = round(float(ahead["low"].min()) + 0.10, 2)
        limit = round(stop - 0.05, 2)
        trade = ib.placeOrder(spy, StopLimitOrder("SELL", 10, limit, stop))
        _wait(ib, lambda: trade.orderStatus.status == "Filled", seconds=20)
        sim = gw.state.book.orders[(1, trade.order.orderId)]
        price = trade.fills[0].execution.price
        assert price >= limit - 1e-9  # never below the limit
        # independent replay: trigger by the stop rule, then fill within the limit
        triggered, expected = False, None
        close = float(minute.loc[sim.placed_bar, "close"])
        if close <= stop:
            triggered = True
            expected = close if close >= limit else None
        for b in minute[minute.index > sim.placed_bar].itertuples():
            if expected is not None:
                break
            if not triggered:
                trig = stop_fill_nb(-1.0, stop, b.open, b.high, b.low)
                if np.isnan(trig):
                    continue
                triggered = True
                if trig >= limit:
                    expected = float(trig)
                continue
            fill = limit_fill_nb(-1.0, limit, b.open, b.high, b.low)
            if not np.isnan(fill):
                expected = float(fill)
        assert price == pytest.approx(expected)
    finally:
        ib.disconnect()


def test_bracket_order_parent_then_one_exit_cancels_the_other(gw, minute) -> None:
    ib, spy = _client(gw)
    try:
        price = float(minute[minute.index <= gw.state.clock.now()]["close"].iloc[-1])
        parent, take, stop = ib.bracketOrder(
            "BUY",
            10,
            round(price + 1.00, 2),
            takeProfitPrice=round(price + 0.40, 2),
            stopLossPrice=round(price - 0.40, 2),
        )
        trades = [ib.placeOrder(spy, o) for o in (parent, take, stop)]
        _wait(ib, lambda: trades[0].orderStatus.status == "Filled")  # marketable parent
        _wait(
            ib,
            lambda: {t.orderStatus.status for t in trades[1:]} == {"Filled", "Cancelled"},
            seconds=30,
        )
        exit_trade = next(t for t in trades[1:] if t.orderStatus.status == "Filled")
        assert exit_trade.fills[0].execution.side == "SLD"
        _wait(ib, lambda: not ib.positions() or ib.positions()[0].position == 0)
    finally:
        ib.disconnect()


def test_staged_children_wait_and_cancelling_the_parent_cancels_them(gw) -> None:
    ib, spy = _client(gw)
    try:
        parent, take, stop = ib.bracketOrder(
            "BUY", 5, 100.00, takeProfitPrice=120.00, stopLossPrice=90.00
        )  # parent far below market
        trades = [ib.placeOrder(spy, o) for o in (parent, take, stop)]
        _wait(
            ib,
            lambda: (
                trades[0].orderStatus.status == "Submitted"
                and trades[2].orderStatus.status == "PreSubmitted"
            ),
        )
        ib.sleep(0.5)
        assert [t.orderStatus.status for t in trades[1:]] == ["PreSubmitted", "PreSubmitted"]
        ib.cancelOrder(parent)
        _wait(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades))
    finally:
        ib.disconnect()


def test_oca_group_fill_cancels_the_others(gw, minute) -> None:
    ib, spy = _client(gw)
    try:
        price = float(minute[minute.index <= gw.state.clock.now()]["close"].iloc[-1])
        a = LimitOrder("BUY", 1, round(price + 0.50, 2))  # marketable: fills at once
        b = LimitOrder("BUY", 1, round(price - 5.00, 2))
        for o in (a, b):
            o.ocaGroup, o.ocaType = "entry-1", 1
        ta, tb = ib.placeOrder(spy, b), ib.placeOrder(spy, a)
        _wait(
            ib, lambda: tb.orderStatus.status == "Filled" and ta.orderStatus.status == "Cancelled"
        )
    finally:
        ib.disconnect()


def test_large_order_fills_in_parts_within_the_participation_limit(minute) -> None:
    gw = Gateway(port=0, start=START, speed=600, participation=0.001).start()
    ib, spy = _client(gw)
    try:
        size = 1_500  # more than 0.1% of a minute's volume: several bars' worth
        trade = ib.placeOrder(spy, MarketOrder("BUY", size))
        _wait(ib, lambda: trade.orderStatus.status == "Filled", seconds=30)
        fills = trade.fills
        assert len(fills) > 1 and sum(f.execution.shares for f in fills) == size
        for f in fills:  # each part at most 10% of its bar's volume
            t = pd.Timestamp(f.execution.time)
            sim = gw.state.book.orders[(1, trade.order.orderId)]
            assert (
                f.execution.shares
                <= max(1, int(0.001 * minute[minute.index <= t]["volume"].iloc[-1]))
                or t == sim.placed_bar
            )
        assert fills[-1].execution.cumQty == size
        avg = sum(f.execution.shares * f.execution.price for f in fills) / size
        assert trade.orderStatus.avgFillPrice == pytest.approx(avg)
    finally:
        ib.disconnect()
        gw.stop()


def test_day_orders_expire_gtc_orders_stay() -> None:
    with Gateway(port=0, start="2024-03-14 19:30", speed=3000) as g:  # 15:30 NY, 50 min/s
        ib, spy = _client(g)
        try:
            day = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.00))
            gtc_order = LimitOrder("BUY", 1, 100.00)
            gtc_order.tif = "GTC"
            gtc = ib.placeOrder(spy, gtc_order)
            _wait(ib, lambda: day.orderStatus.status == "Cancelled", seconds=20)
            assert gtc.orderStatus.status == "Submitted"
        finally:
            ib.disconnect()


def test_orders_beyond_buying_power_are_rejected(gw) -> None:
    ib, spy = _client(gw)
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req, code, msg, contract: errors.append((code, msg))
    try:
        huge = ib.placeOrder(spy, MarketOrder("BUY", 10_000))  # ~5M USD on a 1M account
        _wait(ib, lambda: huge.orderStatus.status == "Cancelled")
        assert errors and errors[0][0] == 201 and "MUST EXCEED THE INITIAL MARGIN" in errors[0][1]
        ok = ib.placeOrder(spy, MarketOrder("BUY", 5_000))  # ~2.6M: inside 4x equity
        _wait(ib, lambda: ok.orderStatus.status == "Filled", seconds=20)
    finally:
        ib.disconnect()


def test_a_client_vanishing_mid_order_leaves_consistent_state(gw, minute) -> None:
    ib, spy = _client(gw, 9)
    price = float(minute[minute.index <= gw.state.clock.now()]["close"].iloc[-1])
    working = ib.placeOrder(spy, LimitOrder("BUY", 3, round(price - 3.00, 2)))
    _wait(ib, lambda: working.orderStatus.status == "Submitted")
    ib.client.conn.transport.abort()  # the socket dies, no goodbye
    with contextlib.suppress(ConnectionError):
        ib.sleep(0.1)  # let the client's loop actually close the socket
    for _ in range(100):  # the gateway runs on its own thread: plain polling suffices
        if 9 not in gw.state.sessions:
            break
        time.sleep(0.05)
    assert 9 not in gw.state.sessions
    again = IB()
    again.connect("127.0.0.1", gw.port, clientId=9, timeout=5)
    try:
        open_ids = [t.order.orderId for t in again.openTrades()]
        assert working.order.orderId in open_ids  # still working on the server
        sim = gw.state.book.orders[(9, working.order.orderId)]
        assert sim.status == "Submitted" and sim.filled == 0
    finally:
        again.disconnect()


def test_positions_book_by_the_engines_average_cost_plus_ibs_commission_in_avg_cost() -> None:
    from toolkit.gateway.orders import Book, SimOrder

    book = Book(commission=tk.ibkr_fixed())
    when = pd.Timestamp("2024-03-14 14:00", tz="UTC")

    def fill(action: str, qty: float, price: float) -> tuple[float, float | None]:
        o = SimOrder(1, len(book.orders) + 1, 1, "SPY", 1, action, qty, "MKT", None, None,
                     "DAY", "", 0)  # fmt: skip
        book.orders[(1, o.order_id)] = o
        f = book.fill(o, price, when)
        return f.commission, f.realized

    f1, r1 = fill("BUY", 100, 10.0)
    pos = book.positions["SPY"]
    assert (pos.quantity, r1) == (100.0, None)
    assert pos.avg_cost == pytest.approx(10.0 + f1 / 100)  # IB: avgCost carries the fee
    f2, _ = fill("BUY", 100, 12.0)
    avg2 = (100 * (10.0 + f1 / 100) + 100 * 12.0 + f2) / 200
    assert pos.avg_cost == pytest.approx(avg2)
    f3, r3 = fill("SELL", 300, 14.0)  # flip: closes 200, opens 100 short at 14
    assert (pos.quantity, pos.avg_cost) == (-100.0, 14.0)
    assert r3 == pytest.approx(200 * (14.0 - avg2) - f3)
    f4, r4 = fill("BUY", 100, 13.0)  # cover at a profit of 1 a share
    assert (pos.quantity, pos.avg_cost) == (0.0, 0.0)
    assert r4 == pytest.approx(100.0 - f4)
    assert pos.realized == pytest.approx(r3 + r4)
    # flat again: the realised P&L (the opening fees came in through avgCost) is the cash
    assert pos.realized == pytest.approx(book.cash)
