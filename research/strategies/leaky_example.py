"""A DELIBERATELY LEAKY strategy, to show what ``tk.check_causal`` reports. Do not trade it.

It compares the close with a *centred* moving average (like pandas'
``rolling(window, center=True)``): the average at bar t includes bars after t, so its
backtest looks far better than anything that can be traded.
"""

from __future__ import annotations

import numpy as np

import toolkit as tk


@tk.strategy(params=[tk.Param("window", int, 20, 3, 250, "centred averaging window, bars")])
def leaky_example(close: np.ndarray, window: int) -> np.ndarray:
    """Long when the close is above its centred ``window``-bar mean (uses the future)."""
    n = close.shape[0]
    bars = np.arange(n)
    first = np.maximum(bars - window // 2, 0)
    last = np.minimum(bars + window // 2 + 1, n)  # the look-ahead: bars after t
    sums = np.concatenate(([0.0], np.cumsum(close)))
    centred = (sums[last] - sums[first]) / (last - first)
    return (close > centred).astype(np.float64)
