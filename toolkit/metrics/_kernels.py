"""Performance metrics on plain arrays (numba), shared by the engine and the sweep kernels.

Definitions follow quantstats (ranaroussi/quantstats, stats.py) so results agree with its
tear sheets: per-period returns r_1..r_n, risk-free rate 0, P periods per year.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def total_return_nb(returns: np.ndarray) -> float:
    """prod(1 + r) - 1."""
    g = 1.0
    for r in returns:
        g *= 1.0 + r
    return g - 1.0


@njit(cache=True)
def cagr_nb(returns: np.ndarray, periods: float) -> float:
    """(prod(1 + r))^(P / n) - 1: years counted in trading periods, as quantstats does."""
    n = returns.shape[0]
    if n == 0:
        return np.nan
    wealth = total_return_nb(returns) + 1.0
    if wealth < 0.0:
        return np.nan
    return float(wealth ** (periods / n) - 1.0)


@njit(cache=True)
def sharpe_nb(returns: np.ndarray, periods: float) -> float:
    """mean(r) / std(r, ddof=1) x sqrt(P) (Sharpe 1994, rf = 0)."""
    n = returns.shape[0]
    if n < 2:
        return np.nan
    mean = float(returns.mean())
    ss = 0.0
    for r in returns:
        ss += (r - mean) ** 2
    sd = np.sqrt(ss / (n - 1))
    if sd == 0.0:
        return np.nan
    return float(mean / sd * np.sqrt(periods))


@njit(cache=True)
def sortino_nb(returns: np.ndarray, periods: float) -> float:
    """mean(r) / sqrt(sum(min(r, 0)^2) / n) x sqrt(P) (Sortino & Price 1994; Red Rock note)."""
    n = returns.shape[0]
    if n == 0:
        return np.nan
    ds = 0.0
    for r in returns:
        if r < 0.0:
            ds += r * r
    downside = np.sqrt(ds / n)
    if downside == 0.0:
        return np.nan
    return float(returns.mean() / downside * np.sqrt(periods))


@njit(cache=True)
def max_drawdown_nb(returns: np.ndarray) -> float:
    """Deepest fall of compounded wealth from its running peak, starting from wealth 1 (<= 0)."""
    wealth = 1.0
    peak = 1.0
    worst = 0.0
    for r in returns:
        wealth *= 1.0 + r
        if wealth > peak:
            peak = wealth
        dd = wealth / peak - 1.0
        if dd < worst:
            worst = dd
    return worst
