"""SMA crossover: long while the fast average is above the slow one (short below, if allowed)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from toolkit.strategies._indicators import sma_nb
from toolkit.strategies.spec import Param, Strategy


@njit(cache=True)
def sma_cross_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """params = [fast, slow, allow_short]; exposure in {-1, 0, 1}, 0 during warm-up."""
    fast = sma_nb(close, int(params[0]))
    slow = sma_nb(close, int(params[1]))
    short = params[2] > 0.5
    out = np.zeros(close.shape[0])
    for t in range(close.shape[0]):
        if np.isnan(fast[t]) or np.isnan(slow[t]):
            continue
        if fast[t] > slow[t]:
            out[t] = 1.0
        elif short and fast[t] < slow[t]:
            out[t] = -1.0
    return out


def _constraint(p: Mapping[str, float]) -> str | None:
    if p["fast"] >= p["slow"]:
        return f"fast ({int(p['fast'])}) must be smaller than slow ({int(p['slow'])})."
    return None


STRATEGY = Strategy(
    name="sma_cross",
    signal=sma_cross_signal_nb,
    params=(
        Param("fast", int, 20, 1, 500, "fast SMA window, bars"),
        Param("slow", int, 100, 2, 1000, "slow SMA window, bars"),
        Param("allow_short", int, 0, 0, 1, "1 to go short when fast < slow"),
    ),
    doc=__doc__ or "",
    warmup=lambda p: int(p["slow"]),
    constraint=_constraint,
)
