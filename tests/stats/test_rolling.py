"""Rolling beta equals statsmodels OLS (oracle) fitted on every window, to 1e-10, on price
levels (where running sums would lose digits), and is causal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from toolkit.data import load_many
from toolkit.errors import ConfigError
from toolkit.stats import rolling_beta


@pytest.mark.parametrize("window", [5, 20, 120])
def test_equals_statsmodels_ols_on_every_window(window: int) -> None:
    import statsmodels.api as sm

    closes = load_many(["SPY", "QQQ"], start="2024-01-01")["close"]
    y, x = closes["SPY"].to_numpy(), closes["QQQ"].to_numpy()
    ours = rolling_beta(y, x, window)
    assert np.isnan(ours.beta[: window - 1]).all() and np.isnan(ours.alpha[: window - 1]).all()
    exog = sm.add_constant(x)
    for t in range(window - 1, len(y)):
        fit = sm.OLS(y[t - window + 1 : t + 1], exog[t - window + 1 : t + 1]).fit()
        assert abs(ours.beta[t] - fit.params[1]) <= 1e-10
        assert abs(ours.alpha[t] - fit.params[0]) <= 1e-10
        if window > 2:
            assert abs(ours.resid_std[t] - np.sqrt(fit.scale)) <= 1e-10


def test_two_and_three_bar_windows_are_exact() -> None:
    """Two points: the line through them; three: the textbook formulas. (statsmodels' pinv
    loses ~3e-10 on intercepts near 900 here: the oracle, not this code, is the limit.)"""
    closes = load_many(["SPY", "QQQ"], start="2024-01-01")["close"]
    y, x = closes["SPY"].to_numpy()[:50], closes["QQQ"].to_numpy()[:50]
    two = rolling_beta(y, x, 2)
    slope = np.diff(y) / np.diff(x)
    np.testing.assert_allclose(two.beta[1:], slope, rtol=1e-12)
    np.testing.assert_allclose(two.alpha[1:], y[1:] - slope * x[1:], rtol=1e-12)
    three = rolling_beta(y, x, 3)
    for t in range(2, 50):
        xs, ys = x[t - 2 : t + 1], y[t - 2 : t + 1]
        b = ((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum()
        assert three.beta[t] == pytest.approx(b, rel=1e-12)
        assert three.alpha[t] == pytest.approx(ys.mean() - b * xs.mean(), rel=1e-12)


def test_causal_and_flat_windows_are_nan() -> None:
    rng = np.random.default_rng(7)
    x = np.r_[np.full(30, 5.0), rng.normal(size=200).cumsum()]
    y = 2 * x + rng.normal(size=230)
    full = rolling_beta(y, x, 20)
    assert np.isnan(full.beta[19:30]).all()  # x constant over the window: no slope
    for stop in (25, 60, 229):
        head = rolling_beta(y[:stop], x[:stop], 20)
        np.testing.assert_array_equal(head.beta, full.beta[:stop])
    with pytest.raises(ConfigError, match="window=1"):
        rolling_beta(y, x, 1)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, 40, elements=st.floats(-100, 100)), st.integers(3, 40))
def test_window_residuals_sum_to_zero_and_are_orthogonal_to_x(y: np.ndarray, window: int) -> None:
    x = np.sin(np.arange(40.0)) * 10 + np.arange(40.0)
    fit = rolling_beta(y, x, window)
    for t in range(window - 1, 40):
        sl = slice(t - window + 1, t + 1)
        resid = y[sl] - fit.beta[t] * x[sl] - fit.alpha[t]
        scale = 1e-10 * window * max(1.0, np.abs(y).max()) * max(1.0, np.abs(x[sl]).max())
        assert abs(resid.sum()) <= scale and abs((resid * x[sl]).sum()) <= scale
