"""Session timing in the simulator over TCP: a daily bar exists from its 16:00 New York close,
market-on-open orders fill at the next open, DAY orders placed after the close work the next
session and expire with it, and the lockstep clock holds at each daily bar."""

from __future__ import annotations

import time

import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, Order, Stock

import toolkit as tk
from tests.gateway._client import wait_for
from toolkit.gateway import Gateway
from toolkit.gateway.market import session_close

DAILY = tk.load("SPY", adjust="none")


def _client(gw: Gateway, cid: int = 1) -> tuple[IB, Stock]:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=cid, timeout=5)
    [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    return ib, spy


def _last_daily(ib: IB, spy: Stock) -> object:
    bars = ib.reqHistoricalData(spy, "", "5 D", "1 day", "TRADES", True)
    return bars[-1].date


def test_a_daily_bar_appears_at_the_close_not_at_midnight() -> None:
    # 2023-03-10 is a Friday in New York winter time: the close is 21:00 UTC
    with Gateway(port=0, start="2023-03-10 20:59", speed=1.0) as gw:
        ib, spy = _client(gw)
        try:
            assert str(_last_daily(ib, spy)) == "2023-03-09"
            gw.advance("2min")
            assert str(_last_daily(ib, spy)) == "2023-03-10"
        finally:
            ib.disconnect()


def test_market_on_open_fills_at_the_next_open_with_slippage() -> None:
    with Gateway(
        port=0, start="2023-03-10 21:30", speed=1.0, slippage_bps=2.0, participation=0.0
    ) as gw:
        ib, spy = _client(gw)
        try:
            order = Order(action="BUY", totalQuantity=50, orderType="MKT", tif="OPG")
            trade = ib.placeOrder(spy, order)
            wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
            ib.sleep(0.3)
            assert trade.orderStatus.filled == 0  # Friday evening: nothing to fill against
            gw.advance("3D")  # Monday's bar exists
            wait_for(ib, lambda: trade.orderStatus.status == "Filled")
            monday_open = float(DAILY.loc["2023-03-13", "open"])
            assert trade.fills[0].execution.price == pytest.approx(monday_open * 1.0002, abs=1e-6)
            assert pd.Timestamp(trade.fills[0].execution.time).date().isoformat() == "2023-03-13"
            bad = ib.placeOrder(
                spy,
                Order(action="BUY", totalQuantity=1, orderType="STP", auxPrice=999.0, tif="OPG"),
            )
            wait_for(ib, lambda: bad.orderStatus.status in ("Cancelled", "Inactive"))
            assert any("OPG" in e.message for e in bad.log)
        finally:
            ib.disconnect()


def test_day_order_after_the_close_works_the_next_session_then_expires() -> None:
    with Gateway(port=0, start="2023-03-10 21:30", speed=1.0) as gw:
        ib, spy = _client(gw)
        try:
            low = float(DAILY.loc["2023-03-13", "low"])
            never = ib.placeOrder(spy, LimitOrder("BUY", 10, round(low - 5.0, 2)))
            fills = ib.placeOrder(spy, LimitOrder("BUY", 10, round(low + 0.5, 2)))
            wait_for(ib, lambda: never.orderStatus.status == "Submitted")
            gw.advance("3D")  # Monday's session is over
            wait_for(ib, lambda: never.orderStatus.status == "Cancelled")
            wait_for(ib, lambda: fills.orderStatus.status == "Filled")
            assert fills.fills[0].execution.price == pytest.approx(round(low + 0.5, 2))
        finally:
            ib.disconnect()


def test_lockstep_holds_the_clock_at_each_daily_close_until_resumed() -> None:
    with Gateway(
        port=0, start="2023-03-10 21:30", speed=8_640_000.0, paused=True, lockstep=True
    ) as gw:
        ib, spy = _client(gw)
        try:
            bars = ib.reqHistoricalData(spy, "", "5 D", "1 day", "TRADES", True, keepUpToDate=True)
            assert gw.paused and str(bars[-1].date) == "2023-03-10"
            for day in ("2023-03-13", "2023-03-14", "2023-03-15"):
                gw.resume()
                wait_for(ib, lambda d=day: str(bars[-1].date) == d)
                assert gw.paused  # held at exactly that day's close, whatever the speed
                assert gw.state.clock.now() == session_close(pd.Timestamp(day, tz="UTC"))
        finally:
            ib.disconnect()


def test_dropped_clients_reconnect_to_the_same_book() -> None:
    with Gateway(port=0, start="2023-03-10 21:30", speed=1.0) as gw:
        ib, spy = _client(gw, 3)
        trade = ib.placeOrder(spy, LimitOrder("BUY", 10, 100.0))
        wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
        gw.drop_clients()
        time.sleep(0.5)
        ib.disconnect()
        again = IB()
        again.connect("127.0.0.1", gw.port, clientId=3, timeout=5)
        try:
            assert [t.order.lmtPrice for t in again.openTrades()] == [100.0]
        finally:
            again.disconnect()


def test_market_on_open_placed_after_the_open_works_the_next_session() -> None:
    # 2023-03-10 17:04 UTC is 12:04 New York: that morning's 09:30 auction is over
    with Gateway(port=0, start="2023-03-10 17:04", speed=1.0, participation=0.0) as gw:
        ib, spy = _client(gw)
        try:
            order = Order(action="BUY", totalQuantity=5, orderType="MKT", tif="OPG")
            trade = ib.placeOrder(spy, order)
            wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
            gw.advance("5h")  # past Friday's close: its daily bar (and its open) now exist
            ib.sleep(0.5)
            assert trade.orderStatus.filled == 0  # never at a price from before it existed
            gw.advance("3D")  # Monday's session
            wait_for(ib, lambda: trade.orderStatus.status == "Filled")
            fill = trade.fills[0].execution
            assert fill.price == pytest.approx(float(DAILY.loc["2023-03-13", "open"]))
            assert pd.Timestamp(fill.time).date().isoformat() == "2023-03-13"
        finally:
            ib.disconnect()


def test_market_on_open_placed_after_the_open_intraday_waits_for_the_next_open() -> None:
    # 2024-03-14 13:30:30 UTC is 09:30:30 New York, inside the SPY minute file: too late
    with Gateway(port=0, start="2024-03-14 13:30:30", speed=3000.0) as gw:
        ib, spy = _client(gw)
        try:
            trade = ib.placeOrder(
                spy, Order(action="BUY", totalQuantity=1, orderType="MKT", tif="OPG")
            )
            wait_for(ib, lambda: trade.orderStatus.status in ("PreSubmitted", "Submitted"))
            ib.sleep(0.2)  # ~10 simulated minutes of the 14th's session: it does not fill there
            assert trade.orderStatus.filled == 0
            gw.advance("23h45m")  # to 09:25 on the 15th, not waiting out the night at 3000x
            wait_for(ib, lambda: trade.orderStatus.status == "Filled", seconds=60)
            fill = trade.fills[0].execution
            when = pd.Timestamp(fill.time).tz_convert("America/New_York")
            assert when.date().isoformat() == "2024-03-15" and when.strftime("%H:%M") == "09:30"
        finally:
            ib.disconnect()


def test_an_early_close_day_ends_at_13_00_new_york() -> None:
    # Christmas Eve 2024 (a Tuesday) closes at 13:00 New York, 18:00 UTC; Christmas Day has
    # no session, so the next one is Thursday 2024-12-26
    with Gateway(port=0, start="2024-12-24 17:59", speed=1.0, participation=0.0) as gw:
        ib, spy = _client(gw)
        try:
            assert str(_last_daily(ib, spy)) == "2024-12-23"
            gw.advance("2min")
            assert str(_last_daily(ib, spy)) == "2024-12-24"  # at 13:00, not at 16:00
            # after the close a market order gets the session's last price, not Monday's
            market = ib.placeOrder(spy, Order(action="BUY", totalQuantity=1, orderType="MKT"))
            wait_for(ib, lambda: market.orderStatus.status == "Filled")
            assert market.fills[0].execution.price == pytest.approx(
                float(DAILY.loc["2024-12-24", "close"])
            )
            # DAY orders placed after the early close work the next session, then expire
            thursday = DAILY.loc["2024-12-26"]
            fills = ib.placeOrder(spy, LimitOrder("BUY", 10, round(thursday["low"] + 0.9, 2)))
            never = ib.placeOrder(spy, LimitOrder("BUY", 10, round(thursday["low"] - 1.0, 2)))
            wait_for(ib, lambda: never.orderStatus.status == "Submitted")
            ib.sleep(0.3)
            assert fills.orderStatus.filled == 0  # not at Monday's 594.69 close, before it
            gw.advance("3D")  # Thursday's session is over
            wait_for(ib, lambda: fills.orderStatus.status == "Filled")
            wait_for(ib, lambda: never.orderStatus.status == "Cancelled")
            fill = fills.fills[0].execution
            assert fill.price == pytest.approx(round(thursday["low"] + 0.9, 2))
            assert pd.Timestamp(fill.time).date().isoformat() == "2024-12-26"
        finally:
            ib.disconnect()
