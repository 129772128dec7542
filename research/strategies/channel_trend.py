"""Channel trend: buy a close above the prior ``lookback``-bar high, hold while the close
stays above its ``exit_window``-bar mean.

An example of a single-symbol strategy of your own: a numba function of the bars it reads
(``close``) and its parameters, registered with ``@tk.strategy``. It is causal: the value at
bar t reads closes [t - lookback, t] only (check with ``tk.check_causal``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

import toolkit as tk


@tk.strategy(
    params=[
        tk.Param("lookback", int, 50, 5, 250, "breakout window: prior highest close, bars"),
        tk.Param("exit_window", int, 20, 2, 250, "exit below the mean close of this many bars"),
    ]
)
@njit(cache=True)
def channel_trend(close: np.ndarray, lookback: int, exit_window: int) -> np.ndarray:
    """Long (1) from a close above the prior ``lookback``-bar high until the close falls below
    its ``exit_window``-bar mean; flat (0) otherwise."""
    n = close.shape[0]
    out = np.zeros(n)
    state = 0.0
    running = 0.0  # sum of the last exit_window closes
    for t in range(n):
        running += close[t]
        if t >= exit_window:
            running -= close[t - exit_window]
        if state > 0.0 and t + 1 >= exit_window and close[t] < running / exit_window:
            state = 0.0
        if state == 0.0 and t >= lookback:
            prior_high = close[t - lookback]
            for k in range(t - lookback + 1, t):
                prior_high = max(prior_high, close[k])
            if close[t] > prior_high:
                state = 1.0
        out[t] = state
    return out
