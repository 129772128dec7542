"""The newest bar's targets from rolling windows: how the live bridge calls any strategy.

A live session holds one window of bars per symbol. A single-symbol strategy's signal runs
on each window; a cross-sectional one on the panel of all windows (their common bars, as a
backtest's aligned panel), once, for one shared book. Either way the last value per symbol
is the target the session acts on -- the same signal function a backtest calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from toolkit.errors import DataError
from toolkit.strategies.spec import Strategy

_FIELDS = ("open", "high", "low", "close", "volume")


def latest_targets(
    strategy: Strategy, windows: Mapping[str, pd.DataFrame], params: Mapping[str, Any]
) -> dict[str, float]:
    """Target exposure (or book weight) per symbol at the last bar of ``windows``."""
    vec = strategy.vector(params)
    if not strategy.cross_sectional:
        out: dict[str, float] = {}
        for sym, w in windows.items():
            o, h, lo, c, v = (
                np.ascontiguousarray(np.asarray(w[f], dtype=np.float64)) for f in _FIELDS
            )
            out[sym] = float(strategy.signal(o, h, lo, c, v, vec)[-1])
        return out
    symbols = list(windows)
    panel = pd.concat({sym: windows[sym][list(_FIELDS)] for sym in symbols}, axis=1, join="inner")
    if panel.empty:
        raise DataError(
            f"strategy {strategy.name!r}: the windows of {', '.join(symbols)} share no bar; "
            "a cross-sectional signal needs them on one calendar."
        )
    o, h, lo, c, v = (
        np.ascontiguousarray(np.asarray(panel.xs(f, axis=1, level=1), dtype=np.float64))
        for f in _FIELDS
    )
    last = strategy.signal(o, h, lo, c, v, vec)[-1]
    return {sym: float(last[j]) for j, sym in enumerate(symbols)}
