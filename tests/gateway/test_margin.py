"""The simulator's margin check (IB error 201) never blocks an order that only reduces a
position: a client that is over its margin limit can always close (issue 11.5's rule, in the
simulator as in the engine)."""

from __future__ import annotations

import pytest

pytest.importorskip("ib_async")
from ib_async import IB, MarketOrder, Stock

from toolkit.gateway import Gateway

START = "2024-03-14 14:00"  # inside the SPY 1-minute file


def _wait(ib: IB, cond, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if cond():
            return
        ib.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_reducing_orders_pass_when_the_account_is_over_its_margin_limit() -> None:
    with Gateway(port=0, start=START, speed=60, cash=200_000.0) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        errors: list[int] = []
        ib.errorEvent += lambda req, code, msg, contract: errors.append(code)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            buy = ib.placeOrder(spy, MarketOrder("BUY", 1_400))  # ~0.72M on 0.2M: inside 4x
            _wait(ib, lambda: buy.orderStatus.status == "Filled")
            gw.state.cash -= 100_000.0  # a loss elsewhere: equity ~0.1M, gross ~7x equity
            more = ib.placeOrder(spy, MarketOrder("BUY", 1))
            _wait(ib, lambda: more.orderStatus.status == "Cancelled")
            assert 201 in errors  # adding is refused
            errors.clear()
            sell = ib.placeOrder(spy, MarketOrder("SELL", 400))  # reducing is always accepted
            _wait(ib, lambda: sell.orderStatus.status == "Filled")
            assert 201 not in errors
            flip = ib.placeOrder(spy, MarketOrder("SELL", 2_000))  # flips to -1,000: refused
            _wait(ib, lambda: flip.orderStatus.status == "Cancelled")
            assert 201 in errors
        finally:
            ib.disconnect()
