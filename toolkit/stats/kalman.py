"""Kalman-filter dynamic hedge ratio: y_t = beta_t x_t + alpha_t + e_t with a random-walk state.

The standard linear-Gaussian filter (Harvey 1989, "Forecasting, Structural Time Series Models
and the Kalman Filter", sec. 3.2; Durbin & Koopman 2012, sec. 4.3) for the state
s_t = [beta_t, alpha_t]: s_t = s_{t-1} + w_t, w_t ~ N(0, Q); y_t = H_t s_t + e_t,
H_t = [x_t, 1], e_t ~ N(0, R). Prediction: s_t|t-1 = s_t-1|t-1, P_t|t-1 = P_t-1|t-1 + Q
(the first bar starts from the prior itself, as pykalman does); forecast error
v_t = y_t - H_t s_t|t-1 with variance F_t = H_t P_t|t-1 H_t' + R; update with gain
K_t = P_t|t-1 H_t' / F_t: s_t|t = s_t|t-1 + K_t v_t, P_t|t = P_t|t-1 - K_t H_t P_t|t-1.

Causal: the values at bar t use bars 0..t only, so appending bars never changes them.
v_t / sqrt(F_t) is the z-score a pairs rule trades on (Chan 2013, "Algorithmic Trading", ch. 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import numpy.typing as npt

from toolkit.errors import ConfigError, DataError
from toolkit.stats.engle_granger import finite_series

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class KalmanHedge:
    """Per bar: filtered hedge ratio ``beta`` and intercept ``alpha`` (after seeing bar t), the
    one-step forecast error ``error`` of y and its variance ``variance`` (before bar t), and
    the filtered state covariance ``state_cov`` (n x 2 x 2)."""

    beta: FloatArray
    alpha: FloatArray
    error: FloatArray
    variance: FloatArray
    state_cov: FloatArray

    @property
    def zscore(self) -> FloatArray:
        """Standardised forecast error v_t / sqrt(F_t)."""
        return np.asarray(self.error / np.sqrt(self.variance))


@nb.njit(cache=True, nogil=True)
def kalman_hedge_nb(
    y: FloatArray,
    x: FloatArray,
    q: FloatArray,
    r: float,
    mean0: FloatArray,
    cov0: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The filter above on plain arrays; q and cov0 are 2 x 2, mean0 is [beta, alpha]."""
    n = y.size
    beta = np.empty(n)
    alpha = np.empty(n)
    error = np.empty(n)
    variance = np.empty(n)
    covs = np.empty((n, 2, 2))
    b, a = mean0[0], mean0[1]
    p00, p01, p10, p11 = cov0[0, 0], cov0[0, 1], cov0[1, 0], cov0[1, 1]
    for t in range(n):
        if t > 0:  # predict: random walk, P + Q
            p00 += q[0, 0]
            p01 += q[0, 1]
            p10 += q[1, 0]
            p11 += q[1, 1]
        h = x[t]
        ph0 = p00 * h + p01  # P H'
        ph1 = p10 * h + p11
        hp0 = h * p00 + p10  # H P
        hp1 = h * p01 + p11
        f = h * ph0 + ph1 + r
        v = y[t] - (b * h + a)
        k0 = ph0 / f
        k1 = ph1 / f
        b += k0 * v
        a += k1 * v
        p00 -= k0 * hp0
        p01 -= k0 * hp1
        p10 -= k1 * hp0
        p11 -= k1 * hp1
        beta[t], alpha[t], error[t], variance[t] = b, a, v, f
        covs[t, 0, 0], covs[t, 0, 1], covs[t, 1, 0], covs[t, 1, 1] = p00, p01, p10, p11
    return beta, alpha, error, variance, covs


def _matrix(value: float | npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    out = arr * np.eye(2) if arr.ndim == 0 else arr
    ok = (
        out.shape == (2, 2)
        and bool(np.isfinite(out).all())
        and bool(np.allclose(out, out.T))
        and bool((np.linalg.eigvalsh(out) >= 0).all())
    )
    if not ok:
        raise ConfigError(
            f"{name} must be a non-negative number or a symmetric positive semi-definite "
            f"2 x 2 matrix (order beta, alpha); got {value!r}."
        )
    return np.ascontiguousarray(out)


def kalman_hedge(
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    transition_cov: float | npt.ArrayLike = 1e-5,
    observation_cov: float = 1e-3,
    initial_mean: tuple[float, float] = (0.0, 0.0),
    initial_cov: float | npt.ArrayLike = 1.0,
) -> KalmanHedge:
    """Filter the hedge ratio of y on x (aligned, no gaps). ``transition_cov`` Q and
    ``initial_cov`` P0 are numbers (times the identity) or 2 x 2 matrices over (beta, alpha);
    ``observation_cov`` is R. Chan's delta parametrisation is Q = delta / (1 - delta) I."""
    yy, xx = finite_series(y, "y"), finite_series(x, "x")
    if yy.size != xx.size:
        raise DataError(f"y and x must have the same length; got {yy.size} and {xx.size}.")
    if not (np.isfinite(observation_cov) and observation_cov > 0):
        raise ConfigError(f"observation_cov={observation_cov!r} must be a positive number.")
    mean0 = np.asarray(initial_mean, dtype=np.float64)
    if mean0.shape != (2,) or not np.isfinite(mean0).all():
        raise ConfigError(f"initial_mean={initial_mean!r} must be two numbers (beta, alpha).")
    q = _matrix(transition_cov, "transition_cov")
    cov0 = _matrix(initial_cov, "initial_cov")
    beta, alpha, error, variance, covs = kalman_hedge_nb(
        yy, xx, q, float(observation_cov), mean0, cov0
    )
    return KalmanHedge(beta, alpha, error, variance, covs)
