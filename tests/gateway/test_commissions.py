"""Tiered commission in the simulator follows the month's volume, as the engine's schedule
computes it (toolkit.engine.commissions): an order's per-share rate is chosen by the shares
the account traded earlier in the same calendar month, so once the month crosses 300,000
shares the next order pays tier 2, and a new month starts again at tier 1."""

from __future__ import annotations

import pytest

pytest.importorskip("ib_async")
from ib_async import IB, MarketOrder, Stock, Trade

from tests.gateway._client import wait_for
from toolkit.engine.commissions import ibkr_tiered, tier_rate_nb
from toolkit.gateway import Gateway

START = "2024-03-14 14:00"  # inside the SPY 1-minute file (March 2024)


def _filled(ib: IB, trade: Trade) -> tuple[float, float, float]:
    """(signed shares, price, commission) of a one-fill market order."""
    wait_for(ib, lambda: trade.orderStatus.status == "Filled" and trade.fills)
    wait_for(ib, lambda: trade.fills[-1].commissionReport.execId != "")
    [fill] = trade.fills
    side = 1.0 if trade.order.action == "BUY" else -1.0
    return side * fill.execution.shares, fill.execution.price, fill.commissionReport.commission


def test_tiered_commission_uses_the_months_volume() -> None:
    schedule = ibkr_tiered()
    # no participation limit (each order fills at once) and cash for a 300,000-share order
    with Gateway(
        port=0, start=START, paused=True, participation=0.0, cash=1e9, commission=schedule
    ) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            month_volume = 0.0
            for qty, action in ((300_000, "BUY"), (100, "SELL"), (200, "BUY")):
                shares, price, paid = _filled(ib, ib.placeOrder(spy, MarketOrder(action, qty)))
                assert paid == pytest.approx(schedule.cost(shares, price, month_volume), rel=1e-9)
                month_volume += abs(shares)
            # the second and third orders came after 300,000 shares: tier 2, not tier 1
            assert tier_rate_nb(300_000.0) == 0.0020
            tier_1 = schedule.cost(200, price, 0.0)
            assert paid < tier_1
            gw.advance("20D")  # into April: a new month, back to tier 1
            shares, price, paid = _filled(ib, ib.placeOrder(spy, MarketOrder("SELL", 200)))
            assert paid == pytest.approx(schedule.cost(shares, price, 0.0), rel=1e-9)
        finally:
            ib.disconnect()
