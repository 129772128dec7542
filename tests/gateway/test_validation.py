"""Order validation and times in force with the real ib_async client over TCP: absurd or
self-referencing orders are refused with IB's codes and break nothing (not the placing client,
not another client's global cancel); the client's encodings of infinity and UNSET parse; IOC
and FOK work with the fill model; unknown times in force are refused; a duplicate client id
gets IB's 326 at once."""

from __future__ import annotations

import math
import time

import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, MarketOrder, Order, Stock
from ib_async.util import UNSET_DOUBLE

from tests._commands import run_command
from tests.gateway._client import wait_for
from toolkit.gateway import Gateway

START = "2024-03-14 14:00"  # inside the SPY 1-minute file, 10:00 New York


@pytest.fixture()
def gw():
    with Gateway(port=0, start=START, speed=60) as g:
        yield g


def _client(gw: Gateway, cid: int) -> tuple[IB, Stock, list[tuple[int, int, str]]]:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=cid, timeout=5)
    [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req, code, msg, contract: errors.append((req, code, msg))
    return ib, spy, errors


def test_absurd_and_self_parented_orders_are_refused_and_break_no_request(gw) -> None:
    a, spy, errors = _client(gw, 1)
    b, _, _ = _client(gw, 2)
    try:
        huge = a.placeOrder(spy, LimitOrder("BUY", 1, 1.7e308))
        wait_for(a, lambda: huge.orderStatus.status == "Cancelled")
        assert (huge.order.orderId, 201) in {(r, c) for r, c, _ in errors}
        assert a.isConnected() and a.reqCurrentTime()  # no OverflowError took it down
        working = a.placeOrder(spy, LimitOrder("BUY", 1, 100.0))  # far below the market
        wait_for(a, lambda: working.orderStatus.status == "Submitted")
        working.order.parentId = working.order.orderId  # make it its own parent
        a.placeOrder(spy, working.order)
        wait_for(a, lambda: (working.order.orderId, 105) in {(r, c) for r, c, _ in errors})
        own = LimitOrder("BUY", 1, 100.0)
        own.orderId = a.client.getReqId()
        own.parentId = own.orderId
        self_parent = a.placeOrder(spy, own)
        wait_for(a, lambda: self_parent.orderStatus.status == "Cancelled")
        for _ in range(2):  # every later global cancel, from another client, still works
            b.reqGlobalCancel()
            wait_for(a, lambda w=working: w.orderStatus.status == "Cancelled")
            assert b.isConnected() and b.reqCurrentTime()
            working = a.placeOrder(spy, LimitOrder("BUY", 1, 100.0))
            wait_for(a, lambda w=working: w.orderStatus.status == "Submitted")
        a.cancelOrder(working.order)
        wait_for(a, lambda: working.orderStatus.status == "Cancelled")
    finally:
        a.disconnect()
        b.disconnect()


def test_infinite_and_unset_encodings_are_parsed_and_refused_by_order_id(gw) -> None:
    ib, spy, errors = _client(gw, 3)
    try:
        trades = {
            "inf price": ib.placeOrder(spy, LimitOrder("BUY", 1, math.inf)),  # "Infinite"
            "inf size": ib.placeOrder(spy, MarketOrder("BUY", math.inf)),
            "unset price": ib.placeOrder(spy, LimitOrder("BUY", 1, UNSET_DOUBLE)),
            "nan price": ib.placeOrder(spy, LimitOrder("BUY", 1, math.nan)),
        }
        wait_for(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades.values()))
        by_id = {r: (c, msg) for r, c, msg in errors}
        for trade in trades.values():
            code, text = by_id[trade.order.orderId]
            assert code in (201, 321) and ("price" in text or "size" in text)
        assert ib.isConnected()
    finally:
        ib.disconnect()


def test_ioc_and_fok_follow_the_fill_model_unknown_tifs_are_refused() -> None:
    # a participation limit of 0.1% of each minute's volume caps what fills at once
    with Gateway(port=0, start=START, speed=60, participation=0.001) as g:
        ib, spy, errors = _client(g, 4)
        try:
            far = ib.placeOrder(
                spy,
                Order(action="BUY", totalQuantity=1, orderType="LMT", lmtPrice=100.0, tif="IOC"),
            )
            wait_for(ib, lambda: far.orderStatus.status == "Cancelled")
            assert far.orderStatus.filled == 0
            small = ib.placeOrder(
                spy, Order(action="BUY", totalQuantity=10, orderType="MKT", tif="IOC")
            )
            wait_for(ib, lambda: small.orderStatus.status == "Filled")
            big = ib.placeOrder(
                spy, Order(action="BUY", totalQuantity=5000, orderType="MKT", tif="IOC")
            )
            wait_for(ib, lambda: big.orderStatus.status == "Cancelled")
            assert 0 < big.orderStatus.filled < 5000  # what one bar could take, the rest cancelled
            assert sum(f.execution.shares for f in big.fills) == big.orderStatus.filled
            fok_big = ib.placeOrder(
                spy, Order(action="BUY", totalQuantity=5000, orderType="MKT", tif="FOK")
            )
            wait_for(ib, lambda: fok_big.orderStatus.status == "Cancelled")
            assert fok_big.orderStatus.filled == 0 and not fok_big.fills  # all or nothing
            fok_small = ib.placeOrder(
                spy, Order(action="SELL", totalQuantity=10, orderType="MKT", tif="FOK")
            )
            wait_for(ib, lambda: fok_small.orderStatus.status == "Filled")
            ib.sleep(0.5)
            assert big.orderStatus.status == "Cancelled" and far.orderStatus.status == "Cancelled"
            odd = ib.placeOrder(
                spy, Order(action="BUY", totalQuantity=1, orderType="MKT", tif="XYZ")
            )
            gtd = ib.placeOrder(
                spy,
                Order(
                    action="BUY",
                    totalQuantity=1,
                    orderType="MKT",
                    tif="GTD",
                    goodTillDate="20240320 16:00:00 UTC",
                ),
            )
            stop_ioc = ib.placeOrder(
                spy,
                Order(action="BUY", totalQuantity=1, orderType="STP", auxPrice=999.0, tif="IOC"),
            )
            wait_for(
                ib, lambda: all(t.orderStatus.status == "Cancelled" for t in (odd, gtd, stop_ioc))
            )
            codes = {r: c for r, c, _ in errors}
            assert codes[odd.order.orderId] == 321 and codes[gtd.order.orderId] == 201
            assert codes[stop_ioc.order.orderId] == 111
            assert odd.orderStatus.filled == gtd.orderStatus.filled == 0
        finally:
            ib.disconnect()


def test_duplicate_client_id_gets_326_at_once_and_the_holder_is_untouched(gw) -> None:
    holder, _, _ = _client(gw, 5)
    try:
        dup = IB()
        got: list[tuple[int, float]] = []
        t0 = time.monotonic()
        dup.errorEvent += lambda req, code, msg, contract: got.append((code, time.monotonic()))
        with pytest.raises((TimeoutError, ConnectionError)):
            dup.connect("127.0.0.1", gw.port, clientId=5, timeout=2)
        dup.disconnect()
        assert got and got[0][0] == 326 and got[0][1] - t0 < 1.0  # long before the timeout
        assert holder.isConnected() and holder.reqCurrentTime()
    finally:
        holder.disconnect()


def test_cancel_all_command_still_works_after_an_order_was_made_its_own_parent(
    gw, tmp_path
) -> None:
    from tests.live.conftest import write_live_config

    ib, spy, errors = _client(gw, 6)
    try:
        working = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.0))
        wait_for(ib, lambda: working.orderStatus.status == "Submitted")
        working.order.parentId = working.order.orderId
        ib.placeOrder(spy, working.order)  # refused (105): the order keeps working as it was
        wait_for(ib, lambda: (working.order.orderId, 105) in {(r, c) for r, c, _ in errors})
        cfg = write_live_config(tmp_path, connection={"host": "127.0.0.1", "port": gw.port})
        out = run_command("toolkit.live", "cancel-all", "--config", cfg.source, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "1 working order(s) before" in out.stdout
        wait_for(ib, lambda: working.orderStatus.status == "Cancelled")
    finally:
        ib.disconnect()
