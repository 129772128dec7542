"""Value at risk (VaR) and expected shortfall (CVaR) of a return series: historical,
parametric (Gaussian) and EWMA (RiskMetrics), one figure or a causal one-day-ahead series.

Signs: returns are fractions (0.01 = +1 %); VaR and CVaR are *losses*, positive numbers
("a 1-day 99 % VaR of 0.031": the day's return falls below -3.1 % on about 1 day in 100).
``level`` is the confidence level (0.95, 0.99); ``alpha = 1 - level`` is the tail
probability.

Historical VaR, two order statistics (the two libraries this module is checked against
differ exactly here). With ``n`` returns sorted ascending ``x_(1) <= ... <= x_(n)`` and
``k = alpha * n``:

* ``convention="lower"`` (default): VaR = -x_(ceil(k)), the lower alpha-quantile of the
  returns ``-inf{x : F_n(x) >= alpha}`` (Acerbi & Tasche 2002, q_alpha). This is what
  Riskfolio-Lib's ``VaR_Hist`` computes (``sorted[ceil(alpha*T) - 1]``; its docstring writes
  ``F > alpha`` but the code takes ``>=``) and the textbook "k-th worst loss" (500 days at
  99 %: the 5th worst). On a tie (``k`` an integer) it is the larger, more prudent loss.
* ``convention="upper"``: VaR = -x_(floor(k) + 1), the upper alpha-quantile
  ``-inf{x : F_n(x) > alpha}`` = the lower level-quantile of the losses
  ``inf{l : F_L(l) >= level}`` (Acerbi & Tasche 2002 define VaR with this one, q^alpha).
  This is skfolio's ``value_at_risk`` (500 days at 99 %: the 6th worst loss).

The two agree whenever ``k`` is not an integer; ``k`` within a few ulps of an integer counts
as that integer (``1 - 0.95`` is 0.050000000000000044 in floating point, so 100 x it is not
5). Neither interpolates: ``np.quantile``'s default (``method="linear"``) interpolates
between ``x_(floor(h)+1)`` and ``x_(floor(h)+2)`` at ``h = (n - 1) * alpha`` and so gives a
third value, usually between the two.

Historical CVaR (expected shortfall) is Acerbi & Tasche's (2002) expected shortfall
``ES = -(E[X 1{X <= q}] + q (alpha - P[X <= q])) / alpha`` (q the alpha-quantile) of the
empirical distribution: the mean of the worst ``k`` returns, the fractional ``k - floor(k)``
weight going to the next one,
``CVaR = -(x_(1) + ... + x_(floor(k)) + (k - floor(k)) x_(floor(k)+1)) / k``. It does not
depend on the VaR convention and equals Riskfolio-Lib's ``CVaR_Hist`` and skfolio's ``cvar``.
(Their sample estimator with the integer part ``floor(k)`` only is not used: it is not the
ES of any distribution for a fractional ``k``.)

Parametric: returns ~ N(mu, sigma^2) with the sample mean and standard deviation (ddof=1):
VaR = z sigma - mu and CVaR = sigma phi(z) / alpha - mu, ``z = Phi^-1(level)``, ``phi`` the
standard normal density (closed forms, e.g. McNeil, Frey & Embrechts 2015, ch. 2).
EWMA: RiskMetrics (J.P. Morgan/Reuters 1996, Technical Document, ch. 5): zero mean and
``sigma^2_{t+1} = lam sigma^2_t + (1 - lam) r_t^2`` with ``lam = 0.94`` for daily data; the
Gaussian VaR/CVaR of that sigma.

Forecast series (:func:`rolling_var`, :func:`rolling_cvar`) are aligned with the returns:
the value at ``t`` is the VaR for the return at ``t`` computed from returns ``< t`` only,
NaN until enough history exists; appending returns never changes an earlier value.

References: C. Acerbi and D. Tasche (2002), "On the coherence of expected shortfall", Journal
of Banking & Finance 26(7), 1487-1503. J.P. Morgan/Reuters (1996), "RiskMetrics -- Technical
Document", 4th ed. Riskfolio-Lib 7.4 ``RiskFunctions.VaR_Hist``/``CVaR_Hist`` and skfolio
1.12 ``measures.value_at_risk``/``cvar`` are the test oracles (tests/risk/test_var.py).
"""

from __future__ import annotations

import math
from numbers import Real
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit

from toolkit.errors import ConfigError, DataError

Convention = Literal["lower", "upper"]
Method = Literal["historical", "parametric", "ewma"]
METHODS: tuple[Method, ...] = ("historical", "parametric", "ewma")
LAMBDA_DAILY = 0.94  # RiskMetrics Technical Document (1996), daily decay factor
# Days before EWMA forecasts start: sigma^2 is seeded with the mean square of these returns.
# RiskMetrics (1996, ch. 5) gives the effective number of days K = ln(tol) / ln(lam); with
# lam = 0.94 and tol = 1 % that is 74.4, so the seed's weight is below 1 % after 75 days.
EWMA_WARMUP = 75
_EPS = float(np.finfo(np.float64).eps)


# --- kernels (numba, plain arrays) -------------------------------------------------------


@njit(cache=True)
def tail_size_nb(n: int, alpha: float) -> float:
    """k = alpha * n, snapped to the nearest integer when within 4 n eps of it (the
    floating-point error of ``1 - level``; skfolio uses the same tolerance)."""
    k = alpha * n
    r = math.floor(k + 0.5)
    if abs(k - r) <= 4.0 * _EPS * max(n, 1):
        return float(r)
    return k


@njit(cache=True)
def var_index_nb(n: int, alpha: float, upper: bool) -> int:
    """0-based position in the ascending returns of the VaR order statistic (module doc)."""
    k = tail_size_nb(n, alpha)
    i = math.floor(k) if upper else math.ceil(k) - 1
    return min(max(i, 0), n - 1)


@njit(cache=True)
def sorted_var_nb(x: np.ndarray, alpha: float, upper: bool) -> float:
    """Historical VaR of returns ``x`` already sorted ascending."""
    return float(-x[var_index_nb(x.shape[0], alpha, upper)])


@njit(cache=True)
def sorted_cvar_nb(x: np.ndarray, alpha: float) -> float:
    """Historical CVaR of returns ``x`` already sorted ascending (Acerbi & Tasche 2002)."""
    n = x.shape[0]
    k = tail_size_nb(n, alpha)
    i = min(max(math.ceil(k) - 1, 0), n - 1)  # x_(i+1) takes the fractional weight
    s = 0.0
    for j in range(i):
        s += x[j]
    return float(-(s + (k - i) * x[i]) / k)


@njit(cache=True)
def sorted_copy_nb(x: np.ndarray) -> np.ndarray:
    """``np.sort(x)`` for finite ``x``, by Shell's sort with Ciura's gaps (Ciura 2001, "Best
    increments for the average case of Shellsort"; beyond 701 each gap is 2.25x the last).
    numba's np.sort compiles its quicksort into every kernel that can reach it -- ~3 s of
    the engine's cold start, which reaches the VaR limits whether a run sets them or not;
    this compiles in a fraction of that and sorts a VaR window (hundreds of returns) as fast."""
    out = x.copy()
    n = out.shape[0]
    gap = 1
    while True:  # the largest gap below n
        nxt = _next_gap_nb(gap)
        if nxt >= n:
            break
        gap = nxt
    while gap >= 1:
        for i in range(gap, n):
            v = out[i]
            j = i
            while j >= gap and out[j - gap] > v:
                out[j] = out[j - gap]
                j -= gap
            out[j] = v
        gap = _prev_gap_nb(gap)
    return out


@njit(cache=True, inline="always")
def _next_gap_nb(gap: int) -> int:
    """Ciura's sequence 1, 4, 10, 23, 57, 132, 301, 701, then x 2.25."""
    if gap < 701:
        for g in (4, 10, 23, 57, 132, 301, 701):
            if g > gap:
                return g
    return int(gap * 2.25)


@njit(cache=True, inline="always")
def _prev_gap_nb(gap: int) -> int:
    """The gap before ``gap`` in :func:`_next_gap_nb`'s sequence (0 after 1)."""
    if gap <= 1:
        return 0
    prev = 1
    while _next_gap_nb(prev) < gap:
        prev = _next_gap_nb(prev)
    return prev


@njit(cache=True)
def historical_var_nb(returns: np.ndarray, alpha: float, upper: bool) -> float:
    """Historical VaR of unsorted finite ``returns`` (sorts a copy): for numba callers."""
    return sorted_var_nb(sorted_copy_nb(returns), alpha, upper)


@njit(cache=True)
def historical_cvar_nb(returns: np.ndarray, alpha: float) -> float:
    """Historical CVaR of unsorted finite ``returns`` (sorts a copy): for numba callers."""
    return sorted_cvar_nb(sorted_copy_nb(returns), alpha)


@njit(cache=True)
def book_pnl_nb(returns: np.ndarray, exposures: np.ndarray) -> np.ndarray:
    """P&L history of a book: ``returns`` (T x N, one column per symbol) times today's
    signed ``exposures`` (N, in money). Its historical VaR/CVaR (``historical_var_nb`` on
    this vector) is the book's VaR in money: what a portfolio VaR limit checks."""
    t_len, n = returns.shape
    pnl = np.zeros(t_len)
    for t in range(t_len):
        s = 0.0
        for j in range(n):
            s += returns[t, j] * exposures[j]
        pnl[t] = s
    return pnl


@njit(cache=True)
def rolling_historical_nb(
    returns: np.ndarray, window: int, alpha: float, upper: bool
) -> tuple[np.ndarray, np.ndarray]:
    """VaR and CVaR at ``t`` from ``returns[t - window:t]`` for ``t >= window`` (NaN before).

    A sorted copy of the window is kept and updated per bar (one removal, one insertion by
    binary search: O(window) moves instead of a sort per bar)."""
    n = returns.shape[0]
    var = np.full(n, np.nan)
    cvar = np.full(n, np.nan)
    if window > n:
        return var, cvar
    buf = sorted_copy_nb(returns[:window])
    for t in range(window, n):
        var[t] = sorted_var_nb(buf, alpha, upper)
        cvar[t] = sorted_cvar_nb(buf, alpha)
        old = returns[t - window]
        new = returns[t]
        p = np.searchsorted(buf, old)  # buf[p] == old (left-most copy)
        for j in range(p, window - 1):  # drop it
            buf[j] = buf[j + 1]
        q = np.searchsorted(buf[: window - 1], new)
        for j in range(window - 1, q, -1):  # make room and insert
            buf[j] = buf[j - 1]
        buf[q] = new
    return var, cvar


@njit(cache=True)
def rolling_moments_nb(returns: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof=1) of ``returns[t - window:t]`` at ``t``; two
    passes per window (no running sums, so no drift over 8,000 bars)."""
    n = returns.shape[0]
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    for t in range(window, n):
        s = 0.0
        for j in range(t - window, t):
            s += returns[j]
        m = s / window
        ss = 0.0
        for j in range(t - window, t):
            ss += (returns[j] - m) ** 2
        mean[t] = m
        std[t] = math.sqrt(ss / (window - 1))
    return mean, std


@njit(cache=True)
def ewma_sigma_nb(returns: np.ndarray, lam: float, warmup: int) -> np.ndarray:
    """RiskMetrics (1996) volatility forecast at ``t`` from returns ``< t``: seeded with the
    mean square of the first ``warmup`` returns, then
    ``sigma^2_{t+1} = lam sigma^2_t + (1 - lam) r_t^2`` (zero mean)."""
    n = returns.shape[0]
    sigma = np.full(n, np.nan)
    if warmup > n:
        return sigma
    v = 0.0
    for j in range(warmup):
        v += returns[j] * returns[j]
    v /= warmup
    for t in range(warmup, n):
        sigma[t] = math.sqrt(v)
        v = lam * v + (1.0 - lam) * returns[t] * returns[t]
    return sigma


# --- Python API ---------------------------------------------------------------------------


def _alpha(level: float) -> float:
    if isinstance(level, bool) or not (isinstance(level, Real) and 0.0 < level < 1.0):
        raise ConfigError(
            f"VaR level {level!r} must be a confidence level between 0 and 1 (e.g. 0.95 or 0.99)."
        )
    return 1.0 - float(level)


def _returns(returns: npt.ArrayLike, need: int = 1) -> np.ndarray:
    """Returns as a contiguous float64 vector; refuses NaN/inf naming the first bad row."""
    x = np.ascontiguousarray(np.asarray(returns, dtype=np.float64))
    if x.ndim != 1:
        raise DataError(
            f"returns must be one series (1-D), got shape {x.shape}; compute VaR per column."
        )
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        index = getattr(returns, "index", None)  # a pandas Series names the row
        where = f"position {bad[0]}" if index is None or callable(index) else index[bad[0]]
        raise DataError(
            f"returns hold {bad.size} NaN/inf value(s), the first at {where}; "
            "drop the first row of pct_change() and any gaps before computing "
            "VaR."
        )
    if x.size < need:
        raise DataError(f"VaR needs at least {need} returns, got {x.size}.")
    return x


def _convention(convention: str) -> bool:
    if convention not in ("lower", "upper"):
        raise ConfigError(
            f"convention {convention!r} is not 'lower' (Riskfolio-Lib, default) "
            "or 'upper' (skfolio)."
        )
    return convention == "upper"


def normal_quantile(level: float) -> tuple[float, float]:
    """``z = Phi^-1(level)`` and the standard normal density ``phi(z)`` (the stdlib's
    :class:`statistics.NormalDist`, Wichura's AS241: full double precision)."""
    nd = NormalDist()
    z = nd.inv_cdf(level)
    return z, nd.pdf(z)


def historical_var(
    returns: npt.ArrayLike, level: float = 0.95, *, convention: Convention = "lower"
) -> float:
    """Historical VaR: minus an order statistic of the returns (module doc: ``"lower"`` is
    Riskfolio-Lib's ``VaR_Hist``, ``"upper"`` skfolio's ``value_at_risk``; neither is
    ``np.quantile``'s interpolated default)."""
    alpha, upper = _alpha(level), _convention(convention)
    return historical_var_nb(_returns(returns), alpha, upper)


def historical_cvar(returns: npt.ArrayLike, level: float = 0.95) -> float:
    """Historical CVaR / expected shortfall (Acerbi & Tasche 2002): the mean of the worst
    ``alpha * n`` returns with a fractional weight on the next one, as a loss."""
    return historical_cvar_nb(_returns(returns), _alpha(level))


def gaussian_var(mean: float, std: float, level: float = 0.95) -> float:
    """VaR of N(mean, std^2) returns: ``z std - mean``, ``z = Phi^-1(level)``."""
    z, _ = normal_quantile(1.0 - _alpha(level))
    return z * std - mean


def gaussian_cvar(mean: float, std: float, level: float = 0.95) -> float:
    """CVaR of N(mean, std^2) returns: ``std phi(z) / alpha - mean`` (the mean of the
    normal's tail beyond its VaR)."""
    alpha = _alpha(level)
    _, pdf = normal_quantile(1.0 - alpha)
    return std * pdf / alpha - mean


def parametric_var(returns: npt.ArrayLike, level: float = 0.95) -> float:
    """Gaussian VaR with the sample mean and standard deviation (ddof=1) of ``returns``."""
    x = _returns(returns, need=2)
    return gaussian_var(float(x.mean()), float(x.std(ddof=1)), level)


def parametric_cvar(returns: npt.ArrayLike, level: float = 0.95) -> float:
    """Gaussian CVaR with the sample mean and standard deviation (ddof=1) of ``returns``."""
    x = _returns(returns, need=2)
    return gaussian_cvar(float(x.mean()), float(x.std(ddof=1)), level)


def ewma_volatility(
    returns: npt.ArrayLike, lam: float = LAMBDA_DAILY, *, warmup: int = EWMA_WARMUP
) -> np.ndarray:
    """RiskMetrics one-day-ahead volatility forecasts aligned with ``returns`` (value at
    ``t`` from returns ``< t``; NaN for the first ``warmup`` bars, whose mean square seeds
    the recursion)."""
    if not 0.0 < lam < 1.0:
        raise ConfigError(
            f"EWMA decay lam={lam!r} must be between 0 and 1 (RiskMetrics: 0.94 daily)."
        )
    if warmup < 1:
        raise ConfigError(f"EWMA warmup={warmup!r} must be at least 1 return.")
    return ewma_sigma_nb(_returns(returns), float(lam), int(warmup))


def _rolling(
    returns: npt.ArrayLike,
    method: Method,
    level: float,
    window: int,
    lam: float,
    warmup: int,
    convention: Convention,
) -> tuple[np.ndarray, np.ndarray]:
    alpha, upper = _alpha(level), _convention(convention)
    if method not in METHODS:
        raise ConfigError(f"VaR method {method!r} is not one of {', '.join(METHODS)}.")
    if method == "ewma":
        sigma = ewma_volatility(returns, lam, warmup=warmup)
        z, pdf = normal_quantile(1.0 - alpha)
        return z * sigma, sigma * (pdf / alpha)
    if window < 2:
        raise ConfigError(f"VaR window={window!r} must be at least 2 returns.")
    x = _returns(returns)
    if method == "historical":
        return rolling_historical_nb(x, int(window), alpha, upper)
    mean, std = rolling_moments_nb(x, int(window))
    z, pdf = normal_quantile(1.0 - alpha)
    return z * std - mean, std * (pdf / alpha) - mean


def rolling_var(
    returns: npt.ArrayLike,
    method: Method = "historical",
    level: float = 0.95,
    *,
    window: int = 250,
    lam: float = LAMBDA_DAILY,
    warmup: int = EWMA_WARMUP,
    convention: Convention = "lower",
) -> np.ndarray:
    """One-day-ahead VaR forecasts aligned with ``returns``: the value at ``t`` uses returns
    ``t - window .. t - 1`` (historical, parametric) or all returns before ``t`` (EWMA, after
    ``warmup``); NaN where the history is too short. Compare ``returns[t] < -var[t]`` for
    exceptions (:func:`toolkit.risk.var_backtest.var_backtest`)."""
    return _rolling(returns, method, level, window, lam, warmup, convention)[0]


def rolling_cvar(
    returns: npt.ArrayLike,
    method: Method = "historical",
    level: float = 0.95,
    *,
    window: int = 250,
    lam: float = LAMBDA_DAILY,
    warmup: int = EWMA_WARMUP,
) -> np.ndarray:
    """One-day-ahead CVaR forecasts aligned with ``returns``, causal like :func:`rolling_var`."""
    return _rolling(returns, method, level, window, lam, warmup, "lower")[1]
