"""Volatility-targeted time-series momentum (Moskowitz, Ooi & Pedersen 2012, JFE 104(2)).

Exposure = sign(lookback return) x target_vol / realised vol, capped at max_leverage.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.strategies._features import distinct_rows_nb
from toolkit.strategies._indicators import return_vol_nb
from toolkit.strategies.spec import Param, Strategy


@njit(cache=True)
def tsmom_features_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    grid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One realised-volatility row per distinct ``vol_window``."""
    uniq, pos = distinct_rows_nb(grid[:, 1].copy())
    aux = np.empty((uniq.shape[0], close.shape[0]))
    for i in range(uniq.shape[0]):
        aux[i] = return_vol_nb(close, int(uniq[i]))
    return aux, pos.reshape(-1, 1).copy()


@njit(cache=True)
def tsmom_rule_nb(
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
    """params = [lookback, vol_window, target_vol, max_leverage, allow_short, periods_per_year].

    Realised vol is the sample std of the last ``vol_window`` returns, annualised by
    sqrt(periods_per_year). Long-only unless ``allow_short``.
    """
    lookback = int(params[0])
    vol = aux[index[0]]
    target, cap, short = params[2], params[3], params[4] > 0.5
    ann = np.sqrt(params[5])
    for t in range(out.shape[0]):
        out[t] = 0.0
        if t < lookback:
            continue
        sigma = vol[t] * ann
        if np.isnan(sigma) or sigma <= 0.0:
            continue
        direction = 1.0 if close[t] > close[t - lookback] else -1.0
        if direction < 0 and not short:
            continue
        out[t] = direction * min(target / sigma, cap)


@njit(cache=True)
def tsmom_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """The strategy's signal: this parameter set's realised volatility, then the rule (no grid
    machinery: distinct windows, sort and unique only cost compile time for one set)."""
    n = close.shape[0]
    vol = return_vol_nb(close, int(params[1]))
    aux = np.empty((1, n))
    # element copies: a row assignment (aux[0] = x) compiles numba's shape-error formatting
    for t in range(n):
        aux[0, t] = vol[t]
    index = np.zeros(1, dtype=np.int64)
    out = np.empty(n)
    tsmom_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    return out


STRATEGY = Strategy(
    name="tsmom",
    signal=tsmom_signal_nb,
    features=tsmom_features_nb,
    rule=tsmom_rule_nb,
    params=(
        Param("lookback", int, 252, 5, 1000, "momentum lookback, bars"),
        Param("vol_window", int, 60, 5, 500, "realised-volatility window, bars"),
        Param("target_vol", float, 0.15, 0.01, 1.0, "annualised volatility target"),
        Param("max_leverage", float, 1.0, 0.1, 4.0, "cap on |exposure|"),
        Param("allow_short", int, 0, 0, 1, "1 to go short on negative momentum"),
        Param("periods_per_year", float, 252.0, 1.0, 100000.0, "bars per year, for annualising"),
    ),
    doc=__doc__ or "",
    warmup=lambda p: int(max(p["lookback"], p["vol_window"])) + 1,
)
