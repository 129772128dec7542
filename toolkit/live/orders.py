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

orderRef ties every order to the decision that made it: :class:`OrderRef`, written
``<session>/<strategy>/<symbol>/<bar>`` plus ``/sl``, ``/tp`` or ``/trail`` for bracket legs
(the bar as ``YYYYMMDD``, or ``YYYYMMDDTHHMM`` intraday, UTC), or ``/c<k>`` for child ``k``
of a parent order worked by a schedule (:mod:`toolkit.live._parent`). It is deterministic, so a
restart that recomputes the same decision finds the same ref in the journal and does not
resend. One grammar, read from the right: the session id may hold ``/``, the strategy label
and the symbol may not.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import pandas as pd

from toolkit.engine._step import order_price_nb
from toolkit.engine.settings import EngineSettings, OrderType


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
    # IB's algo (Twap, Vwap, Adaptive) and its (tag, value) params, an iceberg's shown size,
    # an OCA group and type (toolkit.live.ib_algos, toolkit.live.brackets)
    algo_strategy: str | None = None
    algo_params: tuple[tuple[str, str], ...] = ()
    display_size: int | None = None
    oca_group: str | None = None
    oca_type: int | None = None


LEGS = ("sl", "tp", "trail")  # stop-loss, take-profit, trailing stop
_STAMP = re.compile(r"\d{8}(T\d{4})?")
_SLICE = re.compile(r"c(\d+)")  # child k of a parent order: /c<k>


@dataclass(frozen=True)
class OrderRef:
    """The orderRef of a decision's order, parsed: ``str()`` writes it, :meth:`parse` reads it
    back (``OrderRef.parse(str(r)) == r``). ``bar`` is UTC, to the minute; ``leg`` names a
    bracket child (one of :data:`LEGS`), None for the entry order; ``slice`` numbers a child
    order of a parent worked by a schedule (None: not one; the parent's ref has None)."""

    session: str
    strategy: str
    symbol: str
    bar: pd.Timestamp
    leg: str | None = None
    slice: int | None = None

    def __post_init__(self) -> None:
        for name in ("strategy", "symbol"):
            value = getattr(self, name)
            if not value or "/" in value:
                raise ValueError(f"orderRef {name} {value!r} must be non-empty without '/'")
        if not self.session:
            raise ValueError("orderRef session must be non-empty")
        if self.leg is not None and self.leg not in LEGS:
            raise ValueError(f"orderRef leg {self.leg!r} is not one of {', '.join(LEGS)}")
        if self.slice is not None and (self.slice < 0 or self.leg is not None):
            raise ValueError(f"orderRef slice {self.slice!r}: a child number >= 0, without a leg")
        bar = pd.Timestamp(self.bar)
        bar = bar.tz_localize("UTC") if bar.tzinfo is None else bar.tz_convert("UTC")
        object.__setattr__(self, "bar", bar.floor("min"))

    def __str__(self) -> str:
        b = self.bar
        stamp = b.strftime("%Y%m%d") if b.hour == 0 and b.minute == 0 else b.strftime("%Y%m%dT%H%M")
        ref = f"{self.session}/{self.strategy}/{self.symbol}/{stamp}"
        if self.slice is not None:
            return f"{ref}/c{self.slice}"
        return ref if self.leg is None else leg_ref(ref, self.leg)

    @classmethod
    def parse(cls, text: str) -> OrderRef:
        """Read an orderRef this module wrote; ValueError naming it otherwise."""
        parts = text.split("/")
        leg = parts.pop() if len(parts) > 4 and parts[-1] in LEGS else None
        part = _SLICE.fullmatch(parts[-1]) if leg is None and len(parts) > 4 else None
        if part is not None:
            parts.pop()
        if len(parts) < 4 or not _STAMP.fullmatch(parts[-1]):
            raise ValueError(
                f"not a toolkit orderRef: {text!r} "
                "(<session>/<strategy>/<symbol>/<YYYYMMDD[THHMM]>[/sl|tp|trail|/c<k>])"
            )
        *session, strategy, symbol, stamp = parts
        bar = pd.Timestamp(stamp, tz="UTC")
        return cls(
            "/".join(session), strategy, symbol, bar, leg, None if part is None else int(part[1])
        )

    @property
    def entry(self) -> OrderRef:
        """The entry order of this ref (itself when it is one)."""
        return self if self.leg is None else replace(self, leg=None)

    def child(self, leg: str) -> OrderRef:
        """The ref of the bracket leg ``leg`` of this entry order."""
        return replace(self, leg=leg)

    def sliced(self, k: int) -> OrderRef:
        """The ref of child ``k`` of this parent order (worked by a schedule)."""
        return replace(self, leg=None, slice=k)

    @property
    def parent(self) -> OrderRef:
        """The parent order of a schedule's child (itself when it is none)."""
        return replace(self, slice=None)


def short_ref(text: str) -> str:
    """An orderRef without its session id (strategy/symbol/bar[/leg|/c<k>]), for a narrow
    table or prompt; text that is not one of our refs is shown whole."""
    try:
        ref = OrderRef.parse(text)
    except ValueError:
        return text
    return str(ref).removeprefix(ref.session + "/")


def leg_ref(entry: str, leg: str) -> str:
    """The orderRef of bracket leg ``leg`` of the entry order ``entry``."""
    if leg not in LEGS:
        raise ValueError(f"orderRef leg {leg!r} is not one of {', '.join(LEGS)}")
    return f"{entry}/{leg}"


def order_ref(session: str, strategy: str, symbol: str, bar: pd.Timestamp) -> str:
    """The entry orderRef of a decision, as text (see :class:`OrderRef`)."""
    return str(OrderRef(session, strategy, symbol, bar))


def is_bracket_leg(ref: str) -> bool:
    """Whether ``ref`` is a bracket child of one of our orders (False for any other text)."""
    try:
        return OrderRef.parse(ref).leg is not None
    except ValueError:
        return False


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
    kind = OrderType[s.order_type.upper()]
    if kind != OrderType.MARKET:
        # the engine's price for the order (one formula), then rounded to the tick away from
        # a fill the engine would not make: a buy limit down, a buy stop up
        raw = float(order_price_nb(int(kind), side, close, s.order_offset_bps / 1e4))
        if kind == OrderType.LIMIT:
            px = _tick(raw, up=side < 0)
            return OrderSpec(ref, symbol, action, qty, "LMT", "DAY", limit_price=px)
        px = _tick(raw, up=side > 0)
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
                leg_ref(parent.ref, "sl"),
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
                leg_ref(parent.ref, "tp"),
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
                leg_ref(parent.ref, "trail"),
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
