"""Householder QR least squares on plain arrays (Golub & Van Loan, Matrix Computations,
4th ed., Alg. 5.1.1 / 5.2.1): the numerically stable way to get nested-model residual sums of
squares, coefficients and t-statistics without forming X'X.

Matrices are stored column by column: ``a[j]`` is column j (length n), so every inner loop
runs over contiguous memory.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
RANK_TOL = 1e-12  # a column whose remaining norm is below this share of its own norm: collinear


@nb.njit(cache=True, nogil=True)
def householder_nb(a: FloatArray, y: FloatArray, diag: FloatArray) -> bool:
    """Triangularise ``a`` (p columns of length n, in place) and apply the same reflections to
    ``y``. Afterwards R[k, k] = diag[k], R[k, j] = a[j, k] for j > k, y[:p] = (Q'y)[:p] and
    y[p:] holds the residual part (sum of its squares = SSR). False if a column is collinear
    with the ones before it."""
    p, n = a.shape
    for k in range(p):
        col = a[k]
        s = 0.0
        for i in range(k, n):
            s += col[i] * col[i]
        whole = s
        for i in range(k):
            whole += col[i] * col[i]
        norm = math.sqrt(s)
        if norm == 0.0 or norm <= RANK_TOL * math.sqrt(whole):
            return False
        alpha = -norm if col[k] >= 0.0 else norm
        vnorm2 = 2.0 * norm * (norm + abs(col[k]))
        col[k] -= alpha
        for j in range(k + 1, p):
            other = a[j]
            d = 0.0
            for i in range(k, n):
                d += col[i] * other[i]
            f = 2.0 * d / vnorm2
            for i in range(k, n):
                other[i] -= f * col[i]
        d = 0.0
        for i in range(k, n):
            d += col[i] * y[i]
        f = 2.0 * d / vnorm2
        for i in range(k, n):
            y[i] -= f * col[i]
        diag[k] = alpha
    return True


@nb.njit(cache=True, nogil=True)
def solve_nb(a: FloatArray, qty: FloatArray, diag: FloatArray, out: FloatArray) -> None:
    """Coefficients from :func:`householder_nb`'s factors: back-substitute R b = (Q'y)[:p]."""
    p = a.shape[0]
    for k in range(p - 1, -1, -1):
        v = qty[k]
        for j in range(k + 1, p):
            v -= a[j, k] * out[j]
        out[k] = v / diag[k]


@nb.njit(cache=True, nogil=True)
def tail_ssr_nb(qty: FloatArray, p: int) -> float:
    """Sum of squares of ``qty[p:]``: the SSR of the regression on the first p columns."""
    s = 0.0
    for i in range(p, qty.size):
        s += qty[i] * qty[i]
    return s
