"""Risk limits (the ``[risk]`` config table), shared by backtests and live sessions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import time

import numpy as np
import pandas as pd

from toolkit._declare import setting
from toolkit.data import calendar
from toolkit.risk.rules import (
    DAILY_LOSS,
    MAX_DRAWDOWN,
    MAX_GROSS,
    MAX_ORDER,
    MAX_POSITION,
    RISK_SIZE,
)


@dataclass(frozen=True)
class TradingHours:
    """A daily window in New York time, on trading days only (no weekends, no exchange
    holidays), in which new orders may be sent."""

    start: time = calendar.OPEN
    end: time = calendar.CLOSE

    def allows(self, ts: pd.Timestamp) -> bool:
        """True when ``ts`` (tz-aware) falls on a trading day inside [start, end] New York."""
        local = ts.tz_convert(calendar.NEW_YORK)
        return calendar.is_trading_day(local.date()) and self.start <= local.time() <= self.end


@dataclass(frozen=True)
class RiskLimits:
    """Hard limits; ``None`` disables one.

    * ``max_position``: USD notional one symbol's position may reach.
    * ``max_order``: USD notional of one order that adds exposure.
    * ``max_gross``: gross exposure (sum of |position| x price) as a multiple of equity.
    * ``daily_loss``: fraction of the day's starting equity; losing more flattens and stops.
    * ``max_drawdown``: fraction below peak equity; breaching it flattens and stops.
    * ``max_orders_per_minute``: orders sent in any rolling minute (live only: bars carry no
      order timing in a backtest).
    * ``trading_hours``: window for new orders (live only; daily backtest bars have none).

    Orders that only reduce a position are never trimmed, so risk can always come off.
    """

    # a limit of 0 would silently block every trade: a config leaves the key out instead
    max_position: float | None = setting(None, above=0.0)
    max_order: float | None = setting(None, above=0.0)
    max_gross: float | None = setting(None, above=0.0, high=100.0)
    daily_loss: float | None = setting(None, above=0.0, high=1.0)
    max_drawdown: float | None = setting(None, above=0.0, high=1.0)
    max_orders_per_minute: int | None = setting(None, low=1)
    trading_hours: TradingHours | None = None

    def vector(self) -> np.ndarray:
        """The limits the numba kernels take, at :mod:`toolkit.risk.rules`' indices (inf = off)."""
        v = np.full(RISK_SIZE, math.inf)
        for i, x in (
            (MAX_POSITION, self.max_position),
            (MAX_ORDER, self.max_order),
            (MAX_GROSS, self.max_gross),
            (DAILY_LOSS, self.daily_loss),
            (MAX_DRAWDOWN, self.max_drawdown),
        ):
            if x is not None:
                v[i] = float(x)
        return v

    @property
    def active(self) -> bool:
        return any(
            x is not None
            for x in (
                self.max_position,
                self.max_order,
                self.max_gross,
                self.daily_loss,
                self.max_drawdown,
                self.max_orders_per_minute,
                self.trading_hours,
            )
        )
