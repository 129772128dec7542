"""Numba kernels of the schedules, on plain arrays (the pandas-facing functions convert once).

Every kernel is pure: sizes in, sizes out; randomness comes in as pre-drawn uniforms so a
seed fixes the result."""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@nb.njit(cache=True, nogil=True)
def even_split_nb(quantity: int, k: int) -> IntArray:
    """``quantity`` shares in ``k`` slices differing by at most one share, the larger ones
    spread evenly (slice j gets floor((j+1)q/k) - floor(jq/k), Bresenham's rule)."""
    out = np.empty(k, np.int64)
    for j in range(k):
        out[j] = (j + 1) * quantity // k - j * quantity // k
    return out


@nb.njit(cache=True, nogil=True)
def jitter_sizes_nb(sizes: IntArray, lo: int, hi: int, u: FloatArray) -> IntArray:
    """Random transfers between neighbouring slices: slice j and j+1 exchange an amount drawn
    from ``u[j]`` (uniform in [0, 1)) among those keeping both inside [lo, hi]. The sum never
    changes and every slice stays in bounds (the input must already be inside them)."""
    out = sizes.copy()
    for j in range(out.size - 1):
        down = min(out[j] - lo, hi - out[j + 1])  # shares j may give to j+1
        up = min(hi - out[j], out[j + 1] - lo)  # shares j may take from j+1
        span = down + up + 1
        delta = int(np.floor(u[j] * span)) - down  # in [-down, up]
        out[j] += delta
        out[j + 1] -= delta
    return out


@nb.njit(cache=True, nogil=True)
def allocate_nb(quantity: int, weights: FloatArray, cap: IntArray) -> IntArray:
    """Shares per bar following the cumulative target round(q * cumsum(w) / sum(w)); a bar's
    child never exceeds ``cap[i]`` (-1: no cap) and what a cap holds back is carried to the
    next bars. The sum is ``quantity`` unless caps bind to the window's end."""
    n = weights.size
    out = np.zeros(n, np.int64)
    total = weights.sum()
    cum = 0.0
    placed = 0
    for i in range(n):
        cum += weights[i]
        target = int(np.floor(quantity * cum / total + 0.5)) if i < n - 1 else quantity
        want = target - placed
        if want < 0:
            want = 0
        if cap[i] >= 0 and want > cap[i]:
            want = cap[i]
        out[i] = want
        placed += want
    return out


@nb.njit(cache=True, nogil=True)
def pov_nb(quantity: int, volume: FloatArray, rate: float, lag: int) -> IntArray:
    """Percent of volume: the child in bar i is floor(rate * volume[i - lag]) shares (none in
    the first ``lag`` bars), until ``quantity`` is placed."""
    n = volume.size
    out = np.zeros(n, np.int64)
    left = quantity
    for i in range(lag, n):
        if left <= 0:
            break
        size = int(np.floor(rate * volume[i - lag]))
        if size > left:
            size = left
        out[i] = size
        left -= size
    return out


@nb.njit(cache=True, nogil=True)
def iceberg_nb(
    quantity: int, display: IntArray, reached: npt.NDArray[np.bool_], volume: FloatArray,
    fill_rate: float,
) -> tuple[IntArray, IntArray, IntArray]:
    """An iceberg at one limit, bar by bar: the shown tranche fills, in bars whose prices
    reached the limit, at most floor(fill_rate * volume) shares a bar; a filled tranche is
    replaced at once by the next, min(display[k], left) shares. Returns the bar each tranche
    was shown in, its size, and the shares filled per bar."""
    n = volume.size
    most = quantity // max(1, display.min()) + 1  # tranches needed at the smallest size
    shown_bar = np.empty(most, np.int64)
    shown = np.empty(most, np.int64)
    filled = np.zeros(n, np.int64)
    k = 0
    left = quantity
    open_qty = 0
    for i in range(n):
        if left <= 0 and open_qty <= 0:
            break
        room = int(np.floor(fill_rate * volume[i])) if reached[i] else 0
        while True:
            if open_qty <= 0:
                if left <= 0:
                    break
                size = min(display[k % display.size], left)
                shown_bar[k] = i
                shown[k] = size
                k += 1
                open_qty = size
                left -= size
            take = min(open_qty, room)
            open_qty -= take
            room -= take
            filled[i] += take
            if open_qty > 0 or room <= 0:
                break
    return shown_bar[:k], shown[:k], filled
