"""From an :class:`~toolkit.live.sleeve.Intent` to IB orders, the engine's way.

* market orders with ``fill = "next_open"`` on daily bars go as market-on-open (``MKT``, tif
  ``OPG``): the decision is made after the close and fills at the next open, like the
  backtest; on intraday bars, and with ``fill = "close"``, a plain ``MKT`` goes at once.
* ``order_type = "limit"``/``"stop"`` price the order ``order_offset_bps`` from the decision
  close (better for a limit, worse for a stop), rounded to the tick toward the safe side, as
  a DAY order: working through the next session only, like the engine's one-bar orders.
* brackets: when the sleeve's research config has exits and the slot asks for a bracket, an
  order that opens or adds to a position carries IB child orders (stop-loss ``STP``,
  take-profit ``LMT``, trailing ``TRAIL``) for the whole resulting position, priced from the
  decision close, GTC, cancelling each other through the parent (IB's bracket rule).

orderRef ties every order to the decision that made it: ``<session>/<strategy>/<symbol>/<bar>``
plus ``/sl``, ``/tp`` or ``/trail`` for bracket legs. It is deterministic, so a restart
that recomputes the same decision finds the same ref in the journal and does not resend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from toolkit.engine.settings import EngineSettings


@dataclass(frozen=True)
class OrderSpec:
    """One IB order to send (before the broker assigns its id)."""

    ref: str
    symbol: str
    action: str
    quantity: float
    order_type: str
    tif: str
    limit_price: float | None = None
    aux_price: float | None = None
    trailing_percent: float | None = None
    parent_ref: str | None = None


def order_ref(session: str, strategy: str, symbol: str, bar: pd.Timestamp) -> str:
    stamp = (
        bar.strftime("%Y%m%d") if bar.hour == 0 and bar.minute == 0 else bar.strftime("%Y%m%dT%H%M")
    )
    return f"{session}/{strategy}/{symbol}/{stamp}"


def _tick(price: float, up: bool, tick: float = 0.01) -> float:
    steps = price / tick
    steps = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return round(steps * tick, 6)


def entry_order(
    ref: str, symbol: str, quantity: float, close: float, s: EngineSettings, daily: bool = True
) -> OrderSpec:
    """The signal order for ``quantity`` signed shares decided at ``close`` (on intraday bars
    a next-open market order is a plain market order sent as the bar completes)."""
    side = 1.0 if quantity > 0 else -1.0
    action = "BUY" if side > 0 else "SELL"
    qty = abs(quantity)
    offset = s.order_offset_bps / 1e4
    if s.order_type == "limit":
        px = _tick(close * (1.0 - side * offset), up=side < 0)
        return OrderSpec(ref, symbol, action, qty, "LMT", "DAY", limit_price=px)
    if s.order_type == "stop":
        px = _tick(close * (1.0 + side * offset), up=side > 0)
        return OrderSpec(ref, symbol, action, qty, "STP", "DAY", aux_price=px)
    tif = "OPG" if s.fill == "next_open" and daily else "DAY"
    return OrderSpec(ref, symbol, action, qty, "MKT", tif)


def bracket_legs(
    parent: OrderSpec, position_after: float, close: float, s: EngineSettings
) -> list[OrderSpec]:
    """Protective children for the position the parent leaves (none when it closes one)."""
    if position_after == 0.0:
        return []
    d = 1.0 if position_after > 0 else -1.0
    exit_action = "SELL" if d > 0 else "BUY"
    qty = abs(position_after)
    legs = []
    if s.stop_loss is not None:
        px = _tick(close * (1.0 - d * s.stop_loss), up=d < 0)
        legs.append(
            OrderSpec(
                f"{parent.ref}/sl",
                parent.symbol,
                exit_action,
                qty,
                "STP",
                "GTC",
                aux_price=px,
                parent_ref=parent.ref,
            )
        )
    if s.take_profit is not None:
        px = _tick(close * (1.0 + d * s.take_profit), up=d > 0)
        legs.append(
            OrderSpec(
                f"{parent.ref}/tp",
                parent.symbol,
                exit_action,
                qty,
                "LMT",
                "GTC",
                limit_price=px,
                parent_ref=parent.ref,
            )
        )
    if s.trailing_stop is not None:
        legs.append(
            OrderSpec(
                f"{parent.ref}/trail",
                parent.symbol,
                exit_action,
                qty,
                "TRAIL",
                "GTC",
                trailing_percent=round(100.0 * s.trailing_stop, 4),
                parent_ref=parent.ref,
            )
        )
    return legs
