"""False-discovery-rate control over many tests (Benjamini & Hochberg 1995)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from toolkit.errors import ConfigError, DataError

FloatArray = npt.NDArray[np.float64]


def bh_qvalues(p_values: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order as the input.

    Benjamini & Hochberg (1995), "Controlling the False Discovery Rate", JRSS B 57(1): with the
    m p-values sorted, p_(1) <= ... <= p_(m), reject H_(1..k) for the largest k with
    p_(k) <= k q / m. Equivalently q_(i) = min_{j >= i} min(1, m p_(j) / j), and a test is
    rejected at FDR level q exactly when q_i <= q.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise DataError("p-values must lie in [0, 1] without NaN for the Benjamini-Hochberg step.")
    m = p.size
    order = np.argsort(p, kind="stable")
    # p_(i) / (i/m): exact at i = m and >= p_(i) below it; m p / i can fall an ulp under p
    scaled = p[order] / (np.arange(1, m + 1) / m)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q_sorted, 1.0)
    return out


def bh_reject(p_values: npt.ArrayLike, fdr: float = 0.05) -> npt.NDArray[np.bool_]:
    """Which hypotheses the Benjamini-Hochberg step-up procedure rejects at level ``fdr``."""
    if not 0.0 < fdr < 1.0:
        raise ConfigError(f"fdr={fdr!r} must lie strictly between 0 and 1.")
    return bh_qvalues(p_values) <= fdr
