"""Percent of volume and iceberg orders.

POV: the child in bar i is floor(rate x volume) shares until the parent is placed. With
``lag=1`` (the default) the volume is the previous bar's: what a live schedule knows when the
bar opens, so the live bridge and a backtest send the same children; ``lag=0`` uses the bar's
own volume (a fill simulation's view: participation exactly at the rate, known only after the
bar). Nothing is sent in the first ``lag`` bars.

Iceberg: a limit order showing at most ``display_size`` shares (IB's ``displaySize``); each
shown tranche is a child. In a bar whose prices reached the limit (low <= limit for a buy,
high >= limit for a sell) the shown tranche fills, at most floor(fill_rate x volume) shares a
bar (our queue assumption); when it is filled the next tranche is shown. Optional seeded
variation of the shown size (never above ``display_size``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError
from toolkit.execution._kernels import iceberg_nb, pov_nb
from toolkit.execution.orders import LIMIT, ChildOrders, bar_times, check_quantity, market_children


def pov(quantity: int, bars: pd.DataFrame, rate: float, *, lag: int = 1) -> ChildOrders:
    """Market children at ``rate`` (0 < rate <= 0.5) of the ``volume`` column of ``bars``."""
    q = check_quantity(quantity)
    if not 0.0 < rate <= 0.5:
        raise ConfigError(f"rate={rate!r}: percent of volume is a fraction in (0, 0.5].")
    if lag not in (0, 1):
        raise ConfigError(f"lag={lag!r}: 1 (the previous bar's volume) or 0 (the bar's own).")
    sizes = pov_nb(q, bars["volume"].to_numpy(float), float(rate), int(lag))
    return market_children(q, bar_times(bars), np.arange(len(bars), dtype=np.int64), sizes)


def iceberg(
    quantity: int,
    bars: pd.DataFrame,
    limit: float,
    display_size: int,
    *,
    side: str = "BUY",
    fill_rate: float = 0.1,
    display_jitter: float = 0.0,
    seed: int | None = None,
) -> tuple[ChildOrders, np.ndarray]:
    """The shown tranches (limit children at ``limit``, each <= ``display_size``) and the
    shares filled per bar. ``display_jitter`` shows between ceil(display (1 - j)) and
    ``display_size`` shares a tranche, reproducible per ``seed``."""
    q = check_quantity(quantity)
    if isinstance(display_size, bool) or int(display_size) != display_size or display_size < 1:
        raise ConfigError(f"display_size={display_size!r}: a whole number of shares >= 1.")
    if side not in ("BUY", "SELL"):
        raise ConfigError(f"side={side!r}: 'BUY' or 'SELL'.")
    if not (np.isfinite(limit) and limit > 0):
        raise ConfigError(f"limit={limit!r}: a positive price.")
    if not 0.0 < fill_rate <= 1.0:
        raise ConfigError(f"fill_rate={fill_rate!r}: a fraction in (0, 1] of a bar's volume.")
    if not 0.0 <= display_jitter < 1.0:
        raise ConfigError(f"display_jitter={display_jitter!r}: a fraction in [0, 1).")
    d = int(display_size)
    if display_jitter > 0.0:
        lo = max(1, int(np.ceil(d * (1 - display_jitter))))
        shown_sizes = np.random.default_rng(seed).integers(lo, d + 1, size=q // lo + 1)
    else:
        shown_sizes = np.array([d])
    reached = (bars["low"].to_numpy(float) <= limit if side == "BUY"
               else bars["high"].to_numpy(float) >= limit)
    bar, size, filled = iceberg_nb(q, shown_sizes.astype(np.int64), reached,
                                   bars["volume"].to_numpy(float), float(fill_rate))
    children = market_children(q, bar_times(bars)[bar], bar, size)
    children = ChildOrders(
        parent=q, time=children.time, bar=children.bar, quantity=children.quantity,
        order_type=np.full(len(children), LIMIT), limit=np.full(len(children), float(limit)),
    )
    return children, np.asarray(filled)
