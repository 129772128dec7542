"""RSI mean reversion: buy when Wilder's RSI is oversold, exit when it recovers to ``exit``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numba import njit

from toolkit.strategies._features import distinct_rows_nb
from toolkit.strategies._indicators import rsi_nb
from toolkit.strategies.spec import Param, Strategy


@njit(cache=True)
def rsi_reversion_features_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    grid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One RSI row per distinct window."""
    uniq, pos = distinct_rows_nb(grid[:, 0].copy())
    aux = np.empty((uniq.shape[0], close.shape[0]))
    for i in range(uniq.shape[0]):
        aux[i] = rsi_nb(close, int(uniq[i]))
    return aux, pos.reshape(-1, 1).copy()


@njit(cache=True)
def rsi_reversion_rule_nb(
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
    """params = [window, oversold, exit, overbought, allow_short].

    Long from RSI < oversold until RSI >= exit; if shorts are allowed, short from
    RSI > overbought until RSI <= exit. The state carries forward bar by bar.
    """
    rsi = aux[index[0]]
    oversold, exit_level, overbought = params[1], params[2], params[3]
    short = params[4] > 0.5
    state = 0.0
    for t in range(out.shape[0]):
        r = rsi[t]
        if np.isnan(r):
            out[t] = 0.0
            continue
        if (state > 0 and r >= exit_level) or (state < 0 and r <= exit_level):
            state = 0.0
        if state == 0.0:
            if r < oversold:
                state = 1.0
            elif short and r > overbought:
                state = -1.0
        out[t] = state


@njit(cache=True)
def rsi_reversion_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """The strategy's signal: this parameter set's RSI, then the rule (no grid machinery:
    distinct windows, sort and unique only cost compile time for one set)."""
    n = close.shape[0]
    rsi = rsi_nb(close, int(params[0]))
    aux = np.empty((1, n))
    # element copies: a row assignment (aux[0] = x) compiles numba's shape-error formatting
    for t in range(n):
        aux[0, t] = rsi[t]
    index = np.zeros(1, dtype=np.int64)
    out = np.empty(n)
    rsi_reversion_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    return out


def _valid(p: Mapping[str, Any]) -> Any:
    return (p["oversold"] < p["exit"]) & (p["exit"] < p["overbought"])


STRATEGY = Strategy(
    name="rsi_reversion",
    signal=rsi_reversion_signal_nb,
    features=rsi_reversion_features_nb,
    rule=rsi_reversion_rule_nb,
    params=(
        Param("window", int, 14, 2, 200, "RSI window, bars"),
        Param("oversold", float, 30.0, 1.0, 50.0, "enter long below this RSI"),
        Param("exit", float, 50.0, 10.0, 90.0, "leave the position when RSI crosses this level"),
        Param("overbought", float, 70.0, 50.0, 99.0, "enter short above this RSI (if allowed)"),
        Param("allow_short", int, 0, 0, 1, "1 to trade the short side too"),
    ),
    doc=__doc__ or "",
    warmup=lambda p: int(p["window"]) + 1,
    valid=_valid,
    valid_doc="oversold < exit < overbought",
)
