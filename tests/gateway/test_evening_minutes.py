"""Orders placed after the close while the SPY minute file runs: its extended-hours minute
bar of 19:00 New York is stamped midnight UTC in winter (EST), the stamp of a daily bar. The
exchange took it for one: a DAY order placed after the close (e.g. an IB Vwap for the next
morning) was cancelled at 19:00 as "the daily bar is a whole session" before its session began, and a market-on-open order filled at
that evening minute's open instead of the next 09:30 auction."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, MarketOrder, Stock, TagValue

import toolkit as tk
from tests.gateway._client import wait_for
from toolkit.gateway import Gateway

AFTER_CLOSE = "2024-02-21 21:30"  # Wednesday 16:30 EST; 19:00 EST is 2024-02-22 00:00 UTC
NEXT_OPEN = pd.Timestamp("2024-02-22 14:30", tz="UTC")  # Thursday 09:30 EST
MINUTE = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"


@pytest.fixture(scope="module")
def minute() -> pd.DataFrame:
    return tk.load(MINUTE, adjust="none")


def _place(order, minute: pd.DataFrame):  # type: ignore[no-untyped-def]
    # four simulated hours a second: from 16:30 through the next morning in a few seconds
    with Gateway(port=0, start=AFTER_CLOSE, speed=14_400, paused=True) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            trade = ib.placeOrder(spy, order)
            wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
            gw.resume()
            wait_for(ib, lambda: trade.orderStatus.status in ("Filled", "Cancelled"), 60)
            ib.sleep(0.2)
            return trade
        finally:
            ib.disconnect()


def test_market_on_open_fills_at_the_next_930_open_not_the_evening_minute(minute) -> None:
    assert pd.Timestamp("2024-02-22 00:00", tz="UTC") in minute.index  # the bar in question
    order = MarketOrder("BUY", 100)
    order.tif = "OPG"
    trade = _place(order, minute)
    assert trade.orderStatus.status == "Filled"
    [fill] = trade.fills
    assert pd.Timestamp(fill.execution.time) == NEXT_OPEN
    assert fill.execution.price == pytest.approx(minute.loc[NEXT_OPEN, "open"])


def test_a_day_vwap_placed_after_the_close_works_its_window_the_next_session(minute) -> None:
    order = MarketOrder("BUY", 300, tif="DAY")
    order.algoStrategy = "Vwap"
    order.algoParams = [
        TagValue("maxPctVol", "0.1"),
        TagValue("startTime", "20240222 10:00:00 US/Eastern"),
        TagValue("endTime", "20240222 10:10:00 US/Eastern"),
    ]
    trade = _place(order, minute)
    assert trade.orderStatus.status == "Filled"
    times = [pd.Timestamp(f.execution.time) for f in trade.fills]
    assert len(times) > 1 and sum(f.execution.shares for f in trade.fills) == 300
    start, end = (
        pd.Timestamp("2024-02-22 15:00", tz="UTC"),
        pd.Timestamp("2024-02-22 15:10", tz="UTC"),
    )
    assert all(start <= t < end for t in times)


def test_a_resting_limit_works_only_in_regular_hours(minute) -> None:
    """IB works an order in the regular session unless it is flagged outsideRth: a buy limit
    placed after the close that the evening's and next morning's pre-market minutes trade
    through (the simulator filled it at 16:3x) fills from 09:30 on, at a regular minute's
    price."""
    evening = minute.loc["2024-02-21 21:31":"2024-02-22 14:29"]
    regular = minute.loc["2024-02-22 14:30":"2024-02-22 15:00"]
    limit = round(float(regular["low"].min()) + 0.01, 2)
    assert float(evening["low"].min()) < limit  # outside hours it traded below the limit
    trade = _place(LimitOrder("BUY", 100, limit, tif="DAY"), minute)
    assert trade.orderStatus.status == "Filled"
    [fill] = trade.fills
    when = pd.Timestamp(fill.execution.time)
    assert NEXT_OPEN <= when <= pd.Timestamp("2024-02-22 15:00", tz="UTC")
    bar = minute.loc[when]
    assert fill.execution.price == pytest.approx(min(limit, float(bar["open"])))
