"""Triple-barrier labels (Lopez de Prado, *Advances in Financial Machine Learning*, 2018,
ch. 3.4): from bar i's close, an upper barrier ``width * vol_i * sqrt(horizon)`` above, a lower
one as far below, and a vertical barrier ``horizon`` bars later. The label is 1 when the upper
barrier is touched first (or, at the vertical barrier, the return is positive), else 0;
``t1`` is the bar the label became known (the touch or the vertical barrier).

A label whose barriers are neither touched nor expired inside the data has ``t1 = -1``: it
is unknown at the last bar, and training leaves it out -- so labels, like features, depend
only on bars up to ``t1``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def triple_barrier_nb(
    close: np.ndarray, vol: np.ndarray, horizon: int, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """(label, t1) per bar: label 1.0 / 0.0 (NaN when unknown or no vol), t1 an int64 bar
    index (-1 when unknown). Barriers use closes only (daily bars: AFML's close-path rule)."""
    n = close.shape[0]
    label = np.full(n, np.nan)
    t1 = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        v = vol[i]
        if not (v > 0.0) or horizon < 1:
            continue
        band = width * v * math.sqrt(horizon)
        up = math.log(close[i]) + band
        down = math.log(close[i]) - band
        last = i + horizon
        for j in range(i + 1, min(last, n - 1) + 1):
            lc = math.log(close[j])
            if lc >= up:
                label[i] = 1.0
                t1[i] = j
                break
            if lc <= down:
                label[i] = 0.0
                t1[i] = j
                break
            if j == last:
                label[i] = 1.0 if close[j] > close[i] else 0.0
                t1[i] = j
    return label, t1


def triple_barrier(
    close: np.ndarray, vol: np.ndarray, horizon: int, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and label-end bars of one symbol (see :func:`triple_barrier_nb`)."""
    return triple_barrier_nb(
        np.ascontiguousarray(close, dtype=np.float64),
        np.ascontiguousarray(vol, dtype=np.float64),
        int(horizon),
        float(width),
    )
