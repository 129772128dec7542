"""Rolling OLS hedge ratio: y on x with an intercept over the last ``window`` bars.

Ordinary least squares with one regressor (e.g. Greene, "Econometric Analysis", sec. 3.2):
beta = sum (x - xbar)(y - ybar) / sum (x - xbar)^2, alpha = ybar - beta xbar. Each window is
computed afresh in two passes (means, then centred sums): running sums of x^2 and xy lose
digits to cancellation at price levels, and would drift over thousands of bars.
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
class RollingBeta:
    """Per bar t: slope ``beta``, intercept ``alpha`` and residual standard deviation
    ``resid_std`` (n - 2 degrees of freedom) of the window ending at t; NaN for the first
    window - 1 bars and where x is constant over the window."""

    beta: FloatArray
    alpha: FloatArray
    resid_std: FloatArray


@nb.njit(cache=True, nogil=True)
def rolling_beta_nb(
    y: FloatArray, x: FloatArray, window: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Two-pass OLS of y on [x, 1] over each window of ``window`` bars ending at t."""
    n = y.size
    beta = np.full(n, np.nan)
    alpha = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    for t in range(window - 1, n):
        lo = t - window + 1
        mx = 0.0
        my = 0.0
        for i in range(lo, t + 1):
            mx += x[i]
            my += y[i]
        mx /= window
        my /= window
        sxx = 0.0
        sxy = 0.0
        syy = 0.0
        for i in range(lo, t + 1):
            dx = x[i] - mx
            dy = y[i] - my
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
        if sxx > 0.0:
            b = sxy / sxx
            beta[t] = b
            alpha[t] = my - b * mx
            if window > 2:
                sd[t] = np.sqrt(max(syy - b * sxy, 0.0) / (window - 2))
    return beta, alpha, sd


def rolling_beta(y: npt.ArrayLike, x: npt.ArrayLike, window: int) -> RollingBeta:
    """Rolling OLS of y on x with an intercept over ``window`` bars (aligned, no gaps); the
    value at t uses bars t - window + 1 .. t only (causal)."""
    yy, xx = finite_series(y, "y"), finite_series(x, "x")
    if yy.size != xx.size:
        raise DataError(f"y and x must have the same length; got {yy.size} and {xx.size}.")
    if not isinstance(window, int | np.integer) or window < 2:
        raise ConfigError(f"window={window!r} must be an integer of at least 2 bars.")
    beta, alpha, sd = rolling_beta_nb(yy, xx, int(window))
    return RollingBeta(beta, alpha, sd)
