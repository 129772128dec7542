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
import numpy.typing as npt
import pandas as pd

from toolkit.errors import ConfigError, DataError
from toolkit.stats._eg_kernels import screen_nb
from toolkit.stats.engle_granger import COLLINEAR_R2, Autolag, autolag_code, default_maxlag
from toolkit.stats.fdr import bh_qvalues, bh_reject
from toolkit.stats.mackinnon import Trend, check_trend, mackinnon_p

COLUMNS = ["y", "x", "nobs", "t_stat", "p_value", "lag", "beta", "q_value", "reject"]


def _bounds(
    prices: pd.DataFrame, values: npt.NDArray[np.float64], pairwise: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each column's first and last finite row, checked: no gap inside (and, unless
    ``pairwise``, no missing value at all)."""
    finite = np.isfinite(values)
    first = np.where(finite.any(axis=1), finite.argmax(axis=1), 0)
    last = values.shape[1] - np.where(finite.any(axis=1), finite[:, ::-1].argmax(axis=1), 0)
    for c in range(values.shape[0]):
        inside = ~finite[c, first[c] : last[c]]
        if (
            not finite[c].any()
            or inside.any()
            or (not pairwise and (first[c] or last[c] < values.shape[1]))
        ):
            col = prices.columns[c]
            raise DataError(
                f"column {col!r} has {int((~finite[c]).sum())} missing/non-finite values in "
                "the panel"
                + (
                    ""
                    if pairwise or inside.any()
                    else "; pairwise=True tests each pair on the dates both have"
                )
                + "; align on common dates (tk.load_many) or fill/drop the gaps first."
            )
    return first, last


def coint_screen(
    prices: pd.DataFrame,
    fdr: float = 0.05,
    trend: Trend = "c",
    maxlag: int | None = None,
    autolag: Autolag = "aic",
    threads: int | None = None,
    pairwise: bool = False,
) -> pd.DataFrame:
    """Engle-Granger test of every column pair (y, x) of ``prices`` (columns in their order, y
    the earlier one; rows aligned dates without gaps, e.g. ``tk.load_many(symbols)["close"]``).
    With ``pairwise=True`` columns may start and end at different rows (missing values only
    before their first and after their last value) and each pair is tested on the rows both
    have, with its own nobs and default maxlag.

    Returns one row per pair: nobs, t_stat, p_value (MacKinnon 1994), lag, beta (hedge ratio
    of y on x), q_value (Benjamini-Hochberg 1995 over all pairs screened) and reject
    (q_value <= fdr). Each row equals :func:`engle_granger` on that pair. Pairs run in
    ``threads`` threads (default: numba's thread count).
    """
    trend = check_trend(trend)
    bh_reject([0.5], fdr)  # a bad level fails before the work
    if not isinstance(prices, pd.DataFrame) or prices.shape[1] < 2:
        raise DataError("coint_screen needs a DataFrame with at least two price columns.")
    values = np.ascontiguousarray(prices.to_numpy(dtype=np.float64).T)
    first, last = _bounds(prices, values, pairwise)
    names = list(prices.columns)
    for c in range(values.shape[0]):
        seen = values[c, first[c] : last[c]]
        if seen.min() == seen.max():
            raise DataError(
                f"column {names[c]!r} is constant; a cointegration test needs a moving series."
            )
    pairs = np.array(list(combinations(range(values.shape[0]), 2)), dtype=np.int64)
    bounds = np.column_stack(
        [
            np.maximum(first[pairs[:, 0]], first[pairs[:, 1]]),
            np.minimum(last[pairs[:, 0]], last[pairs[:, 1]]),
        ]
    ).astype(np.int64)
    nobs = bounds[:, 1] - bounds[:, 0]
    maxlags = np.empty(len(pairs), dtype=np.int64)
    for i, n in enumerate(nobs):
        a, b = names[pairs[i, 0]], names[pairs[i, 1]]
        if n < 1:
            raise DataError(f"pair {a!r}-{b!r} has no date with both prices.")
        try:
            maxlags[i] = default_maxlag(int(n), maxlag)
        except (DataError, ConfigError) as exc:
            raise type(exc)(f"pair {a!r}-{b!r}: {exc}") from None
    code = autolag_code(autolag)
    n_trend = {"n": 0, "c": 1, "ct": 2, "ctt": 3}[trend]
    chunks = np.array_split(
        np.arange(len(pairs)), max(1, min(threads or numba.get_num_threads(), len(pairs)))
    )
    with ThreadPoolExecutor(len(chunks), "toolkit-coint") as pool:
        parts = list(
            pool.map(
                lambda c: screen_nb(
                    values, pairs[c], bounds[c], maxlags[c], n_trend, code, COLLINEAR_R2
                ),
                chunks,
            )
        )
    stats = np.concatenate([part[0] for part in parts])
    used = np.concatenate([part[1] for part in parts])
    coefs = np.concatenate([part[2] for part in parts])
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
            "nobs": nobs,
            "t_stat": stats,
            "p_value": p_values,
            "lag": used,
            "beta": coefs[:, 0],
            "q_value": q_values,
            "reject": bh_reject(p_values, fdr),
        },
        columns=COLUMNS,
    )
