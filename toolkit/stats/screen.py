"""Screen every pair of a price panel for cointegration in one call, with false-discovery
control: Engle-Granger per pair (numba, pairs in parallel), Benjamini-Hochberg q-values.

Screening is only honest on data the trader could have seen: run it inside each walk-forward
training window, and count every screened pair as a trial (e.g. in the deflated Sharpe ratio).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import combinations

import numba
import numpy as np
import pandas as pd

from toolkit.errors import DataError
from toolkit.stats._eg_kernels import screen_nb
from toolkit.stats.engle_granger import (
    COLLINEAR_R2,
    Autolag,
    autolag_code,
    default_maxlag,
    trend_terms,
)
from toolkit.stats.fdr import bh_qvalues, bh_reject
from toolkit.stats.mackinnon import Trend, check_trend, mackinnon_p

COLUMNS = ["y", "x", "nobs", "t_stat", "p_value", "lag", "beta", "q_value", "reject"]


def coint_screen(
    prices: pd.DataFrame,
    fdr: float = 0.05,
    trend: Trend = "c",
    maxlag: int | None = None,
    autolag: Autolag = "aic",
    threads: int | None = None,
) -> pd.DataFrame:
    """Engle-Granger test of every column pair (y, x) of ``prices`` (columns in their order, y
    the earlier one; rows aligned dates without gaps, e.g. ``tk.load_many(symbols)["close"]``).

    Returns one row per pair: nobs, t_stat, p_value (MacKinnon 1994), lag, beta (hedge ratio
    of y on x), q_value (Benjamini-Hochberg 1995 over all pairs screened) and reject
    (q_value <= fdr). Each row equals :func:`engle_granger` on that pair. Pairs run in
    ``threads`` threads (default: numba's thread count).
    """
    trend = check_trend(trend)
    bh_reject([0.5], fdr)  # a bad level fails before the work
    if not isinstance(prices, pd.DataFrame) or prices.shape[1] < 2:
        raise DataError("coint_screen needs a DataFrame with at least two price columns.")
    values = prices.to_numpy(dtype=np.float64).T.copy()
    bad = ~np.isfinite(values)
    if bad.any():
        col = prices.columns[int(np.flatnonzero(bad.any(axis=1))[0])]
        raise DataError(
            f"column {col!r} has {int(bad.sum())} missing/non-finite values in the panel; "
            "align on common dates (tk.load_many) or dropna() first."
        )
    flat = values.min(axis=1) == values.max(axis=1)
    if flat.any():
        col = prices.columns[int(np.flatnonzero(flat)[0])]
        raise DataError(f"column {col!r} is constant; a cointegration test needs a moving series.")
    n = values.shape[1]
    lags = default_maxlag(n, maxlag)
    code = autolag_code(autolag)
    pairs = np.array(list(combinations(range(values.shape[0]), 2)), dtype=np.int64)
    terms = trend_terms(trend, n)
    chunks = np.array_split(pairs, max(1, min(threads or numba.get_num_threads(), len(pairs))))
    with ThreadPoolExecutor(len(chunks), "toolkit-coint") as pool:
        parts = list(
            pool.map(
                lambda c: screen_nb(values, c, terms, trend != "n", lags, code, COLLINEAR_R2),
                chunks,
            )
        )
    stats = np.concatenate([part[0] for part in parts])
    used = np.concatenate([part[1] for part in parts])
    coefs = np.concatenate([part[2] for part in parts])
    names = list(prices.columns)
    failed = np.flatnonzero(np.isnan(stats))
    if failed.size:  # x a multiple of a trend term, or residuals fitted exactly
        i, j = pairs[failed[0]]
        raise DataError(
            f"{failed.size} pairs have no usable regression (collinear regressors or an exact "
            f"fit), first {names[i]!r} on {names[j]!r} with trend {trend!r}; drop such columns "
            "or use another trend."
        )
    p_values = mackinnon_p(stats, trend, 2)
    q_values = bh_qvalues(p_values)
    return pd.DataFrame(
        {
            "y": [names[i] for i in pairs[:, 0]],
            "x": [names[j] for j in pairs[:, 1]],
            "nobs": n,
            "t_stat": stats,
            "p_value": p_values,
            "lag": used,
            "beta": coefs[:, 0],
            "q_value": q_values,
            "reject": bh_reject(p_values, fdr),
        },
        columns=COLUMNS,
    )
