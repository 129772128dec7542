"""The Kalman hedge ratio equals pykalman's filter (oracle) with the same covariances and
prior, to 1e-10, and is causal: appending bars never changes an earlier value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ConfigError, DataError
from toolkit.stats import kalman_hedge

Q = np.array([[1e-5, 2e-7], [2e-7, 3e-6]])


def _pykalman(
    y: np.ndarray, x: np.ndarray, q: np.ndarray, r: float, m0: np.ndarray, p0: np.ndarray
):  # type: ignore[no-untyped-def]
    from pykalman import KalmanFilter
    from pykalman.standard import _filter

    h = np.stack([x, np.ones_like(x)], axis=1)[:, None, :]
    kf = KalmanFilter(
        transition_matrices=np.eye(2),
        observation_matrices=h,
        transition_covariance=q,
        observation_covariance=[[r]],
        initial_state_mean=m0,
        initial_state_covariance=p0,
    )
    means, covs = kf.filter(y)
    # forecast error variance H P_t|t-1 H' + R from pykalman's predicted covariances
    pred_mean, pred_cov, *_ = _filter(
        np.eye(2), h, q, np.array([[r]]), np.zeros(2), np.zeros(1), m0, p0, y[:, None]
    )
    hh = h[:, 0, :]
    variance = np.einsum("ti,tij,tj->t", hh, pred_cov, hh) + r
    error = y - np.einsum("ti,ti->t", hh, pred_mean)
    return means, covs, variance, error


@pytest.mark.parametrize(("y", "x"), [("SPY", "QQQ"), ("GLD", "DBC")])
def test_equals_pykalman_filter(log_closes: pd.DataFrame, y: str, x: str) -> None:
    a, b = log_closes[y].to_numpy()[-1500:], log_closes[x].to_numpy()[-1500:]
    m0, p0 = np.array([0.5, 0.1]), np.array([[2.0, 0.1], [0.1, 1.0]])
    ours = kalman_hedge(a, b, Q, 2e-3, (0.5, 0.1), p0)
    means, covs, variance, error = _pykalman(a, b, Q, 2e-3, m0, p0)
    assert np.abs(ours.beta - means[:, 0]).max() <= 1e-10
    assert np.abs(ours.alpha - means[:, 1]).max() <= 1e-10
    assert np.abs(ours.variance - variance).max() <= 1e-10
    assert np.abs(ours.error - error).max() <= 1e-10
    assert np.abs(ours.state_cov - covs).max() <= 1e-10
    np.testing.assert_allclose(ours.zscore, error / np.sqrt(variance), rtol=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.floats(1e-8, 1e-3),
    st.floats(1e-4, 1e-1),
    st.floats(1e-2, 10.0),
)
def test_equals_pykalman_for_any_scalar_covariances(
    seed: int, q: float, r: float, p0: float
) -> None:
    """On log prices (the hedge a pairs rule filters). Outside these ranges (a vague prior
    P0 >= 10 with R <= 1e-4, or prices near 50 with R = 1e-4) the covariance update
    P - K H P cancels badly in any implementation and the two filters differ by rounding,
    up to ~4e-9 (measured), not by formula."""
    rng = np.random.default_rng(seed)
    x = 4.0 + 0.02 * rng.normal(size=120).cumsum()
    y = 1.5 * x + 0.1 + 0.01 * rng.normal(size=120)
    ours = kalman_hedge(y, x, q, r, (0.0, 0.0), p0)
    means, _, variance, _ = _pykalman(y, x, q * np.eye(2), r, np.zeros(2), p0 * np.eye(2))
    assert np.abs(ours.beta - means[:, 0]).max() <= 1e-10
    assert np.abs(ours.alpha - means[:, 1]).max() <= 1e-10
    assert np.abs(ours.variance - variance).max() <= 1e-10


def test_appending_bars_never_changes_earlier_values(log_closes: pd.DataFrame) -> None:
    a, b = log_closes["SPY"].to_numpy(), log_closes["QQQ"].to_numpy()
    full = kalman_hedge(a, b)
    for stop in (1, 250, 2000):
        head = kalman_hedge(a[:stop], b[:stop])
        for name in ("beta", "alpha", "error", "variance", "state_cov"):
            assert np.array_equal(getattr(head, name), getattr(full, name)[:stop]), (name, stop)


def test_bad_settings_are_one_line_errors() -> None:
    x = np.arange(1.0, 30.0)
    with pytest.raises(ConfigError, match="transition_cov"):
        kalman_hedge(x, x, np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ConfigError, match="observation_cov=0"):
        kalman_hedge(x, x, observation_cov=0)
    with pytest.raises(ConfigError, match="initial_cov"):
        kalman_hedge(x, x, initial_cov=-1.0)
    with pytest.raises(DataError, match="x has 1 missing"):
        kalman_hedge(x, np.where(x == 3.0, np.inf, x))
