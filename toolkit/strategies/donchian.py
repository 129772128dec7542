"""Donchian channel breakout (the Turtle rule): enter on a close beyond the prior N-bar extreme."""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.strategies._indicators import prior_max_nb, prior_min_nb
from toolkit.strategies.spec import Param, Strategy


@njit(cache=True)
def donchian_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """params = [entry_window, exit_window, allow_short].

    Long when close > highest high of the prior ``entry_window`` bars; exit when close <
    lowest low of the prior ``exit_window`` bars. Shorts mirror this when allowed.
    """
    entry_w = int(params[0])
    exit_w = int(params[1])
    short = params[2] > 0.5
    up = prior_max_nb(high, entry_w)
    dn = prior_min_nb(low, entry_w)
    exit_dn = prior_min_nb(low, exit_w)
    exit_up = prior_max_nb(high, exit_w)
    out = np.zeros(close.shape[0])
    state = 0.0
    for t in range(close.shape[0]):
        long_exit = state > 0 and not np.isnan(exit_dn[t]) and close[t] < exit_dn[t]
        short_exit = state < 0 and not np.isnan(exit_up[t]) and close[t] > exit_up[t]
        if long_exit or short_exit:
            state = 0.0
        if state == 0.0 and not np.isnan(up[t]):
            if close[t] > up[t]:
                state = 1.0
            elif short and close[t] < dn[t]:
                state = -1.0
        out[t] = state
    return out


STRATEGY = Strategy(
    name="donchian",
    signal=donchian_signal_nb,
    params=(
        Param("entry_window", int, 20, 2, 500, "breakout lookback, bars"),
        Param("exit_window", int, 10, 2, 500, "exit lookback, bars"),
        Param("allow_short", int, 0, 0, 1, "1 to trade downside breakouts"),
    ),
    doc=__doc__ or "",
    warmup=lambda p: int(max(p["entry_window"], p["exit_window"])),
)
