"""The session layer with the real ib_async client over TCP: a request that cannot be served
is answered with IB's error, logged with the request that caused it (never swallowed), and
leaves the connection up."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, Stock

from tests.gateway._client import wait_for
from toolkit.gateway import Gateway

START = "2024-03-14 14:00"  # inside the SPY 1-minute file


def test_failed_requests_are_answered_and_logged_with_the_request(caplog) -> None:
    caplog.set_level(logging.INFO, logger="toolkit.gateway")
    with Gateway(port=0, start=START, paused=True) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=4, timeout=5)
        errors: list[tuple[int, int, str]] = []
        ib.errorEvent += lambda req, code, msg, contract: errors.append((req, code, msg))
        try:
            ib.client.send(62, 1, "not-an-id", "All", "NetLiquidation")  # reqAccountSummary
            wait_for(ib, lambda: any(code == 320 for _, code, _ in errors))
            [(_, _, text)] = [e for e in errors if e[1] == 320]
            assert "Error reading request 62" in text and "req_id" in text
            unreadable = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
            assert len(unreadable) == 1
            assert "request 62" in unreadable[0] and "'not-an-id'" in unreadable[0]

            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            odd = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.003))  # off the tick grid: 110
            wait_for(ib, lambda: odd.orderStatus.status == "Cancelled")
            refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
            assert len(refused) == 1
            assert f"order {odd.order.orderId} refused (110" in refused[0]
            assert "PlaceOrder(" in refused[0] and "lmt_price=100.003" in refused[0]
            assert ib.isConnected() and ib.reqCurrentTime()
        finally:
            ib.disconnect()
