"""The one causal feature function: research, the backtest strategy and a live session all
call :func:`features` on plain bar arrays, so a model never sees features built another way.

Row t uses bars [0, t] only (NaN while a window is still filling): it is what is known at
bar t's close. :func:`feature_hash` fingerprints the kernel's source and the window
parameters; a model artefact records it and is refused when the code or windows change.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math

import numpy as np
from numba import njit

FEATURE_NAMES = (
    "ret_1",  # last bar's log return
    "ret_fast",  # log return over the fast window
    "mom_slow",  # slow-window log return scaled by vol * sqrt(window) (time-series momentum)
    "vol_fast",  # std of log returns over the fast window
    "vol_slow",  # std of log returns over the slow window
    "zscore",  # (log close - its slow-window mean) / (vol_slow * sqrt(slow)): mean reversion
    "range",  # mean (high - low) / close over the fast window
    "volume_z",  # log(volume / its slow-window mean volume)
)
N_FEATURES = len(FEATURE_NAMES)


@njit(cache=True)
def features_nb(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, fast: int, slow: int
) -> np.ndarray:
    """(n x 8) feature matrix, row t from bars [0, t]; NaN until ``slow`` returns exist.

    Each window statistic is computed from its own bars (no running sums carried across
    bars), so a row is bit-identical whatever comes before or after its window.
    """
    n = close.shape[0]
    out = np.full((n, 8), np.nan)
    if fast < 2 or slow < fast:
        return out
    lr = np.full(n, np.nan)
    for t in range(1, n):
        if close[t] > 0.0 and close[t - 1] > 0.0:
            lr[t] = math.log(close[t] / close[t - 1])
    for t in range(slow, n):
        # returns lr[t-slow+1 .. t] (slow of them); fast ones are the last ``fast``
        s_slow = 0.0
        for k in range(t - slow + 1, t + 1):
            s_slow += lr[k]
        m_slow = s_slow / slow
        v_slow = 0.0
        for k in range(t - slow + 1, t + 1):
            v_slow += (lr[k] - m_slow) ** 2
        sd_slow = math.sqrt(v_slow / (slow - 1))
        s_fast = 0.0
        for k in range(t - fast + 1, t + 1):
            s_fast += lr[k]
        m_fast = s_fast / fast
        v_fast = 0.0
        for k in range(t - fast + 1, t + 1):
            v_fast += (lr[k] - m_fast) ** 2
        sd_fast = math.sqrt(v_fast / (fast - 1))
        mean_lc = 0.0
        mean_vol = 0.0
        for k in range(t - slow + 1, t + 1):
            mean_lc += math.log(close[k])
            mean_vol += volume[k]
        mean_lc /= slow
        mean_vol /= slow
        rng = 0.0
        for k in range(t - fast + 1, t + 1):
            rng += (high[k] - low[k]) / close[k]
        out[t, 0] = lr[t]
        out[t, 1] = s_fast
        out[t, 3] = sd_fast
        out[t, 4] = sd_slow
        if sd_slow > 0.0:
            out[t, 2] = s_slow / (sd_slow * math.sqrt(slow))
            out[t, 5] = (math.log(close[t]) - mean_lc) / (sd_slow * math.sqrt(slow))
        else:
            out[t, 2] = 0.0
            out[t, 5] = 0.0
        out[t, 6] = rng / fast
        out[t, 7] = math.log(volume[t] / mean_vol) if volume[t] > 0 and mean_vol > 0 else 0.0
    return out


def features(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    fast: int = 5,
    slow: int = 20,
) -> np.ndarray:
    """The feature matrix (bars x :data:`FEATURE_NAMES`) of one symbol's bars."""
    h, lo, c, v = (np.ascontiguousarray(a, dtype=np.float64) for a in (high, low, close, volume))
    return np.asarray(features_nb(h, lo, c, v, int(fast), int(slow)))


@functools.lru_cache(maxsize=256)
def feature_hash(fast: int, slow: int) -> str:
    """sha256 (first 16 hex) of the feature kernel's source, the names and the windows: the
    fingerprint an artefact must share with the code that serves it. Computed once per
    process and windows (the source is the one this process imported)."""
    source = inspect.getsource(features_nb.py_func)
    text = f"{source}\n{FEATURE_NAMES}\nfast={int(fast)}\nslow={int(slow)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
