"""What the simulated exchange tells the world: typed events, emitted in the order a client
must see them. The exchange emits them to one listener and never learns who is connected."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.gateway.orders import Fill, SimOrder


@dataclass(frozen=True)
class OrderAccepted:
    """A new or modified order passed every check and is in the book (staged, held or
    working: its status says which)."""

    order: SimOrder


@dataclass(frozen=True)
class StatusChanged:
    """An order's status changed without a fill (a staged order sent, a child released)."""

    order: SimOrder


@dataclass(frozen=True)
class OrderCancelled:
    """An order was cancelled: by its client, its group (bracket, OCA), its time in force."""

    order: SimOrder


@dataclass(frozen=True)
class OrderFilled:
    """An execution (the order's fill totals are already updated)."""

    fill: Fill


@dataclass(frozen=True)
class PositionChanged:
    """A fill changed the position in ``symbol`` (and the account's values)."""

    symbol: str


Event = OrderAccepted | StatusChanged | OrderCancelled | OrderFilled | PositionChanged
