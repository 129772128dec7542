"""Streaming subscriptions: bars (keepUpToDate) and quotes (reqMktData), pushed as the
simulated clock advances. Quotes are derived deterministically from the current bar with a
spread model: one tick or 1 bp of the price (the larger), split around the last trade.
Each subscription holds the callable that sends one message to its client, nothing more."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.gateway.market import Instrument

Send = Callable[[list[str | int | float]], None]  # one message's fields to one client


@dataclass
class BarSubscription:
    """A historical-data request with keepUpToDate."""

    send: Send
    req_id: int
    symbol: str
    bar_size: str
    what: str
    use_rth: bool
    format_date: int
    daily: bool
    last_label: pd.Timestamp
    last_values: tuple[float, ...]


@dataclass
class QuoteSubscription:
    """A streaming reqMktData request."""

    send: Send
    req_id: int
    symbol: str
    min_tick: float
    last_bar: pd.Timestamp | None = field(default=None)


def quote(close: float, volume: float, min_tick: float) -> tuple[float, float, float, float]:
    """(bid, ask, bid size, ask size) around ``close``: spread of max(tick, 1 bp), sizes
    100 to 900 shares from the bar's volume (deterministic, never 0)."""
    spread = max(min_tick, round(close * 1e-4 / min_tick) * min_tick)
    bid = math.floor((close - spread / 2) / min_tick + 1e-9) * min_tick
    ask = bid + spread
    size = 100.0 * (1 + int(volume) % 9)
    return round(bid, 6), round(ask, 6), size, 100.0 * (1 + int(volume / 7) % 9)


@dataclass
class RealtimeSubscription:
    """A reqRealTimeBars request: 5-second bars derived from the replayed minutes."""

    send: Send
    req_id: int
    symbol: str
    last_time: pd.Timestamp


@dataclass
class DepthSubscription:
    """A reqMktDepth request: ``rows`` levels a side, inserted once, then updated in place."""

    send: Send
    req_id: int
    symbol: str
    rows: int
    min_tick: float
    last_bar: pd.Timestamp | None = field(default=None)


def depth_levels(
    bid: float, ask: float, volume: float, rows: int, min_tick: float
) -> list[tuple[float, float, float, float]]:
    """(bid price, bid size, ask price, ask size) per level: prices one spread apart, sizes
    growing away from the touch (a simple depth model, deterministic in the bar's volume)."""
    step = max(min_tick, ask - bid)
    base = 100.0 * (1 + int(volume) % 5)
    return [
        (round(bid - k * step, 6), base * (k + 1), round(ask + k * step, 6), base * (k + 2))
        for k in range(rows)
    ]


@dataclass
class ChainQuoteSubscription:
    """A streaming reqMktData on what the option chains price: an option (quotes and option
    computations), an underlying without bars (SPX), or a combo (``legs``: instrument,
    ratio, +1 bought / -1 sold). Pushed when the quote date in force changes."""

    send: Send
    req_id: int
    instrument: Instrument | None
    legs: tuple[tuple[Instrument, int, float], ...] = ()
    last_day: pd.Timestamp | None = field(default=None)
    warned: bool = False
