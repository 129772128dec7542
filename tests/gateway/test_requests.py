"""The request decoder's field tables against the real ib_async client's encoder: each
request the client sends (captured where it would go on the socket) decodes into the typed
request with the values the caller gave; bad order fields become the order's IB refusal,
bad request fields a MalformedRequest naming the field."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("ib_async")
from ib_async import ExecutionFilter, LimitOrder, MarketOrder, Order, Stock
from ib_async.client import Client

from toolkit.gateway import requests as rq
from toolkit.gateway.orders import OrderRejected


class _Captured(Client):
    """The real client's encoder, with what it sends kept instead of written to a socket."""

    def __init__(self) -> None:
        super().__init__(wrapper=None)
        self._serverVersion = 176
        self.clientId = 5
        self.sent: list[list[str]] = []

    def isConnected(self) -> bool:  # noqa: N802 (the client's own name)
        return True

    def sendMsg(self, msg: str) -> None:  # noqa: N802 (the client's own name)
        fields = msg.split("\0")
        assert fields[-1] == ""
        self.sent.append(fields[:-1])


SPY = Stock("SPY", "SMART", "USD", conId=756733)


def _decode(send: Any) -> rq.Request:
    client = _Captured()
    send(client)
    [fields] = client.sent
    return rq.decode(fields)


def test_a_limit_order_decodes_field_by_field() -> None:
    order = LimitOrder("buy", 5, 101.25, tif="GTC", orderRef="ref/1", ocaGroup="g1")
    order.transmit, order.parentId, order.account = False, 7, "DU1234567"
    r = _decode(lambda c: c.placeOrder(12, SPY, order))
    assert r == rq.PlaceOrder(
        rq.PLACE_ORDER,
        12,
        rq.Contract(756733, "SPY", "STK", "SMART", currency="USD"),
        action="BUY",
        quantity=5.0,
        order_type="LMT",
        lmt_price=101.25,
        aux_price=None,
        tif="GTC",
        oca_group="g1",
        account="DU1234567",
        order_ref="ref/1",
        transmit=False,
        parent_id=7,
        n_fields=r.n_fields if isinstance(r, rq.PlaceOrder) else 0,
    )


def test_trail_fields_are_read_for_trail_orders_only() -> None:
    trail = Order(action="SELL", totalQuantity=3, orderType="TRAIL")
    trail.trailingPercent, trail.trailStopPrice = 1.5, 99.0
    r = _decode(lambda c: c.placeOrder(3, SPY, trail))
    assert isinstance(r, rq.PlaceOrder) and r.error is None
    assert (r.trailing_percent, r.trail_stop_price) == (1.5, 99.0)
    client = _Captured()
    client.placeOrder(4, SPY, MarketOrder("BUY", 1))
    [fields] = client.sent
    fields[70] = "not a number"  # trailingPercent of a market order: never read
    plain = rq.decode(fields)
    assert isinstance(plain, rq.PlaceOrder) and plain.error is None
    assert plain.trailing_percent is None


def test_bad_order_fields_become_the_orders_refusal() -> None:
    client = _Captured()
    client.placeOrder(9, SPY, LimitOrder("BUY", 1, 100.0))
    [fields] = client.sent
    bad_price = list(fields)
    bad_price[19] = "abc"
    r = rq.decode(bad_price)
    assert isinstance(r, rq.PlaceOrder) and r.order_id == 9
    assert isinstance(r.error, OrderRejected) and r.error.code == 321
    assert "lmtPrice" in str(r.error)
    assert isinstance(short := rq.decode(fields[:40]), rq.PlaceOrder)
    assert short.error is not None and "too few fields" in str(short.error)
    with pytest.raises(rq.MalformedRequest, match="order_id"):
        rq.decode(["3", "x", *fields[2:]])  # no order id to refuse: IB's 320


def test_market_data_history_depth_and_account_requests() -> None:
    hist = _decode(
        lambda c: c.reqHistoricalData(
            21, SPY, "20240314 15:00:00 UTC", "2 D", "5 mins", "MIDPOINT", True, 2, True, []
        )
    )
    assert hist == rq.HistoricalData(
        rq.REQ_HISTORICAL_DATA,
        21,
        rq.Contract(756733, "SPY", "STK", "SMART", currency="USD"),
        end="20240314 15:00:00 UTC",
        bar_size="5 mins",
        duration="2 D",
        use_rth=True,
        what="MIDPOINT",
        format_date=2,
        keep_up_to_date=True,
    )
    quote = _decode(lambda c: c.reqMktData(22, SPY, "", True, False, []))
    assert quote == rq.MarketData(
        rq.REQ_MKT_DATA,
        22,
        rq.Contract(756733, "SPY", "STK", "SMART", currency="USD"),
        snapshot=True,
    )
    depth = _decode(lambda c: c.reqMktDepth(23, SPY, 7, False, []))
    assert isinstance(depth, rq.MarketDepth) and (depth.req_id, depth.rows) == (23, 7)
    execs = _decode(lambda c: c.reqExecutions(24, ExecutionFilter(clientId=3)))
    assert execs == rq.Executions(rq.REQ_EXECUTIONS, 24, 3)
    assert _decode(lambda c: c.reqAccountUpdates(True, "")) == rq.AccountUpdates(
        rq.REQ_ACCOUNT_UPDATES, True
    )
    assert _decode(lambda c: c.cancelOrder(31, "")) == rq.CancelOrder(rq.CANCEL_ORDER, 31)
    assert _decode(lambda c: c.startApi()) == rq.StartApi(rq.START_API, 5)


def test_bad_request_fields_name_the_field_and_unknown_types_pass_through() -> None:
    with pytest.raises(rq.MalformedRequest, match="client_id"):
        rq.decode(["71", "2"])
    with pytest.raises(rq.MalformedRequest, match="req_id"):
        rq.decode(["62", "1", "x", "All", "NetLiquidation"])
    # reqPnL, reqPnLSingle and reqMatchingSymbols carry no version: the reqId follows the id
    # (the simulator read the next field, so the client's request never ended)
    assert _decode(lambda c: c.reqPnL(17, "DU1", "")) == rq.Unhandled(92, 17)
    assert _decode(lambda c: c.reqMatchingSymbols(23, "SP")) == rq.Unhandled(81, 23)
    assert rq.decode(["999", "1", "17"]) == rq.Unhandled(999, 17)  # version, then reqId


def test_what_if_is_found_after_the_variable_blocks() -> None:
    from ib_async import ComboLeg, Contract, TagValue

    def what_if(order: Order, contract: Any = SPY) -> bool:
        r = _decode(lambda c: c.placeOrder(5, contract, order))
        assert isinstance(r, rq.PlaceOrder)
        return r.what_if

    def lmt(**fields: Any) -> Order:
        order = LimitOrder("BUY", 1, 100.0)
        for name, value in fields.items():
            setattr(order, name, value)
        return order

    assert not what_if(lmt()) and what_if(lmt(whatIf=True))
    pairs = [TagValue("a", "b"), TagValue("c", "d")]
    assert what_if(lmt(whatIf=True, algoStrategy="Adaptive", algoParams=pairs))
    assert not what_if(lmt(algoStrategy="Adaptive", algoParams=pairs))
    assert what_if(lmt(whatIf=True, hedgeType="D", hedgeParam="0.5"))
    assert what_if(lmt(whatIf=True, scalePriceIncrement=0.5, scaleInitLevelSize=1))
    assert what_if(lmt(whatIf=True, deltaNeutralOrderType="MKT"))
    legs = [ComboLeg(conId=1, ratio=1, action="BUY"), ComboLeg(conId=2, ratio=2, action="SELL")]
    bag = Contract(symbol="SPX", secType="BAG", exchange="SMART", currency="USD", comboLegs=legs)
    assert what_if(lmt(whatIf=True), bag) and not what_if(lmt(), bag)
