"""IV rank and IV percentile: where today's implied vol sits in its own recent history.

Over a trailing window of ``window`` observations ending today (252 trading days = one year):

* IV rank = 100 (iv - min) / (max - min) of the window (0 at the window's low, 100 at its high;
  NaN when the window is flat);
* IV percentile = 100 x the share of the window's *earlier* observations strictly below today's
  (the share of the past year's days on which IV was lower than now).

Both are labelled with the number of observations they used (``window_days``) and whether the
window was full: a shorter history is computed over what exists (from ``min_periods`` on) and
marked ``full_window = False``, never passed off as a one-year rank. The shipped option EOD
files span 40 (SPXW 2018), 20 (VXX 2016) and 5 (SPX 2011) trading days, far from 252: their
ranks are partial-window ranks of that file's own 30-day IV (toolkit.options.surface.
atm_iv_history). For long histories the VIX close is the 30-day SPX implied vol proxy
(:func:`vix_rank`): the VIX is Cboe's model-free 30-day implied vol of SPX options, so an
SPX or SPY (a tracker of SPX) IV rank is taken from it; this is documented as a proxy -- it is
not the ATM vol (it includes the skew: typically a few points above ATM) and says nothing
about single stocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from toolkit.data.vix import load_vix
from toolkit.errors import DataError

WINDOW = 252


def _rank_arrays(
    x: NDArray[np.float64], window: int, min_periods: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    n = len(x)
    rank = np.full(n, np.nan)
    pct = np.full(n, np.nan)
    used = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if not np.isfinite(x[i]):
            continue
        past = x[max(0, i - window + 1) : i + 1]
        past = past[np.isfinite(past)]
        used[i] = len(past)
        if len(past) < min_periods:
            continue
        lo, hi = past.min(), past.max()
        rank[i] = 100.0 * (x[i] - lo) / (hi - lo) if hi > lo else np.nan
        earlier = past[:-1]
        pct[i] = 100.0 * float(np.mean(earlier < x[i])) if len(earlier) else np.nan
    return rank, pct, used


def iv_rank(iv: pd.Series, window: int = WINDOW, min_periods: int | None = None) -> pd.DataFrame:
    """IV rank and percentile of a series of implied vols (one value per trading day).

    Returns columns iv, iv_rank, iv_percentile (0-100), window_days (observations in the
    window, NaN excluded) and full_window (``window_days == window``). Days with fewer than
    ``min_periods`` observations (default: ``window``, i.e. full windows only) get NaN.
    """
    if window < 2:
        raise DataError(f"window={window} must be at least 2 observations.")
    need = window if min_periods is None else min_periods
    if not 2 <= need <= window:
        raise DataError(f"min_periods={min_periods} must be between 2 and window={window}.")
    x = iv.to_numpy(dtype=np.float64)
    rank, pct, used = _rank_arrays(x, window, need)
    return pd.DataFrame(
        {
            "iv": x,
            "iv_rank": rank,
            "iv_percentile": pct,
            "window_days": used,
            "full_window": used == window,
        },
        index=iv.index,
    )


def vix_rank(
    name: str = "VIX", window: int = WINDOW, min_periods: int | None = None
) -> pd.DataFrame:
    """IV rank and percentile from Cboe's VIX-family close (decimal vol: 0.2 for 20), the
    30-day SPX implied-vol proxy for long histories (see the module docstring)."""
    closes = load_vix(name)["close"] / 100.0
    return iv_rank(closes, window, min_periods)
