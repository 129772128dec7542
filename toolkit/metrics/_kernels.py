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


# Streaming forms of the same statistics, for kernels that fold equity bar by bar instead of
# keeping a returns array (the sweep). Same definitions as above; only the summation order
# differs (one pass of sums instead of mean-then-deviations), well inside 1e-9.


@njit(cache=True, inline="always")
def fold_return_nb(
    equity: float, prev: float, s1: float, s2: float, down: float
) -> tuple[float, float, float]:
    """Add the bar return r = equity / prev - 1 to the running sums of r, r^2 and
    min(r, 0)^2 (Sharpe and Sortino need nothing else)."""
    r = equity / prev - 1.0
    neg = min(r, 0.0)  # branch-free: the sign of a return is unpredictable
    return s1 + r, s2 + r * r, down + neg * neg


@njit(cache=True, inline="always")
def fold_drawdown_nb(equity: float, top: float, worst: float) -> tuple[float, float]:
    """Running peak of equity and the deepest equity / peak - 1 so far (<= 0); the division
    is done only when ``equity`` may be a new low relative to the peak (a rare, predictable
    branch; the new-peak test is a branch-free max)."""
    top = max(top, equity)
    if equity < top * (1.0 + worst) * (1.0 + 1e-12):
        dd = equity / top - 1.0
        if dd < worst:
            worst = dd
    return top, worst


@njit(cache=True)
def cagr_from_wealth_nb(wealth: float, n: int, periods: float) -> float:
    """CAGR from final wealth (start = 1) over ``n`` periods, as :func:`cagr_nb`."""
    if n == 0 or wealth < 0.0:
        return np.nan
    return float(wealth ** (periods / n) - 1.0)


@njit(cache=True)
def sharpe_from_sums_nb(s1: float, s2: float, n: int, periods: float) -> float:
    """:func:`sharpe_nb` from sum(r) and sum(r^2): var = (s2 - s1 x mean) / (n - 1)."""
    if n < 2:
        return np.nan
    mean = s1 / n
    var = (s2 - s1 * mean) / (n - 1)
    if not var > 0.0:
        return np.nan
    return float(mean / np.sqrt(var) * np.sqrt(periods))


@njit(cache=True)
def sortino_from_sums_nb(s1: float, down: float, n: int, periods: float) -> float:
    """:func:`sortino_nb` from sum(r) and sum(min(r, 0)^2)."""
    if n == 0:
        return np.nan
    downside = np.sqrt(down / n)
    if downside == 0.0:
        return np.nan
    return float(s1 / n / downside * np.sqrt(periods))
