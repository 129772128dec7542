"""Johansen's cointegration rank test: trace and maximum-eigenvalue statistics.

Johansen (1991), "Estimation and Hypothesis Testing of Cointegration Vectors in Gaussian
Vector Autoregressive Models", Econometrica 59(6): in the VECM
``dy_t = Pi y_{t-1} + sum_{i=1..k} G_i dy_{t-i} + e_t`` regress dy_t and y_{t-1} on the lagged
differences (residuals R0, R1), form S_ij = R_i'R_j / T, and solve
``|lambda S11 - S10 S00^-1 S01| = 0``; then trace(r) = -T sum_{i>r} log(1 - lambda_i) and
max-eig(r) = -T log(1 - lambda_{r+1}). Deterministic terms as in LeSage's ``johansen.m`` (and
statsmodels' ``coint_johansen``, the test oracle): the levels are detrended by a polynomial of
order ``det_order`` (-1 none, 0 constant, 1 linear), and for det_order >= 0 every regression
is demeaned. Critical values: MacKinnon, Haug & Michelis (1999), in
:mod:`toolkit.stats._johansen_tables`.

A one-off small-matrix computation (numpy LAPACK), not a hot loop: no numba kernel here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toolkit.errors import ConfigError, DataError
from toolkit.stats._johansen_tables import MAX_EIG, TRACE

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Johansen:
    """Eigenvalues (descending), eigenvectors (columns, normalised v'S11 v = 1, first element
    positive), trace and max-eigen statistics for r = 0..n-1, their 90/95/99 % critical values
    (NaN beyond 12 series) and the effective sample size T."""

    eigenvalues: FloatArray
    eigenvectors: FloatArray
    trace_stat: FloatArray
    max_eig_stat: FloatArray
    trace_crit: FloatArray
    max_eig_crit: FloatArray
    nobs: int

    def rank(self, level: float = 0.05, statistic: str = "trace") -> int:
        """Johansen's sequential test: the first r whose statistic stays below its critical
        value at ``level`` (0.10, 0.05 or 0.01)."""
        column = {0.10: 0, 0.05: 1, 0.01: 2}.get(level)
        if column is None:
            raise ConfigError(f"level={level!r} has no critical value; use 0.10, 0.05 or 0.01.")
        stats, crit = (
            (self.trace_stat, self.trace_crit)
            if statistic == "trace"
            else (self.max_eig_stat, self.max_eig_crit)
        )
        for r in range(stats.size):
            if not stats[r] > crit[r, column]:
                return r
        return int(stats.size)


def _detrend(values: FloatArray, order: int) -> FloatArray:
    """Residuals of each column on a polynomial of ``order`` (none for -1)."""
    if order < 0:
        return values
    basis = np.vander(np.linspace(-1.0, 1.0, values.shape[0]), order + 1)
    coef = np.linalg.lstsq(basis, values, rcond=None)[0]
    return np.asarray(values - basis @ coef)


def _resid(values: FloatArray, regressors: FloatArray) -> FloatArray:
    if regressors.shape[1] == 0:
        return values
    coef = np.linalg.lstsq(regressors, values, rcond=None)[0]
    return np.asarray(values - regressors @ coef)


def johansen(levels: npt.ArrayLike, det_order: int = 0, k_ar_diff: int = 1) -> Johansen:
    """Johansen test of the columns of ``levels`` (time x series, aligned, no gaps) with
    ``k_ar_diff`` lagged differences and deterministic order ``det_order`` (-1, 0 or 1)."""
    y = np.asarray(levels, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] < 2:
        raise DataError(f"johansen needs a 2-d array of at least two series; got {y.shape}.")
    if not np.isfinite(y).all():
        raise DataError("levels hold missing/non-finite values; align and drop them first.")
    if det_order not in (-1, 0, 1):
        raise ConfigError(f"det_order={det_order!r} is not valid; use -1, 0 or 1.")
    n, m = y.shape
    if k_ar_diff < 0 or n - k_ar_diff - 1 <= m * (k_ar_diff + 1) + 1:
        raise ConfigError(f"k_ar_diff={k_ar_diff} needs more than the {n} observations given.")
    y = _detrend(y, det_order)
    inner = 0 if det_order >= 0 else -1
    dy = np.diff(y, axis=0)
    rows = dy.shape[0] - k_ar_diff
    lagged = np.empty((rows, m * k_ar_diff))
    for i in range(1, k_ar_diff + 1):  # dy_{t-i}
        lagged[:, (i - 1) * m : i * m] = dy[k_ar_diff - i : k_ar_diff - i + rows]
    lagged = _detrend(lagged, inner)
    r0 = _resid(_detrend(dy[k_ar_diff:], inner), lagged)
    r1 = _resid(_detrend(y[k_ar_diff : n - 1], inner), lagged)  # y_{t-1}
    s00, s01, s11 = r0.T @ r0 / rows, r0.T @ r1 / rows, r1.T @ r1 / rows
    # generalised symmetric eigenproblem via S11 = L L': eig of L^-1 S10 S00^-1 S01 L^-T
    try:
        chol = np.linalg.cholesky(s11)
        inv_chol = np.linalg.inv(chol)
        middle = inv_chol @ s01.T @ np.linalg.solve(s00, s01) @ inv_chol.T
    except np.linalg.LinAlgError:
        raise DataError(
            "the series' moment matrices are singular: a series is constant or a linear "
            "combination of the others; drop it."
        ) from None
    values, vectors = np.linalg.eigh((middle + middle.T) / 2.0)
    values, vectors = values[::-1], inv_chol.T @ vectors[:, ::-1]
    vectors = vectors * np.where(vectors[0] < 0, -1.0, 1.0)
    logs = np.log1p(-values)
    trace = -rows * np.cumsum(logs[::-1])[::-1]
    max_eig = -rows * logs
    crit_trace = np.full((m, 3), np.nan)
    crit_max = np.full((m, 3), np.nan)
    for r in range(m):
        if m - r <= 12:
            crit_trace[r] = TRACE[det_order][m - r - 1]
            crit_max[r] = MAX_EIG[det_order][m - r - 1]
    return Johansen(values, vectors, trace, max_eig, crit_trace, crit_max, rows)
