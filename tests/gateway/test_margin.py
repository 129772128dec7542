"""The simulator's margin check (IB error 201) never blocks an order that only reduces a
position: a client that is over its margin limit can always close (issue 11.5's rule, in the
simulator as in the engine)."""

from __future__ import annotations

import pytest

pytest.importorskip("ib_async")
from ib_async import IB, MarketOrder, Stock

from tests.gateway._client import wait_for
from toolkit.gateway import Gateway

START = "2024-03-14 14:00"  # inside the SPY 1-minute file


def test_reducing_orders_pass_when_the_account_is_over_its_margin_limit() -> None:
    with Gateway(port=0, start=START, speed=60, cash=200_000.0) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        errors: list[int] = []
        ib.errorEvent += lambda req, code, msg, contract: errors.append(code)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            buy = ib.placeOrder(spy, MarketOrder("BUY", 1_400))  # ~0.72M on 0.2M: inside 4x
            wait_for(ib, lambda: buy.orderStatus.status == "Filled")
            gw.state.cash -= 100_000.0  # a loss elsewhere: equity ~0.1M, gross ~7x equity
            more = ib.placeOrder(spy, MarketOrder("BUY", 1))
            wait_for(ib, lambda: more.orderStatus.status == "Cancelled")
            assert 201 in errors  # adding is refused
            errors.clear()
            sell = ib.placeOrder(spy, MarketOrder("SELL", 400))  # reducing is always accepted
            wait_for(ib, lambda: sell.orderStatus.status == "Filled")
            assert 201 not in errors
            flip = ib.placeOrder(spy, MarketOrder("SELL", 2_000))  # flips to -1,000: refused
            wait_for(ib, lambda: flip.orderStatus.status == "Cancelled")
            assert 201 in errors
        finally:
            ib.disconnect()
