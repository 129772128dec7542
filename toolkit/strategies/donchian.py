"""Donchian channel breakout (the Turtle rule): enter on a close beyond the prior N-bar extreme."""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.strategies._features import distinct_rows_nb
from toolkit.strategies._indicators import prior_max_nb, prior_min_nb
from toolkit.strategies.spec import Param, Strategy


@njit(cache=True)
def donchian_features_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    grid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows 2i / 2i+1: prior highest high / lowest low for the i-th distinct window."""
    k = grid.shape[0]
    uniq, pos = distinct_rows_nb(np.concatenate((grid[:, 0], grid[:, 1])))
    aux = np.empty((2 * uniq.shape[0], close.shape[0]))
    for i in range(uniq.shape[0]):
        aux[2 * i] = prior_max_nb(high, int(uniq[i]))
        aux[2 * i + 1] = prior_min_nb(low, int(uniq[i]))
    index = np.empty((k, 4), dtype=np.int64)
    for j in range(k):
        index[j, 0] = 2 * pos[j]  # entry: upper channel
        index[j, 1] = 2 * pos[j] + 1  # entry: lower channel
        index[j, 2] = 2 * pos[k + j] + 1  # exit for longs: lower channel
        index[j, 3] = 2 * pos[k + j]  # exit for shorts: upper channel
    return aux, index


@njit(cache=True)
def donchian_rule_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    aux: np.ndarray,
    params: np.ndarray,
    index: np.ndarray,
    out: np.ndarray,
) -> None:
    """params = [entry_window, exit_window, allow_short].

    Long when close > highest high of the prior ``entry_window`` bars; exit when close <
    lowest low of the prior ``exit_window`` bars. Shorts mirror this when allowed.
    """
    up, dn, exit_dn, exit_up = aux[index[0]], aux[index[1]], aux[index[2]], aux[index[3]]
    short = params[2] > 0.5
    state = 0.0
    for t in range(out.shape[0]):
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


@njit(cache=True)
def donchian_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """The strategy's signal: this parameter set's four channels, then the rule (no grid
    machinery: distinct windows, sort and unique only cost compile time for one set). Rows as
    in the features: entry upper, entry lower, exit for longs (lower), exit for shorts
    (upper)."""
    n = close.shape[0]
    entry = int(params[0])
    exit_ = int(params[1])
    up = prior_max_nb(high, entry)
    dn = prior_min_nb(low, entry)
    exit_dn = prior_min_nb(low, exit_)
    exit_up = prior_max_nb(high, exit_)
    aux = np.empty((4, n))
    # element copies: a row assignment (aux[0] = x) compiles numba's shape-error formatting
    for t in range(n):
        aux[0, t] = up[t]
        aux[1, t] = dn[t]
        aux[2, t] = exit_dn[t]
        aux[3, t] = exit_up[t]
    index = np.empty(4, dtype=np.int64)
    for j in range(4):
        index[j] = j
    out = np.empty(n)
    donchian_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    return out


STRATEGY = Strategy(
    name="donchian",
    signal=donchian_signal_nb,
    features=donchian_features_nb,
    rule=donchian_rule_nb,
    params=(
        Param("entry_window", int, 20, 2, 500, "breakout lookback, bars"),
        Param("exit_window", int, 10, 2, 500, "exit lookback, bars"),
        Param("allow_short", int, 0, 0, 1, "1 to trade downside breakouts"),
    ),
    doc=__doc__ or "",
    warmup=lambda p: int(max(p["entry_window"], p["exit_window"])),
)
