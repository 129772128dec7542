"""Performance metrics: one function per statistic, pandas at the edge, numba inside.

Returns-based metrics match quantstats' definitions (tests/metrics check them against it);
trade-based metrics (win rate, average P&L) use the engine's round-trip trades.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.metrics._kernels import (
    cagr_nb,
    max_drawdown_nb,
    sharpe_nb,
    sortino_nb,
    total_return_nb,
)


def _arr(returns: pd.Series | np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(returns, dtype=np.float64))
    if np.isnan(a).any():
        raise ValueError(
            "returns contain NaN; drop or fill them explicitly before computing metrics"
        )
    # pandas hands out read-only views; numba compiles every kernel once per writability, so
    # a writable copy keeps it to one version of each (~0.7 s of a cold start)
    return a if a.flags.writeable else a.copy()


def total_return(returns: pd.Series | np.ndarray) -> float:
    """Compounded return over the whole series: prod(1 + r) - 1."""
    return float(total_return_nb(_arr(returns)))


def cagr(returns: pd.Series | np.ndarray, periods: float = 252) -> float:
    """Compound annual growth rate, years = number of periods / ``periods``."""
    return float(cagr_nb(_arr(returns), float(periods)))


def sharpe(returns: pd.Series | np.ndarray, periods: float = 252) -> float:
    """Annualised Sharpe ratio, risk-free rate 0: mean / std(ddof=1) x sqrt(periods)."""
    return float(sharpe_nb(_arr(returns), float(periods)))


def sortino(returns: pd.Series | np.ndarray, periods: float = 252) -> float:
    """Annualised Sortino ratio: mean / sqrt(mean of squared negative returns) x sqrt(periods)."""
    return float(sortino_nb(_arr(returns), float(periods)))


def max_drawdown(returns: pd.Series | np.ndarray) -> float:
    """Maximum drawdown of compounded wealth (a negative fraction; 0 if it never fell)."""
    return float(max_drawdown_nb(_arr(returns)))


def win_rate(trade_pnl: pd.Series | np.ndarray) -> float:
    """Share of closed trades with positive net P&L (NaN with no trades)."""
    pnl = np.asarray(trade_pnl, dtype=np.float64)
    return float((pnl > 0).mean()) if pnl.size else float("nan")


def average_trade_pnl(trade_pnl: pd.Series | np.ndarray) -> float:
    """Mean net P&L per closed trade in account currency (NaN with no trades)."""
    pnl = np.asarray(trade_pnl, dtype=np.float64)
    return float(pnl.mean()) if pnl.size else float("nan")


def exposure(positions: pd.DataFrame | np.ndarray) -> float:
    """Share of bars that end with any open position (time in the market)."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim == 1:
        pos = pos[:, None]
    return float((np.abs(pos) > 0).any(axis=1).mean()) if pos.size else float("nan")


__all__ = [
    "average_trade_pnl",
    "cagr",
    "exposure",
    "max_drawdown",
    "sharpe",
    "sortino",
    "total_return",
    "win_rate",
]
