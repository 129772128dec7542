"""Performance metrics on plain arrays (numba), shared by the engine and the sweep kernels.

Definitions follow quantstats (ranaroussi/quantstats, stats.py) so results agree with its
tear sheets: per-period returns r_1..r_n, risk-free rate 0, P periods per year.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros as _leading_zeros

# numba intrinsic (the stubs type it as needing a typing context)
leading_zeros: Any = _leading_zeros


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
    """Running peak of equity and the deepest equity / peak - 1 so far (<= 0). Branch-free
    (a max, a division, a min): the sweep's change-point driver folds the bars it visits
    here, where whether equity may be a new low is a coin toss -- a test before the division
    cost more in mispredictions than the division (~1 ms of its ~50 ms simulation)."""
    top = max(top, equity)
    return top, min(worst, equity / top - 1.0)


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


# Held stretches without visiting every bar. While a long position is held unchanged, equity
# is cash + pos x close, so the bar return is r = R / (1 + x) with R = close_t / close_{t-1}
# - 1 (shared by every parameter set) and x = k / close_{t-1}, k = cash / pos (a constant of
# the stretch). Expanding 1 / (1 + x) = sum_j (-x)^j (|x| small: the cash left after sizing)
# turns the stretch's sums of r, r^2 and min(r, 0)^2 into a few differences of prefix sums
# of R x close^-j, R^2 x close^-j. The drawdown is found by bisection on range max/min of the
# closes, visiting bars only where a new low may lie; it returns exactly what folding every
# bar with fold_drawdown_nb would.
MAX_TERMS = 10  # _estrin_nb spells out this many terms
_TERM_EPS = 1e-17
STACK_ROWS = 128  # bisection depth <= 2 x log2(bars) + 2
# A prefix row (256 bytes, four cache lines, rows aligned on them): two columns for the
# rounding bound of held_sums_nb (P_ABS: running sum of |R| + 2 R^2; P_INV: the largest
# 1 / close the row's sums have divided by), then term j's three sums side by side (columns
# 2 + 3j, 3 + 3j, 4 + 3j): a stretch that needs 6 terms reads 160 neighbouring bytes at each
# end -- 3 lines -- where one block per sum (3 x 80 bytes apart) touched 4-5.
P_ABS, P_INV, P_TERMS = 0, 1, 2
PREFIX_COLS = P_TERMS + 3 * MAX_TERMS
# The held_* functions are inlined into their caller (the sweep's change-point driver, once
# per held stretch): as calls, numba passes each array argument as a 7-word struct.


@njit(cache=True)
def price_tables_nb(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prefix, ranges) for :func:`held_sums_nb` and :func:`held_drawdown_nb`.

    ``prefix`` (n + 1, PREFIX_COLS), rows aligned on 64 bytes: at t, running sums over bars
    u < t of R_u c_{u-1}^-j (column P_TERMS + 3j), of R_u^2 c_{u-1}^-j (+ 1) and of the latter
    where R_u < 0 (+ 2); of |R_u| + 2 R_u^2 (P_ABS) and the max of 1 / c_{u-1} (P_INV).
    ``ranges`` (levels, n, 2): a sparse table, ``ranges[i, t]`` holding the max and the min of
    close over [t, t + 2^i) side by side (one cache line for both).
    """
    n = close.shape[0]
    buf = np.zeros((n + 1) * PREFIX_COLS + 8)
    off = ((64 - buf.ctypes.data % 64) % 64) // 8  # start the rows on a cache line
    prefix = buf[off : off + (n + 1) * PREFIX_COLS].reshape((n + 1, PREFIX_COLS))
    for u in range(n):
        r = 0.0
        inv = 0.0
        if u >= 1:
            r = (close[u] - close[u - 1]) / close[u - 1]
            inv = 1.0 / close[u - 1]
        prefix[u + 1, P_ABS] = prefix[u, P_ABS] + abs(r) + 2.0 * r * r
        prefix[u + 1, P_INV] = max(prefix[u, P_INV], inv)
        w = 1.0
        for j in range(MAX_TERMS):
            c = P_TERMS + 3 * j
            prefix[u + 1, c] = prefix[u, c] + r * w
            prefix[u + 1, c + 1] = prefix[u, c + 1] + r * r * w
            prefix[u + 1, c + 2] = prefix[u, c + 2] + (r * r * w if r < 0.0 else 0.0)
            w *= inv
    levels = 1
    while (1 << levels) <= n:
        levels += 1
    ranges = np.empty((levels, n, 2))
    for t in range(n):  # element copies: a row assignment compiles numba's shape errors
        ranges[0, t, 0] = close[t]
        ranges[0, t, 1] = close[t]
    for i in range(1, levels):
        half = 1 << (i - 1)
        for t in range(n - (1 << i) + 1):
            ranges[i, t, 0] = max(ranges[i - 1, t, 0], ranges[i - 1, t + half, 0])
            ranges[i, t, 1] = min(ranges[i - 1, t, 1], ranges[i - 1, t + half, 1])
    return prefix, ranges


@njit(cache=True, inline="always")
def close_range_nb(ranges: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    """(max, min) of close over [lo, hi), hi > lo, from the sparse table: two lookups."""
    i = 63 - leading_zeros(np.uint64(hi - lo))  # floor(log2(hi - lo))
    j = hi - (1 << i)
    return max(ranges[i, lo, 0], ranges[i, j, 0]), min(ranges[i, lo, 1], ranges[i, j, 1])


@njit(cache=True, inline="always")
def held_terms_nb(k: float, low: float) -> int:
    """Terms of the expansion that :func:`held_sums_nb` sums for a stretch whose returns
    divide by closes >= ``low`` (for the bars [lo, hi): a bound on the min of closes
    lo - 1 .. hi - 2, e.g. min(close[lo - 1], min of close over [lo, hi))): MAX_TERMS when
    the rest after them is below 1e-17 relative, else 0 (fold bar by bar instead).
    Always all of them, not the fewest that would do: a loop whose exit moves with x
    (7-10 terms on the headline grid) is a mispredicted branch per stretch, which costs
    more than the terms it saves (sweep simulation ~4% faster)."""
    x = abs(k) / low
    x2 = x * x
    x4 = x2 * x2
    p = x4 * x4 * x2  # x^MAX_TERMS (10) in three dependent products, not nine
    return MAX_TERMS if p < _TERM_EPS else 0


@njit(cache=True, inline="always")
def _estrin_nb(
    top: np.ndarray, bot: np.ndarray, c: int, weighted: bool, x: float, x2: float, x4: float
) -> float:
    """sum_j w_j x^j (top[c + 3j] - bot[c + 3j]) over the MAX_TERMS (10) terms, w_j = j + 1 when
    ``weighted`` else 1, by Estrin's scheme (Knuth, TAOCP vol. 2, 4.6.4): the powers of x
    multiply in a tree, so the sum is a chain of four dependent products instead of ten
    (the held stretch's sums took ~1 ms less of the headline sweep's 55 ms simulation)."""
    t0, t1 = _term_nb(top, bot, c, 0, weighted), _term_nb(top, bot, c, 1, weighted)
    t2, t3 = _term_nb(top, bot, c, 2, weighted), _term_nb(top, bot, c, 3, weighted)
    t4, t5 = _term_nb(top, bot, c, 4, weighted), _term_nb(top, bot, c, 5, weighted)
    t6, t7 = _term_nb(top, bot, c, 6, weighted), _term_nb(top, bot, c, 7, weighted)
    t8, t9 = _term_nb(top, bot, c, 8, weighted), _term_nb(top, bot, c, 9, weighted)
    return ((t0 + x * t1) + x2 * (t2 + x * t3)) + x4 * (
        ((t4 + x * t5) + x2 * (t6 + x * t7)) + x4 * (t8 + x * t9)
    )


@njit(cache=True, inline="always")
def _term_nb(top: np.ndarray, bot: np.ndarray, c: int, j: int, weighted: bool) -> float:
    """Term j's prefix difference of the sum in column ``c``, times j + 1 if ``weighted``."""
    d = top[c + 3 * j] - bot[c + 3 * j]
    return float((j + 1.0) * d if weighted else d)


@njit(cache=True, inline="always")
def held_sums_nb(
    prefix: np.ndarray, lo: int, hi: int, k: float
) -> tuple[float, float, float, float]:
    """Sums of r, r^2 and min(r, 0)^2 over the bars [lo, hi) of a held stretch with
    k = cash / pos (see the comment above :data:`MAX_TERMS`; call it where
    :func:`held_terms_nb` allows): 1/(1+x) = sum (-x)^j and 1/(1+x)^2 = sum (j+1)(-x)^j,
    MAX_TERMS terms of each. The last value bounds the rounding error of the prefix
    differences (large when early closes are tiny); callers fold bar by bar above 1e-13.

    The bound: each difference rounds to within ~4.5e-16 of the magnitudes it subtracts,
    weighted by (j + 1) |k|^j. Term 0's magnitudes are read; those of the terms after it are
    at most P_ABS x (|k| P_INV)^j (a row's sums divide by closes >= 1 / P_INV), and row hi's
    exceed row lo's, so their weighted sum is below 2 P_ABS[hi] ((1 - y)^-2 - 1), y = |k|
    P_INV[hi]: one closed form instead of a sum over the terms (infinite when y >= 1)."""
    top = prefix[hi]  # the rows at the stretch's two ends
    bot = prefix[lo]
    x = -k
    x2 = x * x
    x4 = x2 * x2
    s1 = _estrin_nb(top, bot, P_TERMS, False, x, x2, x4)
    s2 = _estrin_nb(top, bot, P_TERMS + 1, True, x, x2, x4)
    down = _estrin_nb(top, bot, P_TERMS + 2, True, x, x2, x4)
    head = (
        abs(bot[P_TERMS]) + abs(top[P_TERMS])
        + bot[P_TERMS + 1] + top[P_TERMS + 1]
        + bot[P_TERMS + 2] + top[P_TERMS + 2]
    )  # fmt: skip
    y = abs(k) * top[P_INV]
    if y >= 1.0:
        return s1, s2, down, np.inf
    tail = 2.0 * top[P_ABS] * (1.0 / ((1.0 - y) * (1.0 - y)) - 1.0)
    return s1, s2, down, (head + tail) * 4.5e-16


@njit(cache=True, inline="always")
def held_drawdown_nb(
    close: np.ndarray,
    ranges: np.ndarray,
    lo: int,
    hi: int,
    cash: float,
    pos: float,
    top: float,
    worst: float,
    stack: np.ndarray,
    hi_close: float,
    lo_close: float,
) -> tuple[float, float]:
    """:func:`fold_drawdown_nb` over equity cash + pos x close[t], t in [lo, hi), pos > 0,
    with the same result: a range whose lowest equity cannot reach a new low against its
    highest peak is passed at once (its peak is cash + pos x its max close, exactly, as
    rounding is monotone), others are halved; short ranges are folded bar by bar.
    ``hi_close``/``lo_close`` are the max/min of close over [lo, hi) (the caller's
    :func:`close_range_nb`, read once for the stretch). ``stack`` is int64 work space of
    shape (STACK_ROWS, 2)."""
    stack[0, 0] = lo
    stack[0, 1] = hi
    depth = 1
    if hi - lo > 16:  # the whole stretch, from the caller's lookup
        peak = max(top, cash + pos * hi_close)
        if cash + pos * lo_close >= peak * (1.0 + worst) * (1.0 + 1e-12):
            return peak, worst
        mid = (lo + hi) // 2  # halved, as the loop below would
        stack[0, 0] = mid
        stack[1, 0] = lo
        stack[1, 1] = mid
        depth = 2
    while depth > 0:
        depth -= 1
        a = stack[depth, 0]
        b = stack[depth, 1]
        if b - a <= 16:
            for t in range(a, b):
                top, worst = fold_drawdown_nb(cash + pos * close[t], top, worst)
            continue
        c_hi, c_lo = close_range_nb(ranges, a, b)
        peak = max(top, cash + pos * c_hi)
        if cash + pos * c_lo >= peak * (1.0 + worst) * (1.0 + 1e-12):
            top = peak
            continue
        mid = (a + b) // 2
        stack[depth, 0] = mid
        stack[depth, 1] = b
        stack[depth + 1, 0] = a
        stack[depth + 1, 1] = mid
        depth += 2
    return top, worst
