"""Causal indicator kernels (numba). Each output value at bar t uses inputs [0, t] only.

All take and return contiguous float64 1-D arrays; NaN marks warm-up bars.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def sma_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average as a prefix-sum difference over ``window`` bars.

    Computed as ``(cumsum[t] - cumsum[t-w]) / w`` — the same arithmetic as vectorbt's rolling
    mean, so crossovers agree with it bit for bit.
    """
    out = np.empty(x.shape[0])
    sma_from_cumsum_nb(np.cumsum(x), window, out)
    return out


@njit(cache=True, inline="always")
def sma_from_cumsum_nb(cs: np.ndarray, window: int, out: np.ndarray) -> None:
    """:func:`sma_nb` into ``out`` from the input's running sum ``cs`` (``np.cumsum``),
    which many windows can share."""
    n = cs.shape[0]
    warm = n if window < 1 else min(window - 1, n)  # bars before the first full window
    for t in range(warm):
        out[t] = np.nan
    if window < 1:
        return
    if window - 1 < n:
        out[window - 1] = cs[window - 1] / window
    # the first full window peeled off: a loop without a branch vectorises (its divisions
    # dominate a sweep's 200 rows)
    for t in range(window, n):
        out[t] = (cs[t] - cs[t - window]) / window


@njit(cache=True, parallel=True)
def sma_rows_nb(x: np.ndarray, windows: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = sma_nb(x, windows[i])`` for every window, from one running sum, rows in
    parallel threads (a sweep's features: 200 windows of 5,000 bars)."""
    cs = np.cumsum(x)
    for i in prange(windows.shape[0]):
        sma_from_cumsum_nb(cs, int(windows[i]), out[i])


@njit(cache=True)
def rsi_nb(close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's RSI (Wilder 1978, *New Concepts in Technical Trading Systems*).

    Average gain/loss start as the mean of the first ``window`` changes, then
    ``avg = (avg * (w - 1) + change) / w``. RSI = 100 - 100 / (1 + avg_gain / avg_loss).
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window < 1 or n <= window:
        return out
    gain = 0.0
    loss = 0.0
    for t in range(1, window + 1):
        d = close[t] - close[t - 1]
        if d > 0:
            gain += d
        else:
            loss -= d
    gain /= window
    loss /= window
    for t in range(window, n):
        if t > window:
            d = close[t] - close[t - 1]
            up = d if d > 0 else 0.0
            down = -d if d < 0 else 0.0
            gain = (gain * (window - 1) + up) / window
            loss = (loss * (window - 1) + down) / window
        if loss == 0.0:
            out[t] = 100.0 if gain > 0.0 else 50.0
        else:
            out[t] = 100.0 - 100.0 / (1.0 + gain / loss)
    return out


@njit(cache=True)
def prior_max_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Highest value over the ``window`` bars *before* t (t itself excluded); O(n) deque."""
    return _prior_extreme_nb(x, window, 1.0)


@njit(cache=True)
def prior_min_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Lowest value over the ``window`` bars *before* t (t itself excluded); O(n) deque."""
    return _prior_extreme_nb(x, window, -1.0)


@njit(cache=True)
def _prior_extreme_nb(x: np.ndarray, window: int, sign: float) -> np.ndarray:
    """Sliding max (sign=1) or min (sign=-1) of x[t-window..t-1] with a monotonic deque."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window < 1:
        return out
    dq = np.empty(n, dtype=np.int64)  # indices, values monotone from head to tail
    head = 0
    tail = 0
    for t in range(n):
        if t >= window:
            while dq[head] < t - window:
                head += 1
            out[t] = x[dq[head]]
        # admit bar t for later windows
        while tail > head and sign * x[dq[tail - 1]] <= sign * x[t]:
            tail -= 1
        dq[tail] = t
        tail += 1
    return out


@njit(cache=True)
def return_vol_nb(close: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last ``window`` simple returns ending at t."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window < 2:
        return out
    for t in range(window, n):
        mean = 0.0
        for k in range(t - window + 1, t + 1):
            mean += close[k] / close[k - 1] - 1.0
        mean /= window
        ss = 0.0
        for k in range(t - window + 1, t + 1):
            d = close[k] / close[k - 1] - 1.0 - mean
            ss += d * d
        out[t] = np.sqrt(ss / (window - 1))
    return out
