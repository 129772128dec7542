"""An adaptive limit-order tactic: start at the mid, step toward the touch on a clock.

OUR APPROXIMATION, NOT IB's Adaptive algorithm (whose logic IB does not publish; IB only
documents its priorities Patient / Normal / Urgent). Rule: a buy's limit starts at the mid and
every ``interval`` seconds moves 1/``steps`` of the half-spread toward the ask, stopping at the
touch (it never crosses: it rests at the ask, which a marketable limit fills); a sell mirrors
it toward the bid. Prices are rounded to the tick away from the touch (a buy down, a sell up),
so the limit is never more aggressive than the rule.

=========  ========  =====  ===========================
priority   interval  steps  at the touch after
=========  ========  =====  ===========================
Patient    60 s      4      240 s
Normal     30 s      3      90 s
Urgent     10 s      2      20 s
=========  ========  =====  ===========================
"""

from __future__ import annotations

import math

import pandas as pd

from toolkit.errors import ConfigError

CLOCKS: dict[str, tuple[float, int]] = {
    "Patient": (60.0, 4),
    "Normal": (30.0, 3),
    "Urgent": (10.0, 2),
}


def _check(side: str, bid: float, ask: float, priority: str, tick: float) -> tuple[float, int]:
    if side not in ("BUY", "SELL"):
        raise ConfigError(f"side={side!r}: 'BUY' or 'SELL'.")
    if priority not in CLOCKS:
        raise ConfigError(f"priority={priority!r}: one of {', '.join(CLOCKS)}.")
    if not (math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask):
        raise ConfigError(f"bid={bid!r}, ask={ask!r}: a quote needs 0 < bid <= ask.")
    if not (math.isfinite(tick) and tick > 0):
        raise ConfigError(f"tick={tick!r}: the price increment must be positive.")
    return CLOCKS[priority]


def adaptive_limit(
    side: str, bid: float, ask: float, elapsed: float, priority: str = "Normal",
    tick: float = 0.01,
) -> float:
    """The limit ``elapsed`` seconds after the order started, against the quote (bid, ask)."""
    interval, steps = _check(side, bid, ask, priority, tick)
    if not (math.isfinite(elapsed) and elapsed >= 0):
        raise ConfigError(f"elapsed={elapsed!r}: seconds since the start, >= 0.")
    k = min(int(elapsed // interval), steps)
    mid = (bid + ask) / 2.0
    half = (ask - bid) / 2.0
    eps = 1e-9  # a price already on the grid stays there despite float noise
    if side == "BUY":
        return round(math.floor((mid + half * k / steps) / tick + eps) * tick, 10)
    return round(math.ceil((mid - half * k / steps) / tick - eps) * tick, 10)


def adaptive_steps(
    side: str, bid: float, ask: float, start: pd.Timestamp | str,
    priority: str = "Normal", tick: float = 0.01,
) -> pd.Series:
    """The limit at the start and at each amendment up to the touch, against a fixed quote
    (a Series of prices indexed by UTC time); a live bridge re-asks :func:`adaptive_limit`
    with the current quote at each tick of the clock instead."""
    interval, steps = _check(side, bid, ask, priority, tick)
    t0 = pd.Timestamp(start)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    times = pd.DatetimeIndex([t0 + pd.Timedelta(seconds=interval * k) for k in range(steps + 1)])
    limits = [adaptive_limit(side, bid, ask, interval * k, priority, tick)
              for k in range(steps + 1)]
    return pd.Series(limits, index=times.rename("time"), name="limit")
