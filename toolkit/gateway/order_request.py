"""Decode a placeOrder request (msg 3, server version 176) into a :class:`SimOrder`.

Field indices are those of the installed ib_async client's encoder (``ib_async/client.py``,
``placeOrder``). Numbers follow the client's encoding: ``""`` is unset (ib_async sends
its UNSET_DOUBLE ``1.7976931348623157e308`` as ``""``, and a raw value that large is read as
unset too), ``"Infinite"`` is infinity. A field that does not parse is refused with IB's
error 321 tied to the order id, never by dropping the request.
"""

from __future__ import annotations

import math

from toolkit.gateway.market import Instrument
from toolkit.gateway.orders import OrderRejected, SimOrder

UNSET_DOUBLE = 1.7976931348623157e308  # the client's "no value" for doubles
UNSET_INTEGER = 2**31 - 1
_INFINITE = {"infinite", "infinity", "inf", "+inf", "+infinity"}
VALIDATION_ERROR = 321  # IB: "Error validating request"


def _invalid(name: str, text: str, why: str) -> OrderRejected:
    return OrderRejected(
        VALIDATION_ERROR, f"Error validating request:-'{name}' : cause - {why} ({text[:40]!r})"
    )


def number(text: str, name: str) -> float | None:
    """A double field: None when unset, inf for ``Infinite``; 321 when it is not a number."""
    text = text.strip()
    if text == "":
        return None
    low = text.lower()
    if low in _INFINITE:
        return math.inf
    if low in ("-infinite", "-infinity", "-inf"):
        return -math.inf
    try:
        value = float(text)
    except ValueError:
        raise _invalid(name, text, "not a number") from None
    if value >= UNSET_DOUBLE:
        return None
    return value


def integer(text: str, name: str) -> int:
    """An int field (empty or UNSET_INTEGER -> 0)."""
    text = text.strip()
    if text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise _invalid(name, text, "not an integer") from None
    return 0 if value == UNSET_INTEGER else value


def decode_order(
    f: list[str], client_id: int, inst: Instrument, perm_id: int
) -> tuple[SimOrder, bool]:
    """The order a placeOrder carries, and its transmit flag."""
    if len(f) < 48:
        raise _invalid("placeOrder", str(len(f)), "too few fields")
    quantity = number(f[17], "totalQuantity")
    order = SimOrder(
        client_id=client_id,
        order_id=integer(f[1], "orderId"),
        perm_id=perm_id,
        symbol=inst.symbol,
        con_id=inst.con_id,
        action=f[16].strip().upper(),
        quantity=0.0 if quantity is None else quantity,
        order_type=f[18].strip().upper(),
        lmt_price=number(f[19], "lmtPrice"),
        aux_price=number(f[20], "auxPrice"),
        tif=f[21].strip().upper() or "DAY",
        order_ref=f[26],
        parent_id=integer(f[28], "parentId"),
    )
    order.oca_group = f[22]
    order.account = f[23].strip()
    if order.order_type == "TRAIL":
        if len(f) <= 70 or f[65]:
            raise OrderRejected(
                201,
                "Order rejected - reason: TRAIL with delta-neutral fields is not supported "
                "by the simulator",
            )
        order.trailing_percent = number(f[70], "trailingPercent")
        order.trail_stop = number(f[69], "trailStopPrice")
    return order, f[27].strip() != "0"
