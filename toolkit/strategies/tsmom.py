"""Volatility-targeted time-series momentum (Moskowitz, Ooi & Pedersen 2012, JFE 104(2)).

Exposure = sign(lookback return) x target_vol / realised vol, capped at max_leverage.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.strategies._indicators import return_vol_nb
from toolkit.strategies.spec import Param, Strategy


@njit(cache=True)
def tsmom_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """params = [lookback, vol_window, target_vol, max_leverage, allow_short, periods_per_year].

    Realised vol is the sample std of the last ``vol_window`` returns, annualised by
    sqrt(periods_per_year). Long-only unless ``allow_short``.
    """
    lookback = int(params[0])
    vol = return_vol_nb(close, int(params[1]))
    target, cap, short = params[2], params[3], params[4] > 0.5
    ann = np.sqrt(params[5])
    out = np.zeros(close.shape[0])
    for t in range(lookback, close.shape[0]):
        sigma = vol[t] * ann
        if np.isnan(sigma) or sigma <= 0.0:
            continue
        direction = 1.0 if close[t] > close[t - lookback] else -1.0
        if direction < 0 and not short:
            continue
        out[t] = direction * min(target / sigma, cap)
    return out


STRATEGY = Strategy(
    name="tsmom",
    signal=tsmom_signal_nb,
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
