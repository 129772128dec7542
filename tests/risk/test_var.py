"""VaR and CVaR: Riskfolio-Lib and skfolio as oracles on every shipped symbol, hand-computed
order statistics and closed forms, and forecasts that never look ahead."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import toolkit as tk
from toolkit.errors import ConfigError, DataError
from toolkit.risk.var import (
    ewma_volatility,
    gaussian_cvar,
    gaussian_var,
    historical_cvar,
    historical_var,
    parametric_cvar,
    parametric_var,
    rolling_cvar,
    rolling_var,
    sorted_copy_nb,
)

# the rolling-window tests compile the same VaR kernels (~7 s cold): one pytest-xdist worker
# runs the module, so a fresh clone compiles them once, not once per worker at once
pytestmark = pytest.mark.xdist_group("risk_var")

Z95, PDF95 = 1.6448536269514722, 0.10313564037537128  # Phi^-1(0.95), phi(Phi^-1(0.95))


def _returns(symbol: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        close = tk.load(symbol, jump_factor=None)["close"]
    return close.pct_change().to_numpy()[1:]


@pytest.fixture(scope="module")
def spy() -> np.ndarray:
    return _returns("SPY")


def test_order_statistics_by_hand() -> None:
    x = np.linspace(-0.05, 0.14, 20)  # -0.05, -0.04, ..., sorted; k = 0.05 x 20 = 1: a tie
    assert historical_var(x, 0.95) == pytest.approx(0.05, abs=1e-15)  # x_(1): the worst
    assert historical_var(x, 0.95, convention="upper") == pytest.approx(0.04, abs=1e-15)
    assert -np.quantile(x, 0.05) == pytest.approx(0.0405, abs=1e-15)  # numpy interpolates
    assert historical_cvar(x, 0.95) == pytest.approx(0.05, abs=1e-15)
    y = np.linspace(-0.05, 0.24, 30)  # k = 1.5: both conventions take x_(2)
    assert historical_var(y, 0.95) == historical_var(y, 0.95, convention="upper")
    assert historical_var(y, 0.95) == pytest.approx(0.04, abs=1e-15)
    # Acerbi & Tasche: (x_(1) + 0.5 x_(2)) / 1.5
    assert historical_cvar(y, 0.95) == pytest.approx((0.05 + 0.5 * 0.04) / 1.5, abs=1e-15)
    shuffled = np.random.default_rng(1).permutation(y)
    assert historical_cvar(shuffled, 0.95) == historical_cvar(y, 0.95)


def test_equal_riskfolio_and_skfolio_on_every_shipped_symbol() -> None:
    from riskfolio.src.RiskFunctions import CVaR_Hist, VaR_Hist
    from skfolio.measures import cvar, value_at_risk

    symbols = tk.available_symbols()
    assert "SPY" in symbols and len(symbols) >= 30
    worst = {"riskfolio var": 0.0, "skfolio var": 0.0, "riskfolio cvar": 0.0, "skfolio cvar": 0.0}
    ties = 0
    for symbol in symbols:
        r = _returns(symbol)
        # the whole history and the last 500/250/100 days: 500 x 1 %, 100 x 5 % are ties
        for x in (r, r[-500:], r[-250:], r[-100:]):
            for level, alpha in ((0.95, 0.05), (0.975, 0.025), (0.99, 0.01)):
                low, up = historical_var(x, level), historical_var(x, level, convention="upper")
                es = historical_cvar(x, level)
                ties += low != up
                for key, got, want in (
                    ("riskfolio var", low, VaR_Hist(x, alpha)),
                    ("skfolio var", up, value_at_risk(x, level)),
                    ("riskfolio cvar", es, CVaR_Hist(x, alpha)),
                    ("skfolio cvar", es, cvar(x, level)),
                ):
                    worst[key] = max(worst[key], abs(got - want))
    assert max(worst.values()) <= 1e-12, worst
    assert worst["riskfolio var"] == 0.0 and worst["skfolio var"] == 0.0  # same element
    assert ties > 0  # the conventions really differ on some windows (k an integer)


def test_rolling_historical_equals_each_window(spy: np.ndarray) -> None:
    from riskfolio.src.RiskFunctions import VaR_Hist
    from skfolio.measures import value_at_risk

    r = spy[:900]
    for window in (100, 500):
        for level in (0.95, 0.99):
            low = rolling_var(r, "historical", level, window=window)
            up = rolling_var(r, "historical", level, window=window, convention="upper")
            es = rolling_cvar(r, "historical", level, window=window)
            assert np.isnan(low[:window]).all() and np.isfinite(low[window:]).all()
            for t in range(window, r.size):
                x = r[t - window : t]
                assert low[t] == historical_var(x, level)
                assert up[t] == historical_var(x, level, convention="upper")
                assert es[t] == pytest.approx(historical_cvar(x, level), abs=1e-15)
            for t in (window, window + 7, r.size - 1):  # a few rows against the live oracles
                x = r[t - window : t]
                assert low[t] == VaR_Hist(x, round(1 - level, 10))
                assert up[t] == value_at_risk(x, level)


def test_rolling_window_with_many_ties() -> None:
    # returns on a 0.1 % grid: the sorted window holds long runs of equal values
    r = np.round(np.random.default_rng(7).normal(0.0, 0.01, 400), 3)
    assert np.unique(r).size < 60
    for convention in ("lower", "upper"):
        var = rolling_var(r, "historical", 0.95, window=100, convention=convention)  # type: ignore[arg-type]
        es = rolling_cvar(r, "historical", 0.95, window=100)
        for t in range(100, r.size):
            x = r[t - 100 : t]
            assert var[t] == historical_var(x, 0.95, convention=convention)  # type: ignore[arg-type]
            assert es[t] == pytest.approx(historical_cvar(x, 0.95), abs=1e-15)


def test_gaussian_closed_form_by_hand() -> None:
    r = np.array([0.01, -0.02, 0.03, -0.01, 0.005])
    # mean 0.003; squared deviations 49+529+729+169+4 = 1480 (x 1e-6); / 4 -> 3.7e-4
    mu, sd = 0.003, math.sqrt(3.7e-4)
    assert parametric_var(r, 0.95) == pytest.approx(Z95 * sd - mu, abs=1e-15)
    assert parametric_cvar(r, 0.95) == pytest.approx(PDF95 / 0.05 * sd - mu, abs=1e-15)
    assert parametric_var(r, 0.95) == pytest.approx(0.028639391, abs=1e-9)
    assert parametric_cvar(r, 0.95) == pytest.approx(0.036677073, abs=1e-9)


def test_gaussian_formulas_against_scipy() -> None:
    from scipy.stats import norm

    for level in (0.9, 0.95, 0.975, 0.99, 0.999):
        for mu, sd in ((0.0, 0.01), (0.0005, 0.02), (-0.001, 0.3)):
            z = norm.ppf(level)
            assert gaussian_var(mu, sd, level) == pytest.approx(z * sd - mu, rel=1e-14)
            # CVaR = E[-X | X <= -VaR], integrated numerically from the normal density
            tail = norm.expect(lambda x: -x, loc=mu, scale=sd, ub=mu - z * sd) / (1 - level)
            assert gaussian_cvar(mu, sd, level) == pytest.approx(tail, rel=1e-8)


def test_rolling_parametric_equals_each_window(spy: np.ndarray) -> None:
    r = spy[:700]
    var = rolling_var(r, "parametric", 0.99, window=250)
    es = rolling_cvar(r, "parametric", 0.99, window=250)
    assert np.isnan(var[:250]).all()
    for t in (250, 251, 400, 699):
        x = r[t - 250 : t]
        assert var[t] == pytest.approx(parametric_var(x, 0.99), abs=1e-15)
        assert es[t] == pytest.approx(parametric_cvar(x, 0.99), abs=1e-15)


def test_ewma_by_hand() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, -0.01])
    sigma = ewma_volatility(r, 0.94, warmup=2)
    assert np.isnan(sigma[:2]).all()
    # seed (0.01^2 + 0.02^2) / 2 = 2.5e-4; 0.94 x 2.5e-4 + 0.06 x 0.03^2 = 2.89e-4 = 0.017^2;
    # 0.94 x 2.89e-4 + 0.06 x 0 = 2.7166e-4
    assert sigma[2:] == pytest.approx([math.sqrt(2.5e-4), 0.017, math.sqrt(2.7166e-4)], abs=1e-15)
    var = rolling_var(r, "ewma", 0.95, warmup=2)
    es = rolling_cvar(r, "ewma", 0.95, warmup=2)
    assert var[3] == pytest.approx(Z95 * 0.017, abs=1e-15)
    assert es[3] == pytest.approx(PDF95 / 0.05 * 0.017, abs=1e-15)


def test_ewma_equals_pandas_recursion(spy: np.ndarray) -> None:
    r, lam, warmup = spy[:2000], 0.94, 75
    seed = np.mean(r[:warmup] ** 2)
    # pandas' adjust=False EWM: y_0 = x_0, y_k = lam y_(k-1) + (1 - lam) x_k
    v = pd.Series(np.r_[seed, r[warmup:-1] ** 2]).ewm(alpha=1 - lam, adjust=False).mean()
    sigma = ewma_volatility(r, lam, warmup=warmup)
    np.testing.assert_allclose(sigma[warmup:], np.sqrt(v.to_numpy()), rtol=1e-13, atol=0)


@pytest.mark.parametrize("method", ["historical", "parametric", "ewma"])
def test_forecasts_never_look_ahead(spy: np.ndarray, method: str) -> None:
    r = spy[:1500]
    full = rolling_var(r, method, 0.99, window=250)  # type: ignore[arg-type]
    for cut in (600, 1001):
        part = rolling_var(r[:cut], method, 0.99, window=250)  # type: ignore[arg-type]
        np.testing.assert_array_equal(part, full[:cut])  # appending data changes nothing
        shocked = r.copy()
        shocked[cut:] *= -5.0  # rewriting the future changes nothing up to and at the cut
        redone = rolling_var(shocked, method, 0.99, window=250)  # type: ignore[arg-type]
        np.testing.assert_array_equal(redone[: cut + 1], full[: cut + 1])
        assert not np.array_equal(redone[cut + 1 :], full[cut + 1 :])


def test_bad_input_is_named() -> None:
    with pytest.raises(DataError, match="first at 2024-01-02"):
        historical_var(pd.Series([0.01, np.nan], index=["2024-01-01", "2024-01-02"]))
    with pytest.raises(DataError, match="position 0"):
        rolling_var([np.nan, 0.01, 0.02])
    with pytest.raises(ConfigError, match="between 0 and 1"):
        historical_var([0.01, 0.02], 95)
    with pytest.raises(ConfigError, match="'lower'"):
        historical_var([0.01, 0.02], 0.95, convention="middle")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not one of"):
        rolling_var([0.01, 0.02], "garch")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="at least 2"):
        parametric_var([0.01])
    assert np.isnan(rolling_var([0.01, 0.02, 0.03], window=250)).all()  # too short: all NaN


def test_book_var_is_the_var_of_its_pnl(spy: np.ndarray) -> None:
    from toolkit.risk.var import book_pnl_nb, historical_cvar_nb, historical_var_nb

    qqq = _returns("QQQ")
    n = min(spy.size, qqq.size, 750)
    returns = np.column_stack([spy[-n:], qqq[-n:]])
    exposures = np.array([60_000.0, -25_000.0])  # long SPY, short QQQ (money)
    pnl = book_pnl_nb(returns, exposures)
    np.testing.assert_allclose(pnl, returns @ exposures, rtol=1e-14, atol=1e-9)
    assert historical_var_nb(pnl, 0.01, False) == historical_var(pnl, 0.99)
    assert historical_cvar_nb(pnl, 0.01) == pytest.approx(historical_cvar(pnl, 0.99), rel=1e-14)
    # positively homogeneous: twice the book, twice the VaR (a limit can scale an order)
    assert historical_var(book_pnl_nb(returns, 2 * exposures), 0.99) == pytest.approx(
        2 * historical_var(pnl, 0.99), rel=1e-14
    )


@settings(max_examples=200, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.integers(0, 3000),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    )
)
def test_sorted_copy_is_np_sort(x: np.ndarray) -> None:
    # the VaR kernels' own sort (Shell's, Ciura's gaps) must order exactly as np.sort, ties
    # and all gap boundaries (701, 1,577, ...) included, and leave its input alone
    before = x.copy()
    np.testing.assert_array_equal(sorted_copy_nb(x), np.sort(x))
    np.testing.assert_array_equal(x, before)
