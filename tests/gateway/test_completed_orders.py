"""reqCompletedOrders through the real ib_async client: how orders that no longer work ended
(filled, cancelled), with their orderRef -- what a restarting bridge asks before resending."""

from __future__ import annotations

from ib_async import IB, LimitOrder, MarketOrder, Stock

from toolkit.gateway import Gateway


def test_completed_orders_name_filled_and_cancelled_orders_by_ref() -> None:
    with Gateway(port=0, start="2024-03-14 14:00", speed=60) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=7, timeout=10)
        try:
            spy = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))[0]
            assert ib.reqCompletedOrders(apiOnly=True) == []
            filled = ib.placeOrder(spy, MarketOrder("BUY", 10, orderRef="ref-filled"))
            working = ib.placeOrder(spy, LimitOrder("BUY", 5, 1.00, orderRef="ref-cancelled"))
            ib.placeOrder(spy, LimitOrder("BUY", 3, 1.00, orderRef="ref-working"))
            for _ in range(100):
                if filled.orderStatus.status == "Filled":
                    break
                ib.sleep(0.05)
            ib.cancelOrder(working.order)
            ib.sleep(0.5)
            done = {t.order.orderRef: t for t in ib.reqCompletedOrders(apiOnly=True)}
        finally:
            ib.disconnect()
    assert set(done) == {"ref-filled", "ref-cancelled"}  # the working one is not completed
    f, c = done["ref-filled"], done["ref-cancelled"]
    assert (f.orderStatus.status, f.order.filledQuantity, f.order.totalQuantity) == (
        "Filled",
        10,
        10,
    )
    assert (f.contract.symbol, f.order.action, f.order.orderType) == ("SPY", "BUY", "MKT")
    assert (c.orderStatus.status, c.order.filledQuantity, c.order.lmtPrice) == ("Cancelled", 0, 1.0)
    assert f.order.permId and c.order.permId and f.order.permId != c.order.permId
