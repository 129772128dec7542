"""Engle-Granger on one pair equals statsmodels' ``coint`` (live oracle) under trend/lag
settings other than the defaults (those: test_screen.py, all 435 pairs); the kernels' pieces
hold their algebra (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from toolkit.errors import ConfigError, DataError
from toolkit.stats import engle_granger
from toolkit.stats._eg_kernels import (
    AUTOLAG_AIC,
    AUTOLAG_BIC,
    _nested_ssr_gram_nb,
    _nested_ssr_qr_nb,
    adf_nb,
    first_stage_nb,
)


def _coint(y: np.ndarray, x: np.ndarray, **kw: object) -> tuple[float, float, np.ndarray]:
    from statsmodels.tsa.stattools import coint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = coint(y, x, **kw)
    return float(out[0]), float(out[1]), np.asarray(out[2])


SETTINGS = [
    {"trend": "c", "autolag": "bic"},
    {"trend": "ct", "autolag": "aic"},
    {"trend": "ctt", "autolag": "aic", "maxlag": 4},
    {"trend": "n", "autolag": "aic"},
    {"trend": "c", "autolag": None, "maxlag": 6},
    {"trend": "ct", "autolag": None, "maxlag": 0},
]


@pytest.mark.parametrize("kw", SETTINGS, ids=lambda kw: "-".join(map(str, kw.values())))
def test_other_trend_and_lag_settings_equal_statsmodels(
    log_closes: pd.DataFrame, kw: dict[str, object]
) -> None:
    a = log_closes["XOM"].to_numpy()[-750:]
    b = log_closes["IWM"].to_numpy()[-750:]
    ours = engle_granger(a, b, **kw)  # type: ignore[arg-type]
    t, p, crit = _coint(a, b, **kw)
    assert abs(ours.t_stat - t) <= 1e-8 and abs(ours.p_value - p) <= 1e-8
    np.testing.assert_allclose(ours.crit, crit, rtol=0, atol=1e-12, equal_nan=True)
    assert len(ours.trend_coef) == len(str(kw["trend"]).replace("n", ""))


def test_a_collinear_pair_is_minus_inf_like_statsmodels() -> None:
    x = np.cumsum(np.random.default_rng(3).normal(size=300)) + 50.0
    y = 2.0 * x + 1.0
    ours = engle_granger(y, x)
    t, p, _ = _coint(y, x)
    assert ours.t_stat == t == -np.inf and ours.p_value == p == 0.0 and ours.lag == -1
    assert ours.beta == pytest.approx(2.0) and ours.trend_coef[0] == pytest.approx(1.0)


def test_bad_input_is_a_one_line_error() -> None:
    x = np.arange(100.0)
    with pytest.raises(DataError, match="y has 1 missing/non-finite values"):
        engle_granger(np.where(x == 5, np.nan, x), x)
    with pytest.raises(DataError, match="x is constant"):
        engle_granger(x, np.ones(100))
    with pytest.raises(DataError, match="same length"):
        engle_granger(x, x[:-1])
    with pytest.raises(ConfigError, match="maxlag=60"):
        engle_granger(np.sin(x) + x, x, maxlag=60)
    with pytest.raises(DataError, match="20 observations leave the ADF regression with 9 lags"):
        engle_granger(np.sin(x[:20]) + x[:20], x[:20])  # statsmodels: t = 0 of an exact fit
    with pytest.raises(DataError, match="with 3 lags no residual"):
        engle_granger(np.sin(x[:8]) + x[:8], x[:8], maxlag=3)
    with pytest.raises(ConfigError, match="autolag='t-stat'"):
        engle_granger(np.sin(x) + x, x, autolag="t-stat")  # type: ignore[arg-type]


series = arrays(np.float64, st.integers(30, 120), elements=st.floats(-1e3, 1e3, width=64))


@settings(max_examples=40, deadline=None)
@given(series, st.integers(0, 2**32 - 1))
def test_first_stage_residuals_are_orthogonal_to_the_regressors(y: np.ndarray, seed: int) -> None:
    """OLS normal equations (X'e = 0) for y on [x, 1, t]."""
    n = y.size
    x = np.random.default_rng(seed).normal(size=n).cumsum()
    xs = np.vstack([x, np.ones(n), np.arange(1.0, n + 1)])
    resid, coef = np.empty(n), np.empty(3)
    r2 = first_stage_nb(y, xs, True, resid, coef)  # a constant y must not raise (R^2 0/0)
    assert np.isnan(r2) or r2 <= 1.0 + 1e-12
    scale = np.abs(xs).max(axis=1) * max(np.abs(y).max(), 1.0) * n
    assert (np.abs(xs @ resid) <= 1e-10 * scale).all()
    np.testing.assert_allclose(coef, np.linalg.lstsq(xs.T, y, rcond=None)[0], atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.integers(40, 200), st.integers(0, 2**32 - 1), st.sampled_from([AUTOLAG_AIC, AUTOLAG_BIC]))
def test_lag_search_equals_fitting_every_model(n: int, seed: int, crit: int) -> None:
    """The nested SSRs read off the moment matrix pick the same lag and criterion as fitting
    each ADF regression (0..maxlag lags, common sample) with numpy's least squares; the QR
    fallback gives the same SSRs."""
    e = np.random.default_rng(seed).normal(size=n).cumsum() * 0.1
    maxlag = 5
    d = np.diff(e)
    rows = n - 1 - maxlag
    dep = d[maxlag:]
    cols = [e[maxlag : n - 1]] + [d[maxlag - lag : maxlag - lag + rows] for lag in range(1, 6)]
    ics = []
    for p in range(1, maxlag + 2):
        x = np.column_stack(cols[:p])
        ssr = float(np.sum((dep - x @ np.linalg.lstsq(x, dep, rcond=None)[0]) ** 2))
        pen = 2.0 if crit == AUTOLAG_AIC else np.log(rows)
        ics.append(rows * (np.log(2 * np.pi) + np.log(ssr / rows) + 1) + pen * p)
    _, lag, best = adf_nb(e, maxlag, crit)
    gram, ok_gram = _nested_ssr_gram_nb(e, maxlag)
    qr, ok_qr = _nested_ssr_qr_nb(e, maxlag)
    assert ok_gram and ok_qr
    np.testing.assert_allclose(gram, qr, rtol=1e-9)
    assert lag == int(np.argmin(ics)) and best == pytest.approx(min(ics), rel=1e-12, abs=1e-9)
