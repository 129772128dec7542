"""Risk limits (the ``[risk]`` config table), shared by backtests and live sessions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import time
from statistics import NormalDist
from typing import Literal

import numpy as np
import pandas as pd

from toolkit._declare import setting
from toolkit.data import calendar
from toolkit.risk.rules import (
    CVAR_K,
    DAILY_LOSS,
    MAX_BETA,
    MAX_CORR,
    MAX_CVAR,
    MAX_DRAWDOWN,
    MAX_GROSS,
    MAX_NET,
    MAX_ORDER,
    MAX_POSITION,
    MAX_SECTOR,
    MAX_VAR,
    RISK_SIZE,
    VAR_ALPHA,
    VAR_HISTORICAL,
    VAR_Z,
    VOL_TARGET,
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

    Portfolio rules (:mod:`toolkit.risk.portfolio`; exposures are fractions of equity):

    * ``max_net``: |sum of signed exposures|.
    * ``max_beta``: |portfolio beta| to ``benchmark`` (sum of exposure x beta).
    * ``max_sector``: gross exposure of any one GICS sector (sector map: ``sectors``, else
      the shipped S&P 500 map, :func:`toolkit.data.reference.load_sector_map`).
    * ``max_corr_exposure``: sqrt(w'Rw), R the correlation matrix: gross exposure that
      counts correlated positions together (uncorrelated ones add in quadrature).
    * ``max_var`` / ``max_cvar``: one-day VaR / CVaR at ``var_level`` as a fraction of
      equity, ``var_method`` parametric (zero-mean Gaussian) or historical.
    * ``vol_target``: annualised volatility each position is sized to (its target exposure
      x vol_target / its own annualised vol, then clipped to max_leverage).
    * ``risk_window``: daily returns in every estimate (covariance, beta, historical VaR);
      before a full window exists, orders that open exposure wait (``risk_warmup``).

    Orders that only reduce a position are never trimmed, so risk can always come off.
    """

    # a limit of 0 would silently block every trade: a config leaves the key out instead
    max_position: float | None = setting(None, above=0.0)
    max_order: float | None = setting(None, above=0.0)
    max_gross: float | None = setting(None, above=0.0, high=100.0)
    daily_loss: float | None = setting(None, above=0.0, high=1.0)
    max_drawdown: float | None = setting(None, above=0.0, high=1.0)
    max_orders_per_minute: int | None = setting(None, low=1)
    max_net: float | None = setting(None, above=0.0, high=100.0)
    max_beta: float | None = setting(None, above=0.0, high=100.0)
    max_sector: float | None = setting(None, above=0.0, high=100.0)
    max_corr_exposure: float | None = setting(None, above=0.0, high=100.0)
    max_var: float | None = setting(None, above=0.0, high=1.0)
    max_cvar: float | None = setting(None, above=0.0, high=1.0)
    var_level: float = setting(0.99, above=0.5, high=0.9999)
    var_method: Literal["parametric", "historical"] = setting("parametric")
    vol_target: float | None = setting(None, above=0.0, high=10.0)
    risk_window: int = setting(250, low=20, high=10_000)
    benchmark: str = setting("SPY")
    trading_hours: TradingHours | None = None
    sectors: tuple[tuple[str, str], ...] | None = None

    def vector(self) -> np.ndarray:
        """The limits the numba kernels take, at :mod:`toolkit.risk.rules`' indices (inf = off)."""
        v = np.full(RISK_SIZE, math.inf)
        for i, x in (
            (MAX_POSITION, self.max_position),
            (MAX_ORDER, self.max_order),
            (MAX_GROSS, self.max_gross),
            (DAILY_LOSS, self.daily_loss),
            (MAX_DRAWDOWN, self.max_drawdown),
            (MAX_NET, self.max_net),
            (MAX_BETA, self.max_beta),
            (MAX_SECTOR, self.max_sector),
            (MAX_CORR, self.max_corr_exposure),
            (MAX_VAR, self.max_var),
            (MAX_CVAR, self.max_cvar),
            (VOL_TARGET, self.vol_target),
        ):
            if x is not None:
                v[i] = float(x)
        alpha = 1.0 - float(self.var_level)
        z = NormalDist().inv_cdf(float(self.var_level))
        v[VAR_ALPHA] = alpha
        v[VAR_Z] = z
        v[CVAR_K] = NormalDist().pdf(z) / alpha
        v[VAR_HISTORICAL] = 1.0 if self.var_method == "historical" else 0.0
        return v

    @property
    def portfolio(self) -> bool:
        """A portfolio rule or the volatility target is set (estimates are needed)."""
        return any(
            x is not None
            for x in (
                self.max_net,
                self.max_beta,
                self.max_sector,
                self.max_corr_exposure,
                self.max_var,
                self.max_cvar,
                self.vol_target,
            )
        )

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
        ) or self.portfolio
