"""The exchange on its own, with no socket or session: a bracket placed leg by leg reports
what happens as typed events, in the order a client must hear them (each leg accepted and
held, the parent sent and filled, the children released, the position changed), and a
global cancel cancels the children."""

from __future__ import annotations

import pandas as pd

from toolkit.gateway.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    PositionChanged,
    StatusChanged,
)
from toolkit.gateway.exchange import Exchange
from toolkit.gateway.market import Market, SimClock, con_id_for
from toolkit.gateway.orders import SimOrder

START = pd.Timestamp("2024-03-14 14:00", tz="UTC")  # inside the SPY 1-minute file


def _order(order_id: int, action: str, order_type: str, **kw: object) -> SimOrder:
    fields: dict[str, object] = {
        "client_id": 1,
        "order_id": order_id,
        "perm_id": 0,
        "symbol": "SPY",
        "con_id": con_id_for("SPY"),
        "action": action,
        "quantity": 10.0,
        "order_type": order_type,
        "lmt_price": None,
        "aux_price": None,
        "tif": "GTC",
        "order_ref": f"leg{order_id}",
        "parent_id": 0,
    }
    fields.update(kw)
    return SimOrder(**fields)  # type: ignore[arg-type]


def test_a_bracket_placed_leg_by_leg_emits_events_in_ibs_order() -> None:
    exchange = Exchange(Market(), SimClock(START, paused=True))
    events: list[Event] = []
    exchange.subscribe(events.append)
    price = exchange.price("SPY")
    parent = _order(1, "BUY", "MKT")
    take = _order(2, "SELL", "LMT", lmt_price=round(price + 20, 2), parent_id=1)
    stop = _order(3, "SELL", "STP", aux_price=round(price - 20, 2), parent_id=1)
    exchange.place(parent, False, None, 0.01)
    exchange.place(take, False, None, 0.01)
    assert [type(e) for e in events] == [OrderAccepted, OrderAccepted]
    assert parent.status == take.status == "PreSubmitted"  # staged: nothing sent yet
    exchange.place(stop, True, None, 0.01)  # the last leg transmits the bracket
    named = [(type(e).__name__, getattr(e, "order", None)) for e in events[2:]]
    assert named[:2] == [("OrderAccepted", stop), ("StatusChanged", parent)]
    assert isinstance(events[4], OrderFilled) and events[4].fill.order is parent
    assert events[4].fill.price == price and parent.status == "Filled"
    assert events[5:7] == [StatusChanged(take), StatusChanged(stop)]  # released
    assert events[7:] == [PositionChanged("SPY")]
    assert exchange.book.positions["SPY"].quantity == 10.0
    assert take.status == stop.status == "Submitted"
    events.clear()
    exchange.cancel_all()
    assert events == [OrderCancelled(take), OrderCancelled(stop)]
    assert exchange.working(1, 2) is None and exchange.working(1, 3) is None
