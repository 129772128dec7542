"""Orders on the depth-replayed symbol fill against the replayed LOBSTER book (issue 20.6,
toolkit.gateway._book_fills): the real ib_async client over TCP, a hand-made ten-event tape
whose every fill is worked out by hand from its book rows below."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, MarketOrder, Order, Stock, StopOrder

from toolkit.gateway import Gateway
from toolkit.gateway.depth_replay import DepthReplay, ReplayTape

from ._client import wait_for

E = -9_999_999_999  # LOBSTER's price of an empty bid level
# (type, size, price x 1e4, direction) and the two-level book after it:
# ask1, ask1 size, bid1, bid1 size, ask2, ask2 size, bid2, bid2 size
EVENTS = [
    ((1, 300, 100_000, 1), (100_200, 100, 100_000, 300, 100_300, 200, 99_900, 400)),  # E0
    ((1, 50, 100_100, 1), (100_200, 100, 100_100, 50, 100_300, 200, 100_000, 300)),  # E1 bid 10.01
    ((4, 40, 100_100, 1), (100_200, 100, 100_100, 10, 100_300, 200, 100_000, 300)),  # E2 sold 40
    ((4, 100, 100_200, -1), (100_300, 200, 100_100, 10, 100_400, 500, 100_000, 300)),  # E3 ask gone
    ((3, 10, 100_100, 1), (100_300, 200, 100_000, 300, 100_400, 500, 99_900, 400)),  # E4 deleted
    ((4, 250, 100_000, 1), (100_300, 200, 100_000, 50, 100_400, 500, 99_900, 400)),  # E5 sold 250
    ((1, 100, 100_000, 1), (100_300, 200, 100_000, 150, 100_400, 500, 99_900, 400)),  # E6 joins
    ((4, 80, 100_000, 1), (100_300, 200, 100_000, 70, 100_400, 500, 99_900, 400)),  # E7 sold 80
    ((4, 70, 100_000, 1), (100_300, 200, 99_900, 400, 100_400, 500, E, 0)),  # E8 10.00 gone
    ((4, 60, 99_900, 1), (100_300, 200, 99_900, 340, 100_400, 500, E, 0)),  # E9 sold 60 at 9.99
]


def _tape(symbol: str = "ZTST") -> ReplayTape:
    msg = np.array([e[0] for e in EVENTS], dtype=np.int64)
    return ReplayTape(
        symbol,
        "2012-06-21",
        2,
        np.arange(1.0, len(EVENTS) + 1.0),  # event k at second k + 1: due k s after the start
        msg[:, 0].astype(np.int8),
        msg[:, 1],
        msg[:, 2],
        np.array([e[1] for e in EVENTS], dtype=np.int64),
        msg[:, 3].astype(np.int8),
    )


def _to(gw: Gateway, replay: DepthReplay, ib: IB, events: int) -> None:
    """Replay up to and including event ``events - 1`` (half a second past it), and let the
    matcher look at it (orders see the events replayed by the matcher's previous step)."""
    assert replay.origin is not None
    target = replay.origin + pd.Timedelta(seconds=events - 0.5)
    gw.advance(target - gw.clock.now())
    wait_for(ib, lambda: replay.cursor == events)
    book = gw.state.exchange.depth_book
    assert book is not None
    # every working order has met the events (then their fills are on their way)
    wait_for(
        ib,
        lambda: all(
            w.seen == events - 1 or w.order.status in ("Filled", "Cancelled")
            for w in book._working.values()
        ),
    )
    ib.reqCurrentTime()  # answered after every message sent before it


def _fills(ib: IB, order_id: int) -> list[tuple[float, float]]:
    return [
        (f.execution.price, f.execution.shares)
        for f in ib.fills()
        if f.execution.orderId == order_id
    ]


@pytest.fixture
def sim():
    replay = DepthReplay(_tape())
    with Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            [ztst] = ib.qualifyContracts(Stock("ZTST", "SMART", "USD"))
            yield gw, replay, ib, ztst
        finally:
            ib.disconnect()


def test_a_market_order_walks_the_levels_and_its_rest_meets_new_flow_only(sim) -> None:
    gw, replay, ib, ztst = sim
    _to(gw, replay, ib, 4)  # after E3: asks 10.03 x 200, 10.04 x 500; bids 10.01 x 10, 10.00 x 300
    buy = ib.placeOrder(ztst, MarketOrder("BUY", 300))
    wait_for(ib, lambda: buy.orderStatus.status == "Filled")
    assert _fills(ib, buy.order.orderId) == [(10.03, 200.0), (10.04, 100.0)]
    assert buy.orderStatus.avgFillPrice == pytest.approx((200 * 10.03 + 100 * 10.04) / 300)
    # IBKR fixed: 0.005/share, USD 1 minimum per execution: 1.00 + 1.00
    assert sum(f.commissionReport.commission for f in buy.fills) == pytest.approx(2.0)
    sell = ib.placeOrder(ztst, MarketOrder("SELL", 400))
    wait_for(ib, lambda: sell.orderStatus.filled == 310)
    assert _fills(ib, sell.order.orderId) == [(10.01, 10.0), (10.0, 300.0)]
    _to(gw, replay, ib, 6)  # E4 (a delete) and E5 (a seller at 10.00): no new offer to it
    assert sell.orderStatus.filled == 310 and sell.orderStatus.status == "Submitted"
    _to(gw, replay, ib, 7)  # E6: a buy order of 100 at 10.00 arrives -- the rest meets it
    wait_for(ib, lambda: sell.orderStatus.status == "Filled")
    assert _fills(ib, sell.order.orderId)[-1] == (10.0, 90.0)
    [pos] = ib.positions()
    assert pos.position == -100  # 300 bought, 400 sold
    # marked at the replayed book's mid, not at bars (ZTST has none): (10.03 + 10.00) / 2
    assert gw.state.exchange.price("ZTST") == pytest.approx(10.015)


def test_a_marketable_limit_takes_to_its_limit_and_rests_a_resting_one_queues(sim) -> None:
    gw, replay, ib, ztst = sim
    _to(gw, replay, ib, 2)  # after E1: bids 10.01 x 50, 10.00 x 300 -- 300 ahead of us at 10.00
    queued = ib.placeOrder(ztst, LimitOrder("BUY", 100, 10.00))
    stop = ib.placeOrder(ztst, StopOrder("SELL", 100, 10.00))
    ib.sleep(0.3)
    assert queued.orderStatus.filled == 0 and stop.orderStatus.filled == 0
    _to(gw, replay, ib, 4)  # after E3: asks 10.03 x 200, 10.04 x 500
    taker = ib.placeOrder(ztst, LimitOrder("BUY", 300, 10.03))
    wait_for(ib, lambda: taker.orderStatus.filled == 200)
    assert _fills(ib, taker.order.orderId) == [(10.03, 200.0)]  # 10.04 is beyond its limit
    assert stop.orderStatus.filled == 0  # E2 traded at 10.01: above the stop
    _to(gw, replay, ib, 6)
    # E5: a seller hit 10.00 below our resting 10.03 bid -- he would have met it: its 100
    wait_for(ib, lambda: taker.orderStatus.status == "Filled")
    assert _fills(ib, taker.order.orderId)[-1] == (10.03, 100.0)
    # and E5 traded at 10.00: the stop triggers and sells into E5's bids, 50 + 50
    assert _fills(ib, stop.order.orderId) == [(10.0, 50.0), (9.99, 50.0)]
    # the queue at 10.00: 300 ahead, E5's 250 leave 50 ahead
    assert queued.orderStatus.filled == 0
    _to(gw, replay, ib, 7)  # E6 joins behind us
    assert queued.orderStatus.filled == 0
    _to(gw, replay, ib, 8)  # E7 executes 80: 50 ahead, then 30 of ours
    wait_for(ib, lambda: queued.orderStatus.filled == 30)
    _to(gw, replay, ib, 9)  # E8 executes the level's last 70: ours
    wait_for(ib, lambda: queued.orderStatus.status == "Filled")
    assert _fills(ib, queued.order.orderId) == [(10.0, 30.0), (10.0, 70.0)]


def test_immediate_orders_and_the_replayed_days_end(sim) -> None:
    gw, replay, ib, ztst = sim
    _to(gw, replay, ib, 4)
    fok = ib.placeOrder(ztst, Order(action="BUY", totalQuantity=800, orderType="MKT", tif="FOK"))
    wait_for(ib, lambda: fok.orderStatus.status == "Cancelled")
    assert _fills(ib, fok.order.orderId) == []  # 700 shown: not all of it
    ioc = ib.placeOrder(
        ztst, Order(action="SELL", totalQuantity=400, orderType="LMT", lmtPrice=10.0, tif="IOC")
    )
    wait_for(ib, lambda: ioc.orderStatus.status == "Cancelled")
    assert _fills(ib, ioc.order.orderId) == [(10.01, 10.0), (10.0, 300.0)]
    day = ib.placeOrder(ztst, LimitOrder("BUY", 100, 9.00))  # far below: never reached
    gtc = ib.placeOrder(ztst, Order(action="BUY", totalQuantity=100, orderType="LMT",
                                    lmtPrice=9.00, tif="GTC"))  # fmt: skip
    _to(gw, replay, ib, 10)  # the replayed day is over: DAY orders expire, GTC ones wait
    wait_for(ib, lambda: day.orderStatus.status == "Cancelled")
    assert gtc.orderStatus.status == "Submitted"
    trail = ib.placeOrder(
        ztst, Order(action="SELL", totalQuantity=1, orderType="TRAIL", auxPrice=0.5)
    )
    refused = "Error 201, reqId {}: Order rejected - reason: trailing stops are not supported"
    wait_for(ib, lambda: any(refused.format(trail.order.orderId) in e.message for e in trail.log))
    assert trail.orderStatus.status == "Cancelled"


def test_a_replayed_symbol_with_bars_fills_on_the_book_not_its_bars(caplog) -> None:
    replay = DepthReplay(_tape("SPY"))
    with (
        caplog.at_level(logging.WARNING, "toolkit.gateway"),
        Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as gw,
    ):
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            _to(gw, replay, ib, 4)
            trade = ib.placeOrder(spy, MarketOrder("BUY", 250))
            wait_for(ib, lambda: trade.orderStatus.status == "Filled")
            assert _fills(ib, trade.order.orderId) == [(10.03, 200.0), (10.04, 50.0)]
        finally:
            ib.disconnect()
    assert any("order fills come from LOBSTER" in r.getMessage() for r in caplog.records)


def test_a_symbol_only_the_replay_has_answers_history_with_one_line(sim, caplog) -> None:
    """No bars: daily history and the head timestamp are IB's 162 with one line, not 320
    with the bar loader's message and a logged traceback."""
    _, _, ib, ztst = sim
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req, code, msg, contract: errors.append((code, msg))
    with caplog.at_level(logging.INFO, "toolkit.gateway"):
        assert not ib.reqHistoricalData(ztst, "", "5 D", "1 day", "TRADES", True)
        assert not ib.reqHeadTimeStamp(ztst, "TRADES", True)
    why = "HMDS query returned no data: ZTST has no bars, only the depth, ticks and fills"
    assert [code for code, _ in errors] == [162, 162]
    assert all(why in msg and "\n" not in msg for _, msg in errors)
    ours = [r for r in caplog.records if r.name.startswith("toolkit")]
    assert ours and not [r for r in ours if r.exc_info or r.levelno >= logging.ERROR]
