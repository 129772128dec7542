"""Numba kernels of the execution backtest (:mod:`toolkit.execution.backtest`): children fill
bar by bar under a participation cap with a market-impact price, then the fills are booked
through the core's one booking (:func:`toolkit.engine._step.book_units_nb`) and fees through
the core's one commission schedule (:func:`toolkit.engine.commissions.commission_nb`)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

from toolkit.engine._step import book_units_nb
from toolkit.engine.commissions import commission_nb

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# impact model ids (see toolkit.execution.backtest.Impact)
NO_IMPACT, SQRT_IMPACT, LINEAR_IMPACT = 0, 1, 2
# columns of a fill row
F_PARENT, F_BAR, F_QTY, F_PRICE, F_BASE, F_IMPACT, F_CAP, F_FEE = range(8)
FILL_COLS = 8


@nb.njit(cache=True, nogil=True)
def impact_frac_nb(kind: int, k: float, sigma: float, qty: float, volume: float) -> float:
    """Price impact of ``qty`` shares in a bar that traded ``volume``, as a fraction of the
    price: k sigma sqrt(q / V) (square root) or k sigma q / V (linear); 0 without volume."""
    if kind == NO_IMPACT or qty <= 0.0 or volume <= 0.0:
        return 0.0
    if kind == SQRT_IMPACT:
        return k * sigma * math.sqrt(qty / volume)
    return k * sigma * qty / volume


@nb.njit(cache=True, nogil=True)
def work_parents_nb(
    side: FloatArray,
    sigma: FloatArray,
    first_bar: IntArray,
    last_bar: IntArray,
    child_start: IntArray,
    child_bar: IntArray,
    child_qty: IntArray,
    price: FloatArray,
    volume: FloatArray,
    max_pct_vol: float,
    impact_kind: int,
    impact_k: float,
) -> tuple[FloatArray, IntArray]:
    """Fill every parent's children bar by bar over its window ``first_bar..last_bar``.

    In a bar the order wants the children released there plus what earlier bars left over;
    it gets at most floor(``max_pct_vol`` x volume) (the participation cap); the rest carries
    to the next bar and whatever is left after ``last_bar`` stays unfilled. A fill's price is
    the bar's price x (1 + side x impact). Returns the fill rows (``F_*`` columns, fee 0: the
    booking kernel prices fees) and each parent's unfilled shares."""
    n_parent = side.size
    out = np.zeros((child_qty.size + (last_bar - first_bar + 1).sum(), FILL_COLS))
    unfilled = np.zeros(n_parent, np.int64)
    n = 0
    for p in range(n_parent):
        c = child_start[p]
        carry = 0
        for b in range(first_bar[p], last_bar[p] + 1):
            while c < child_start[p + 1] and child_bar[c] <= b:
                carry += child_qty[c]
                c += 1
            if carry <= 0:
                continue
            # floor(cap x V), with 1e-9 so 0.29 x 100 is 29, not 28.999...
            cap = math.floor(max_pct_vol * volume[b] + 1e-9)
            q = carry if carry < cap else cap
            if q <= 0:
                continue
            carry -= q
            frac = impact_frac_nb(impact_kind, impact_k, sigma[p], float(q), volume[b])
            row = out[n]
            row[F_PARENT], row[F_BAR], row[F_QTY] = p, b, q
            row[F_BASE], row[F_IMPACT], row[F_CAP] = price[b], frac, cap
            row[F_PRICE] = price[b] * (1.0 + side[p] * frac)
            n += 1
        while c < child_start[p + 1]:  # children after the window never released
            carry += child_qty[c]
            c += 1
        unfilled[p] = carry
    return out[:n].copy(), unfilled


@nb.njit(cache=True, nogil=True)
def book_fills_nb(
    fills: FloatArray,
    side: FloatArray,
    close: FloatArray,
    month: IntArray,
    cost: FloatArray,
    position: float,
    avg: float,
    cash: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Book fills (in bar order) by the core's average-cost booking and price each one's fee
    with the core's commission schedule (the tier from the month's shares so far), then mark
    to market at every bar's close. Fees are written into ``fills[:, F_FEE]``. Returns
    (position, average cost, cash, equity) per bar."""
    nb_ = close.size
    pos_out = np.empty(nb_)
    avg_out = np.empty(nb_)
    cash_out = np.empty(nb_)
    eq_out = np.empty(nb_)
    j = 0
    month_volume = 0.0
    for b in range(nb_):
        if b > 0 and month[b] != month[b - 1]:
            month_volume = 0.0
        while j < fills.shape[0] and int(fills[j, F_BAR]) == b:
            qty = side[int(fills[j, F_PARENT])] * fills[j, F_QTY]
            px = fills[j, F_PRICE]
            fee = commission_nb(cost, qty, px, month_volume)
            fills[j, F_FEE] = fee
            position, avg, cash, _ = book_units_nb(position, avg, cash, qty, px, 1.0, fee)
            month_volume += abs(qty)
            j += 1
        pos_out[b], avg_out[b], cash_out[b] = position, avg, cash
        eq_out[b] = cash + position * close[b]
    return pos_out, avg_out, cash_out, eq_out
