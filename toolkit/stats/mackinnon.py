"""MacKinnon p-values and critical values for ADF / Engle-Granger tau statistics.

p-values: MacKinnon (1994) asymptotic response surfaces; critical values: MacKinnon (2010)
finite-sample surfaces (coefficients and citations in :mod:`toolkit.stats._mackinnon_tables`).
"""

from __future__ import annotations

import math
from typing import Literal, overload

import numba as nb
import numpy as np
import numpy.typing as npt

from toolkit.errors import ConfigError
from toolkit.stats import _mackinnon_tables as tables

Trend = Literal["n", "c", "ct", "ctt"]
TRENDS: tuple[Trend, ...] = ("n", "c", "ct", "ctt")
FloatArray = npt.NDArray[np.float64]


def check_trend(trend: str) -> Trend:
    """``trend`` as a :data:`Trend`, or a ConfigError naming the valid ones."""
    for known in TRENDS:
        if trend == known:
            return known
    raise ConfigError(f"trend={trend!r} is not valid; use one of {', '.join(TRENDS)}.")


def p_value_coefficients(trend: str, n_series: int) -> FloatArray:
    """The 1994 surface for (trend, N) as one vector: tau_min, tau_star, tau_max, the three
    small-p and the four large-p coefficients (printed scaling undone)."""
    trend = check_trend(trend)
    if not 1 <= n_series <= 6:
        raise ConfigError(f"n_series={n_series} has no MacKinnon (1994) p-value; use 1..6.")
    i = n_series - 1
    small = [c * s for c, s in zip(tables.SMALL_P[trend][i], tables.SMALL_P_SCALE, strict=True)]
    large = [c * s for c, s in zip(tables.LARGE_P[trend][i], tables.LARGE_P_SCALE, strict=True)]
    bounds = [tables.TAU_MIN[trend][i], tables.TAU_STAR[trend][i], tables.TAU_MAX[trend][i]]
    return np.array(bounds + small + large, dtype=np.float64)


@nb.njit(cache=True, nogil=True)
def p_value_nb(stat: float, coef: FloatArray) -> float:
    """MacKinnon (1994): ``Phi(g0 + g1 t + g2 t^2 [+ g3 t^3])``, 0 below tau_min, 1 above tau_max,
    small-p coefficients up to tau*, large-p above; ``coef`` from :func:`p_value_coefficients`."""
    if math.isnan(stat):
        return math.nan
    if stat > coef[2]:
        return 1.0
    if stat < coef[0]:
        return 0.0
    if stat <= coef[1]:
        z = coef[3] + stat * (coef[4] + stat * coef[5])
    else:
        z = coef[6] + stat * (coef[7] + stat * (coef[8] + stat * coef[9]))
    return 0.5 * math.erfc(-z / math.sqrt(2.0))  # standard normal cdf


@nb.njit(cache=True, nogil=True)
def _p_values_nb(stats: FloatArray, coef: FloatArray) -> FloatArray:
    out = np.empty(stats.size)
    for i in range(stats.size):
        out[i] = p_value_nb(stats[i], coef)
    return out


@overload
def mackinnon_p(stat: float, trend: Trend = "c", n_series: int = 1) -> float: ...
@overload
def mackinnon_p(stat: npt.ArrayLike, trend: Trend = "c", n_series: int = 1) -> FloatArray: ...
def mackinnon_p(
    stat: float | npt.ArrayLike, trend: Trend = "c", n_series: int = 1
) -> float | FloatArray:
    """Asymptotic p-value of a tau statistic (MacKinnon 1994); ``n_series`` is the number of I(1)
    series (1 for ADF, 2 for an Engle-Granger pair); ``trend`` the deterministic terms of the
    (first-stage) regression. A scalar gives a float, an array an array of the same shape.
    The two published surfaces meet at tau* with a seam (up to 9e-4 in p), so p rises with t
    on each side of tau* but may step down across it."""
    coef = p_value_coefficients(trend, n_series)
    if np.ndim(stat) == 0:
        return float(p_value_nb(float(stat), coef))  # type: ignore[arg-type]
    arr = np.asarray(stat, dtype=np.float64)
    return np.asarray(_p_values_nb(arr.ravel(), coef)).reshape(arr.shape)


def mackinnon_crit(n_series: int = 1, trend: Trend = "c", nobs: float = math.inf) -> FloatArray:
    """1 %, 5 % and 10 % critical values at sample size ``nobs`` (MacKinnon 2010:
    ``b_inf + b1/T + b2/T^2 + b3/T^3``; asymptotic when ``nobs`` is inf). NaN where the tables
    have no surface (trend "n" with N > 1)."""
    trend = check_trend(trend)
    if not 1 <= n_series <= 12:
        raise ConfigError(f"n_series={n_series} has no MacKinnon (2010) surface; use 1..12.")
    rows = tables.CRIT[trend]
    if n_series > len(rows):
        return np.full(3, np.nan)
    inv = 0.0 if math.isinf(nobs) else 1.0 / nobs
    return np.array(
        [b0 + inv * (b1 + inv * (b2 + inv * b3)) for b0, b1, b2, b3 in rows[n_series - 1]]
    )
