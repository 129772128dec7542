"""Engle-Granger two-step cointegration test (Engle & Granger 1987) for one pair.

Same model, lag search and p-value as statsmodels' ``coint`` (its defaults: constant, AIC lag
search up to Schwert's 12 (n/100)^(1/4)); statsmodels is a test oracle only, never imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from toolkit.errors import ConfigError, DataError
from toolkit.stats._eg_kernels import AUTOLAG_AIC, AUTOLAG_BIC, AUTOLAG_NONE, NO_FIT, eg_nb
from toolkit.stats.mackinnon import Trend, check_trend, mackinnon_crit, mackinnon_p

Autolag = Literal["aic", "bic"] | None
FloatArray = npt.NDArray[np.float64]
# statsmodels' threshold: R^2 >= 1 - 100 sqrt(eps) means the pair is (almost) collinear
COLLINEAR_R2 = 1.0 - 100.0 * math.sqrt(float(np.finfo(np.float64).eps))


@dataclass(frozen=True)
class EngleGranger:
    """One pair's test: tau statistic, MacKinnon (1994) p-value, the ADF lag used (-1 when the
    pair is collinear), the observations, MacKinnon (2010) 1/5/10 % critical values and the
    first-stage coefficients (hedge ratio ``beta`` and the trend terms, constant first)."""

    t_stat: float
    p_value: float
    lag: int
    nobs: int
    crit: tuple[float, float, float]
    beta: float
    trend_coef: tuple[float, ...]


def autolag_code(autolag: str | None) -> int:
    """The kernels' code for a lag-search criterion (None: use maxlag lags)."""
    if autolag is None:
        return AUTOLAG_NONE
    codes = {"aic": AUTOLAG_AIC, "bic": AUTOLAG_BIC}
    if autolag.lower() not in codes:
        raise ConfigError(f"autolag={autolag!r} is not valid; use 'aic', 'bic' or None.")
    return codes[autolag.lower()]


def default_maxlag(nobs: int, maxlag: int | None) -> int:
    """Schwert (1989) rule ``ceil(12 (n/100)^(1/4))`` capped at n//2 - 1 (statsmodels' cap),
    or ``maxlag`` checked against that cap; either way the largest ADF regression (n - 1 - m
    rows, m + 1 regressors) must keep a residual degree of freedom, where statsmodels would
    return the t-value of an exact fit (0) for series shorter than ~22 bars."""
    cap = nobs // 2 - 1
    if maxlag is not None and not 0 <= maxlag <= cap:
        raise ConfigError(f"maxlag={maxlag} must be between 0 and nobs//2 - 1 = {max(cap, 0)}.")
    lags = (
        min(cap, int(np.ceil(12.0 * np.power(nobs / 100.0, 1 / 4.0)))) if maxlag is None else maxlag
    )
    if cap < 0 or nobs - 2 * lags - 2 < 1:
        raise DataError(
            f"{nobs} observations leave the ADF regression with {lags} lags no residual degree "
            "of freedom; use more bars or a smaller maxlag."
        )
    return lags


def trend_terms(trend: Trend, nobs: int) -> FloatArray:
    """Deterministic regressors (rows): constant, t, t^2 with t = 1..nobs, as ``trend`` asks."""
    t = np.arange(1, nobs + 1, dtype=np.float64)
    rows = {
        "n": [],
        "c": [np.ones(nobs)],
        "ct": [np.ones(nobs), t],
        "ctt": [np.ones(nobs), t, t**2],
    }
    return np.array(rows[trend], dtype=np.float64).reshape(len(rows[trend]), nobs)


def finite_series(values: npt.ArrayLike, name: str) -> FloatArray:
    """A 1-d float64 copy of ``values``, or a DataError naming ``name`` if it holds NaN/inf."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one series (1-d); got shape {arr.shape}.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise DataError(
            f"{name} has {bad.size} missing/non-finite values (first at position {bad[0]}); "
            "align the series on common dates (e.g. tk.load_many) or drop them first."
        )
    return arr


def engle_granger(
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    trend: Trend = "c",
    maxlag: int | None = None,
    autolag: Autolag = "aic",
) -> EngleGranger:
    """Test y and x (aligned, same length, no gaps) for cointegration: OLS of y on x and the
    trend terms, ADF test of the residuals. Null hypothesis: no cointegration."""
    trend = check_trend(trend)
    yy, xx = finite_series(y, "y"), finite_series(x, "x")
    if yy.size != xx.size:
        raise DataError(f"y and x must have the same length; got {yy.size} and {xx.size}.")
    for name, arr in (("y", yy), ("x", xx)):
        if arr.min() == arr.max():
            raise DataError(f"{name} is constant; a cointegration test needs a moving series.")
    n = yy.size
    lags = default_maxlag(n, maxlag)
    code = autolag_code(autolag)
    terms = trend_terms(trend, n)
    xs = np.vstack([xx[None, :], terms])
    coef = np.full(xs.shape[0], np.nan)
    stat, lag = eg_nb(yy, xs, trend != "n", lags, code, COLLINEAR_R2, coef)
    if math.isnan(stat) and lag == NO_FIT:
        raise DataError("the residuals' ADF regression fits exactly: y and x are deterministic.")
    if math.isnan(stat):
        raise DataError("x (with the trend terms) is collinear: the regression has no solution.")
    crit = mackinnon_crit(2, trend, n - 1)  # n - 1 as statsmodels and Stata's egranger
    return EngleGranger(
        t_stat=float(stat),
        p_value=float(mackinnon_p(stat, trend, 2)),
        lag=int(lag),
        nobs=n,
        crit=(float(crit[0]), float(crit[1]), float(crit[2])),
        beta=float(coef[0]),
        trend_coef=tuple(float(c) for c in coef[1:]),
    )
