"""Fill rules shared by the engine, the sweep kernels and the gateway simulator.

Bars are the only information: within a bar we know open, high, low and close, not the path.
Rules (side is +1 buy, -1 sell; prices in USD):

* market: fills at the reference price (next open or this close) moved against the trader by
  the slippage fraction.
* limit: fills at the open if the open is already at or through the limit (a gap gives the
  better price), else at the limit if the bar's range reaches it; no slippage.
* stop: triggers at the open if the open gapped through the stop (filled at the open), else at
  the stop if the range reaches it; slippage applies, as a triggered stop is a market order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def slipped_nb(price: float, side: float, slippage: float) -> float:
    """``price`` moved against a buyer (up) or seller (down) by ``slippage`` (a fraction)."""
    return price * (1.0 + side * slippage)


@njit(cache=True)
def limit_fill_nb(side: float, limit: float, open_: float, high: float, low: float) -> float:
    """Fill price of a limit order working through one bar, or NaN if it does not fill."""
    if side > 0:
        if open_ <= limit:
            return open_
        if low <= limit:
            return limit
    else:
        if open_ >= limit:
            return open_
        if high >= limit:
            return limit
    return np.nan


@njit(cache=True)
def stop_fill_nb(side: float, stop: float, open_: float, high: float, low: float) -> float:
    """Trigger price of a stop order working through one bar (before slippage), or NaN."""
    if side > 0:
        if open_ >= stop:
            return open_
        if high >= stop:
            return stop
    else:
        if open_ <= stop:
            return open_
        if low <= stop:
            return stop
    return np.nan
