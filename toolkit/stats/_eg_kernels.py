"""Engle-Granger kernels: first-stage OLS residuals, the ADF regression on them with an
information-criterion lag search, and the whole screen over a panel's pairs.

Engle & Granger (1987), "Co-integration and Error Correction", Econometrica 55(2): regress y
on x (and deterministic terms), test the residuals for a unit root with the augmented
Dickey-Fuller regression without deterministic terms (Said & Dickey 1984):
``d e_t = rho e_{t-1} + sum_{l=1..L} c_l d e_{t-l} + u_t``; the statistic is rho's t-value.
L is chosen by AIC or BIC over 0..maxlag on the common sample of the largest model, then the
chosen model is re-fitted on all rows it can use (statsmodels' ``adfuller`` convention).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

from toolkit.stats._qr import householder_nb, solve_nb, tail_ssr_nb

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
AUTOLAG_NONE, AUTOLAG_AIC, AUTOLAG_BIC = 0, 1, 2
NO_LAG, NO_FIT = -1, -2  # lag codes: first stage collinear / the ADF regression fits exactly
LOG_2PI = math.log(2.0 * math.pi)


@nb.njit(cache=True, nogil=True)
def first_stage_nb(
    y: FloatArray, xs: FloatArray, centered: bool, resid: FloatArray, coef: FloatArray
) -> float:
    """OLS of y on the columns of ``xs`` (k x n); residuals into ``resid``, coefficients into
    ``coef``; returns R^2 (centred when the regressors hold a constant), NaN if collinear."""
    k, n = xs.shape
    a = xs.copy()
    qty = y.copy()
    diag = np.empty(k)
    if not householder_nb(a, qty, diag):
        return math.nan
    solve_nb(a, qty, diag, coef)
    ssr = 0.0
    for i in range(n):
        fit = 0.0
        for j in range(k):
            fit += xs[j, i] * coef[j]
        resid[i] = y[i] - fit
        ssr += resid[i] * resid[i]
    mean = 0.0
    if centered:
        for i in range(n):
            mean += y[i]
        mean /= n
    tss = 0.0
    for i in range(n):
        tss += (y[i] - mean) * (y[i] - mean)
    if tss == 0.0:  # constant y: nothing to explain
        return math.nan
    return 1.0 - ssr / tss


@nb.njit(cache=True, nogil=True)
def _adf_design_nb(e: FloatArray, lags: int, level_first: bool) -> tuple[FloatArray, FloatArray]:
    """ADF regression without deterministic terms on ``lags`` lagged differences, on the rows
    t = lags+1 .. n-1 (0-based): dependent d e_t, columns e_{t-1} and d e_{t-1..t-lags}.
    The level is column 0 (``level_first``, for the nested lag search) or the last column."""
    n = e.size
    rows = n - 1 - lags
    a = np.empty((lags + 1, rows))
    dep = np.empty(rows)
    level = 0 if level_first else lags
    first = 1 if level_first else 0
    for r in range(rows):
        t = lags + r  # index into the differences d[t] = e[t + 1] - e[t]
        dep[r] = e[t + 1] - e[t]
        a[level, r] = e[t]
        for lag in range(1, lags + 1):
            a[first + lag - 1, r] = e[t + 1 - lag] - e[t - lag]
    return a, dep


@nb.njit(cache=True, nogil=True)
def _nested_ssr_qr_nb(e: FloatArray, maxlag: int) -> tuple[FloatArray, bool]:
    """SSR of the ADF regressions with 0..maxlag lags on the common sample, from one QR of
    the largest: SSR_p is the tail sum of squares of Q'y from p on (Golub & Van Loan 5.3)."""
    a, dep = _adf_design_nb(e, maxlag, True)
    ssr = np.empty(maxlag + 1)
    diag = np.empty(maxlag + 1)
    if not householder_nb(a, dep, diag):
        return ssr, False
    tail = tail_ssr_nb(dep, maxlag + 1)
    for p in range(maxlag + 1, 0, -1):  # p regressors: the level and p - 1 lags
        ssr[p - 1] = tail
        tail += dep[p - 1] * dep[p - 1]
    return ssr, True


@nb.njit(cache=True, nogil=True)
def _nested_ssr_gram_nb(e: FloatArray, maxlag: int) -> tuple[FloatArray, bool]:
    """The same SSRs from the (maxlag + 2)-square moment matrix of [level, lags, y], in
    O(n maxlag): the lagged differences' cross moments along each diagonal follow from one dot
    product by adding the entering and removing the leaving row, and the Cholesky factor's last
    row holds the nested fits (SSR_p = L[y,y]^2 + sum_{i >= p} L[y,i]^2). False if the
    factorisation breaks down (the caller then uses the QR)."""
    n = e.size
    m = maxlag
    rows = n - 1 - m
    k = m + 2
    d = np.empty(n - 1)
    for i in range(n - 1):
        d[i] = e[i + 1] - e[i]
    g = np.zeros((k, k))
    # column c of the design: 0 level e[m + r]; l = 1..m the lag d[m - l + r]; k - 1 is y = d[m + r]
    for delta in range(m + 1):  # moments of lags (l, l + delta), l = 0 is y
        s = 0.0
        for r in range(rows):
            s += d[m + r] * d[m - delta + r]
        for l1 in range(m + 1 - delta):
            l2 = l1 + delta
            if l1 > 0:  # step from (l1 - 1, l2 - 1): one row enters at the top, one leaves
                a0, b0 = m - l1, m - l2
                s += d[a0] * d[b0] - d[a0 + rows] * d[b0 + rows]
            c1 = k - 1 if l1 == 0 else l1
            c2 = k - 1 if l2 == 0 else l2
            g[c1, c2] = s
            g[c2, c1] = s
    for lag in range(m + 1):
        s = 0.0
        for r in range(rows):
            s += e[m + r] * d[m - lag + r]
        c = k - 1 if lag == 0 else lag
        g[0, c] = s
        g[c, 0] = s
    s = 0.0
    for r in range(rows):
        s += e[m + r] * e[m + r]
    g[0, 0] = s
    low = np.zeros((k, k))  # Cholesky, Golub & Van Loan Alg. 4.2.1
    for j in range(k):
        v = g[j, j]
        for q in range(j):
            v -= low[j, q] * low[j, q]
        if not v > 0.0:
            return np.empty(m + 1), False
        low[j, j] = math.sqrt(v)
        for i in range(j + 1, k):
            w = g[i, j]
            for q in range(j):
                w -= low[i, q] * low[j, q]
            low[i, j] = w / low[j, j]
    ssr = np.empty(m + 1)
    tail = low[k - 1, k - 1] * low[k - 1, k - 1]
    for p in range(m + 1, 0, -1):
        ssr[p - 1] = tail
        tail += low[k - 1, p - 1] * low[k - 1, p - 1]
    return ssr, True


@nb.njit(cache=True, nogil=True)
def adf_nb(e: FloatArray, maxlag: int, autolag: int) -> tuple[float, int, float]:
    """ADF t-statistic of ``e`` (no deterministic terms), the lag used and the best criterion
    (NaN without a search). The search compares the nested models with 0..maxlag lags on the
    common sample by their SSRs (moment matrix, or one QR if that breaks down); the chosen
    model is re-fitted by QR. NaN with lag NO_FIT when a regression leaves no residual
    (callers keep a degree of freedom; an exactly fitted regression has no t-statistic)."""
    best_lag = maxlag
    best_ic = math.nan
    if autolag != AUTOLAG_NONE:
        rows = e.size - 1 - maxlag
        if rows <= maxlag + 1:
            return math.nan, NO_FIT, math.nan
        ssr, ok = _nested_ssr_gram_nb(e, maxlag)
        if not ok:
            ssr, ok = _nested_ssr_qr_nb(e, maxlag)
        if not ok or not ssr[maxlag] > 0.0:
            return math.nan, NO_FIT, math.nan
        penalty = 2.0 if autolag == AUTOLAG_AIC else math.log(rows)
        best_lag = 0
        for p in range(1, maxlag + 2):  # p regressors: the level and p - 1 lags
            # Gaussian log-likelihood: llf = -rows/2 (log 2pi + log(SSR/rows) + 1)
            ic = rows * (LOG_2PI + math.log(ssr[p - 1] / rows) + 1.0) + penalty * p
            if p == 1 or ic < best_ic:  # ties go to the shorter lag
                best_ic = ic
                best_lag = p - 1
    a, dep = _adf_design_nb(e, best_lag, False)
    rows = dep.size
    p = best_lag + 1
    diag = np.empty(p)
    if rows <= p or not householder_nb(a, dep, diag):
        return math.nan, NO_FIT, best_ic
    scale = math.sqrt(tail_ssr_nb(dep, p) / (rows - p))
    if not scale > 0.0:
        return math.nan, NO_FIT, best_ic
    # level last: coefficient dep[p-1]/R_pp, standard error scale/|R_pp|
    t = dep[p - 1] / scale
    if diag[p - 1] < 0.0:
        t = -t
    return t, best_lag, best_ic


@nb.njit(cache=True, nogil=True)
def eg_nb(
    y: FloatArray,
    xs: FloatArray,
    centered: bool,
    maxlag: int,
    autolag: int,
    collinear_r2: float,
    coef: FloatArray,
) -> tuple[float, int]:
    """Engle-Granger t-statistic and lag for y on the columns of ``xs`` (x first, then the
    deterministic terms); -inf with lag -1 when R^2 reaches ``collinear_r2`` (the residuals
    are then numerical noise and the pair is cointegrated by construction)."""
    resid = np.empty(y.size)
    r2 = first_stage_nb(y, xs, centered, resid, coef)
    if math.isnan(r2):
        return math.nan, NO_LAG
    if r2 >= collinear_r2:
        return -math.inf, NO_LAG
    t, lag, _ = adf_nb(resid, maxlag, autolag)
    return t, lag


@nb.njit(cache=True, nogil=True)
def screen_nb(
    prices: FloatArray,
    pairs: IntArray,
    bounds: IntArray,
    maxlags: IntArray,
    n_trend: int,
    autolag: int,
    collinear_r2: float,
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Engle-Granger for every (y, x) column pair of ``prices`` (series x time), pair i on
    the rows bounds[i, 0]:bounds[i, 1] with maxlags[i]: t-statistics, lags and first-stage
    coefficients (x's, then the ``n_trend`` terms': constant, t, t^2 with t = 1..n).
    Releases the GIL: callers run chunks of pairs in threads (numba's parallel=True is not
    used, its compiled code does not load from the on-disk cache and costs ~10 s a process)."""
    m = pairs.shape[0]
    k = 1 + n_trend
    stats = np.empty(m)
    lags = np.empty(m, dtype=np.int64)
    coefs = np.empty((m, k))
    for i in range(m):
        lo, hi = bounds[i, 0], bounds[i, 1]
        xs = np.empty((k, hi - lo))
        xs[0] = prices[pairs[i, 1], lo:hi]
        for r in range(hi - lo):
            t = r + 1.0
            if n_trend > 0:
                xs[1, r] = 1.0
            if n_trend > 1:
                xs[2, r] = t
            if n_trend > 2:
                xs[3, r] = t * t
        stats[i], lags[i] = eg_nb(
            prices[pairs[i, 0], lo:hi].copy(),
            xs,
            n_trend > 0,
            maxlags[i],
            autolag,
            collinear_r2,
            coefs[i],
        )
    return stats, lags, coefs
