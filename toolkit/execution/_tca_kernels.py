"""Transaction-cost kernels: Perold's implementation shortfall per parent order and the
interval benchmarks (VWAP, TWAP, market volume), over many parent orders at once.

Plain arrays in and out (pandas stays in :mod:`toolkit.execution.tca`). Parents are rows
``k = 0..n-1``; their fills are the rows ``fill_start[k]:fill_start[k+1]`` of the fill arrays
(sorted by parent), their active interval is the bar rows ``bar_lo[k]..bar_hi[k]`` (inclusive)
of the bar arrays. Sums over fills and bars are compensated (Neumaier 1974, "Rundungsfehleranalyse
einiger Verfahren zur Summation endlicher Summen", ZAMM 54) and prices enter as differences, so
the cost components add up to the shortfall to a few ulps of the largest Q x price move (under
1e-9 in currency up to 10,000 shares at 500, the property test's range).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# columns of shortfall_nb's output
FILLED, AVG_PRICE, FEES, DELAY, EXECUTION, OPPORTUNITY, TOTAL, PAPER, REAL = range(9)
N_SHORTFALL = 9
# columns of interval_benchmarks_nb's output
VWAP, TWAP, MARKET_VOLUME = range(3)
N_BENCHMARKS = 3


@nb.njit(cache=True, nogil=True)
def _add_nb(total: float, comp: float, x: float) -> tuple[float, float]:
    """One Neumaier step: ``(total, comp) + x``; the sum is ``total + comp``."""
    t = total + x
    if abs(total) >= abs(x):
        comp += (total - t) + x
    else:
        comp += (x - t) + total
    return t, comp


@nb.njit(cache=True, nogil=True)
def shortfall_nb(
    side: FloatArray,
    quantity: FloatArray,
    arrival: FloatArray,
    release: FloatArray,
    end: FloatArray,
    fill_start: IntArray,
    fill_qty: FloatArray,
    fill_price: FloatArray,
    fill_fee: FloatArray,
) -> FloatArray:
    """Implementation shortfall of each parent order (Perold 1988), split as in Kissell (2013,
    "The Science of Algorithmic Trading and Portfolio Management", ch. 3, after Wagner & Edwards
    1993) into delay, execution, opportunity and fees, all signed so that a cost is positive.

    ``side`` is +1 (buy) or -1 (sell); ``quantity`` the parent size Q; ``arrival`` P_d, the
    price at the decision; ``release`` P_r, the price when the first child was released; ``end``
    P_N, the price at the end of the horizon. With fills q_j at p_j, X = sum q_j, fees F::

        paper = s Q (P_N - P_d)                  the paper portfolio's gain
        real  = s sum q_j (P_N - p_j) - F        what the real portfolio gained
        total = paper - real                     the shortfall (computed this way, not summed)
        delay       = s Q (P_r - P_d)
        execution   = s sum q_j (p_j - P_r)
        opportunity = s (Q - X) (P_N - P_r)
        total == delay + execution + opportunity + F   (algebraically; tested to 1e-9)

    Returns an (n, 9) float array with the columns FILLED, AVG_PRICE (NaN when nothing filled),
    FEES, DELAY, EXECUTION, OPPORTUNITY, TOTAL, PAPER, REAL. Prices enter as differences before
    they are multiplied by quantities, which keeps the rounding error far below a cent.
    """
    n = side.shape[0]
    out = np.empty((n, N_SHORTFALL))
    for k in range(n):
        s = side[k]
        q_parent = quantity[k]
        p_d = arrival[k]
        p_r = release[k]
        p_n = end[k]
        filled, filled_c = 0.0, 0.0
        fees, fees_c = 0.0, 0.0
        impact, impact_c = 0.0, 0.0  # sum q_j (p_j - P_r)
        gain, gain_c = 0.0, 0.0  # sum q_j (P_N - p_j)
        for j in range(fill_start[k], fill_start[k + 1]):
            q = fill_qty[j]
            p = fill_price[j]
            filled, filled_c = _add_nb(filled, filled_c, q)
            fees, fees_c = _add_nb(fees, fees_c, fill_fee[j])
            impact, impact_c = _add_nb(impact, impact_c, q * (p - p_r))
            gain, gain_c = _add_nb(gain, gain_c, q * (p_n - p))
        filled += filled_c
        fees += fees_c
        impact += impact_c
        gain += gain_c
        paper = s * q_parent * (p_n - p_d)
        real = s * gain - fees
        out[k, FILLED] = filled
        out[k, AVG_PRICE] = p_r + impact / filled if filled > 0.0 else math.nan
        out[k, FEES] = fees
        out[k, DELAY] = s * q_parent * (p_r - p_d) + 0.0  # + 0.0: no -0.0 on sells
        out[k, EXECUTION] = s * impact + 0.0
        out[k, OPPORTUNITY] = s * (q_parent - filled) * (p_n - p_r) + 0.0
        out[k, TOTAL] = paper - real
        out[k, PAPER] = paper
        out[k, REAL] = real
    return out


@nb.njit(cache=True, nogil=True)
def interval_benchmarks_nb(
    bar_lo: IntArray,
    bar_hi: IntArray,
    close: FloatArray,
    volume: FloatArray,
    bar_price: FloatArray,
) -> FloatArray:
    """Interval VWAP, TWAP and market volume over each parent's bars ``bar_lo[k]..bar_hi[k]``.

    VWAP = sum v_b p_b / sum v_b with p_b the bar's own volume-weighted price (``bar_price``:
    its vwap, or its close when the bars carry none); TWAP = the mean of the closes (equal time
    per bar). Returns an (n, 3) float array with the columns VWAP (NaN when the interval traded
    no volume), TWAP and MARKET_VOLUME; an empty range (lo > hi) gives NaN, NaN, 0.
    """
    n = bar_lo.shape[0]
    out = np.empty((n, N_BENCHMARKS))
    for k in range(n):
        lo = bar_lo[k]
        hi = bar_hi[k]
        ref = close[lo] if lo <= hi else 0.0  # sums of deviations from it keep precision
        pv, pv_c = 0.0, 0.0
        vol, vol_c = 0.0, 0.0
        dev, dev_c = 0.0, 0.0
        for b in range(lo, hi + 1):
            v = volume[b]
            pv, pv_c = _add_nb(pv, pv_c, v * (bar_price[b] - ref))
            vol, vol_c = _add_nb(vol, vol_c, v)
            dev, dev_c = _add_nb(dev, dev_c, close[b] - ref)
        vol += vol_c
        count = hi - lo + 1
        out[k, VWAP] = ref + (pv + pv_c) / vol if vol > 0.0 else math.nan
        out[k, TWAP] = ref + (dev + dev_c) / count if count > 0 else math.nan
        out[k, MARKET_VOLUME] = vol
    return out
