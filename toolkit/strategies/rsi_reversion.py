"""RSI mean reversion: buy when Wilder's RSI is oversold, exit when it recovers to ``exit``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from toolkit.strategies._indicators import rsi_nb
from toolkit.strategies.spec import Param, Strategy


@njit(cache=True)
def rsi_reversion_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """params = [window, oversold, exit, overbought, allow_short].

    Long from RSI < oversold until RSI >= exit; if shorts are allowed, short from
    RSI > overbought until RSI <= exit. The state carries forward bar by bar.
    """
    rsi = rsi_nb(close, int(params[0]))
    oversold, exit_level, overbought = params[1], params[2], params[3]
    short = params[4] > 0.5
    out = np.zeros(close.shape[0])
    state = 0.0
    for t in range(close.shape[0]):
        r = rsi[t]
        if np.isnan(r):
            continue
        if (state > 0 and r >= exit_level) or (state < 0 and r <= exit_level):
            state = 0.0
        if state == 0.0:
            if r < oversold:
                state = 1.0
            elif short and r > overbought:
                state = -1.0
        out[t] = state
    return out


def _constraint(p: Mapping[str, float]) -> str | None:
    if not p["oversold"] < p["exit"] < p["overbought"]:
        return (
            f"need oversold < exit < overbought, got {p['oversold']:g}, {p['exit']:g}, "
            f"{p['overbought']:g}."
        )
    return None


STRATEGY = Strategy(
    name="rsi_reversion",
    signal=rsi_reversion_signal_nb,
    params=(
        Param("window", int, 14, 2, 200, "RSI window, bars"),
        Param("oversold", float, 30.0, 1.0, 50.0, "enter long below this RSI"),
        Param("exit", float, 50.0, 10.0, 90.0, "leave the position when RSI crosses this level"),
        Param("overbought", float, 70.0, 50.0, 99.0, "enter short above this RSI (if allowed)"),
        Param("allow_short", int, 0, 0, 1, "1 to trade the short side too"),
    ),
    doc=__doc__ or "",
    warmup=lambda p: int(p["window"]) + 1,
    constraint=_constraint,
)
