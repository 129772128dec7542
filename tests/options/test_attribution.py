"""P&L attribution (toolkit.options.attribution): the Taylor terms by hand, Greeks at the
forward's r and q equal to the public pricer's, one day of a held option split exactly, and
the vanna, volga and carry terms closing most of a spike day's second-order gap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from toolkit.options.attribution import (
    GREEK_COLUMNS,
    LegGreeks,
    forward_of,
    implied_vol_of,
    leg_greeks,
    revaluation_terms,
    taylor_terms,
)
from toolkit.options.backtest import ShortStraddle, backtest_options, model_priced_quotes
from toolkit.options.black import bsm_greeks, bsm_price


def test_taylor_terms_by_hand() -> None:
    g = LegGreeks(
        mark=3.0, iv=0.2, delta=0.5, gamma=0.02, theta=-10.0, vega=20.0, vanna=-0.3,
        volga=50.0, rho=4.0, dividend_rho=-5.0,
    )  # fmt: skip
    d, gm, th, v, va, vo, c = taylor_terms(-100.0, g, 2.0, 1.0 / 365.0, 0.01, 0.002, -0.001)
    assert d == pytest.approx(-100.0 * 0.5 * 2.0, abs=1e-12)
    assert gm == pytest.approx(-100.0 * 0.5 * 0.02 * 4.0, abs=1e-12)
    assert th == pytest.approx(-100.0 * -10.0 / 365.0, abs=1e-12)
    assert v == pytest.approx(-100.0 * 20.0 * 0.01, abs=1e-12)
    assert va == pytest.approx(-100.0 * -0.3 * 2.0 * 0.01, abs=1e-12)
    assert vo == pytest.approx(-100.0 * 0.5 * 50.0 * 0.01**2, abs=1e-12)
    assert c == pytest.approx(-100.0 * (4.0 * 0.002 + -5.0 * -0.001), abs=1e-12)
    blind = LegGreeks(3.0, math.nan, math.nan, math.nan, math.nan, math.nan)
    assert taylor_terms(-100.0, blind, 2.0, 1.0 / 365.0, 0.01, 0.002, 0.001) == (0.0,) * 7
    # full revaluation: the residual splits into the model's higher order and the marks' gap
    start = LegGreeks(3.0, 0.2, 0.5, 0.02, -10.0, 20.0, model=2.9)
    end = LegGreeks(4.0, 0.21, 0.6, 0.02, -10.0, 20.0, model=3.8)
    greeks, full, marked, higher, unexplained = revaluation_terms(-100.0, start, end, -85.0, -100.0)
    assert (greeks, marked) == (-85.0, -100.0)
    assert full == pytest.approx(-90.0, abs=1e-12)
    assert higher == pytest.approx(-5.0, abs=1e-12)
    assert unexplained == pytest.approx(-10.0, abs=1e-12)
    assert revaluation_terms(-100.0, blind, end, -85.0, -100.0)[3:] == (0.0, -15.0)


def test_greeks_come_from_our_vol_at_the_parity_forward() -> None:
    S, K, T, r, q, sigma = 2700.0, 2650.0, 20 / 365, 0.015, 0.019, 0.17
    F, df = S * math.exp((r - q) * T), math.exp(-r * T)
    price = float(bsm_price("P", S, K, T, r, q, sigma))
    iv = implied_vol_of("P", K, price, T, F, df)
    assert iv == pytest.approx(sigma, abs=1e-10)
    got = leg_greeks("P", K, price, S, T, F, df, iv)
    want = bsm_greeks("P", S, K, T, r, q, sigma)
    for name in ("delta", "gamma", "theta", "vega", "rho", "dividend_rho"):
        assert getattr(got, name) == pytest.approx(float(getattr(want, name)), rel=1e-8)
    assert got.model == pytest.approx(price, rel=1e-12)
    assert (got.rate, got.dividend_yield) == (pytest.approx(r), pytest.approx(q))
    expired = leg_greeks("P", K, 0.0, 2600.0, 0.0, math.nan, math.nan, math.nan)
    assert (expired.delta, expired.gamma, expired.vega) == (-1.0, 0.0, 0.0)


def test_forward_from_parity_of_a_bsm_chain() -> None:
    S, T, r, q = 100.0, 0.25, 0.03, 0.01
    k = np.arange(80.0, 121.0, 5.0)
    c = np.asarray(bsm_price("C", S, k, T, r, q, 0.2))
    p = np.asarray(bsm_price("P", S, k, T, r, q, 0.2))
    strike = np.concatenate([k, k])
    is_call = np.concatenate([np.ones(k.size, bool), np.zeros(k.size, bool)])
    mid = np.concatenate([c, p])
    fwd, df = forward_of(strike, is_call, mid - 0.01, mid + 0.01)
    assert fwd == pytest.approx(S * math.exp((r - q) * T), rel=1e-9)
    assert df == pytest.approx(math.exp(-r * T), rel=1e-9)


def test_a_day_of_a_hedged_straddle_splits_exactly_and_the_terms_are_the_greeks() -> None:
    days = pd.bdate_range("2024-03-01", "2024-03-08")
    closes = pd.Series([100.0, 101.0, 99.5, 100.5, 102.0, 101.0], index=days)
    vol = pd.Series([0.20, 0.22, 0.21, 0.25, 0.24, 0.23], index=days)
    quotes = model_priced_quotes(closes, vol, underlying="XYZ", rate=0.01, strike_width=0.1)
    r = backtest_options(quotes, ShortStraddle(days=14, min_days=7, hedge=True))
    a = r.attribution
    assert np.abs(a.drop(columns="total").sum(axis=1) - a["total"]).max() < 1e-9
    # day 2: the book's start-of-day Greeks (daily frame, day 1) times the day's moves
    d0 = r.daily.iloc[0]
    d_spot = closes.iloc[1] - closes.iloc[0]
    assert a["delta"].iloc[1] + d0["underlying_units"] * d_spot == pytest.approx(
        d0["delta"] * d_spot, abs=1e-6
    )
    assert a["gamma"].iloc[1] == pytest.approx(0.5 * d0["gamma"] * d_spot**2, rel=1e-9)
    dt = (days[1] - days[0]).days / 365.0  # Friday to Monday: three calendar days of theta
    assert a["theta"].iloc[1] == pytest.approx(d0["theta"] * dt, rel=1e-9)
    assert a["vega"].iloc[1] == pytest.approx(d0["vega"] * 0.02, rel=1e-6)
    assert a["vanna"].iloc[1] == pytest.approx(d0["vanna"] * d_spot * 0.02, rel=1e-6)
    assert a["volga"].iloc[1] == pytest.approx(0.5 * d0["volga"] * 0.02**2, rel=1e-6)
    assert abs(a["carry"]).max() < 1e-6  # flat rate and yield: nothing to carry
    # a model-priced short straddle with a flat smile: the Taylor terms explain the day
    # to second order; the residual is small against them
    explained = a[list(GREEK_COLUMNS)].iloc[1:].abs().sum(axis=1)
    assert (a["residual"].iloc[1:].abs() <= 0.2 * explained + 1.0).all()
    # full revaluation: the marks are the model's here, so the residual is all higher order
    rv = r.revaluation
    assert np.abs(rv["higher_order"] + rv["unexplained"] - a["residual"]).max() < 1e-9
    assert np.abs(rv["unexplained"]).max() < 1e-6
    assert np.abs(rv["greeks"] - a[list(GREEK_COLUMNS)].sum(axis=1)).max() < 1e-9


def test_leg_greeks_equal_quantlib_at_the_rates_the_forward_implies() -> None:
    """Independent oracle: QuantLib's AnalyticEuropeanEngine with flat r and q; our Greeks
    start from the forward and discount factor those imply, as the backtest's do."""
    ql = pytest.importorskip("QuantLib")
    S, K, days, r, q, sigma = 2700.0, 2650.0, 20, 0.015, 0.019, 0.17
    T = days / 365.0
    today = ql.Date(2, 1, 2018)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(S)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), sigma, dc)),
    )
    F, df = S * math.exp((r - q) * T), math.exp(-r * T)
    for right, kind in (("P", ql.Option.Put), ("C", ql.Option.Call)):
        option = ql.VanillaOption(ql.PlainVanillaPayoff(kind, K), ql.EuropeanExercise(today + days))
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        got = leg_greeks(right, K, option.NPV(), S, T, F, df, sigma)
        assert got.delta == pytest.approx(option.delta(), abs=1e-10)
        assert got.gamma == pytest.approx(option.gamma(), abs=1e-12)
        assert got.vega == pytest.approx(option.vega(), abs=1e-8)
        assert got.theta == pytest.approx(option.theta(), abs=1e-8)
        iv = implied_vol_of(right, K, option.NPV(), T, F, df)
        assert iv == pytest.approx(sigma, abs=1e-10)


def test_vanna_and_volga_close_most_of_a_spike_days_second_order_gap() -> None:
    """A 2018-02-05-like day for the short 2820 SPXW put: the index 2762 -> 2649 while its
    vol went 0.17 -> 0.30. By full BSM revaluation (same r and q), delta, gamma, theta and
    vega alone leave a residual of 1,645 USD (15% of the day's -10,961); vanna (+1,517) and
    volga (-283) take out three quarters of it (411 left: speed, charm, ...)."""
    K, r, q = 2820.0, 0.015, 0.018
    S0, S1, T0, T1, v0, v1 = 2762.0, 2649.0, 26 / 365, 23 / 365, 0.17, 0.30
    F0, df0 = S0 * math.exp((r - q) * T0), math.exp(-r * T0)
    F1, df1 = S1 * math.exp((r - q) * T1), math.exp(-r * T1)
    g0 = leg_greeks("P", K, float(bsm_price("P", S0, K, T0, r, q, v0)), S0, T0, F0, df0, v0)
    g1 = leg_greeks("P", K, float(bsm_price("P", S1, K, T1, r, q, v1)), S1, T1, F1, df1, v1)
    units = -100.0
    pnl = units * (g1.mark - g0.mark)
    terms = taylor_terms(units, g0, S1 - S0, 3 / 365, v1 - v0)
    first_order = pnl - sum(terms[:4])
    with_cross = pnl - sum(terms)
    assert abs(first_order) > 0.1 * abs(pnl)
    assert abs(with_cross) < 0.3 * abs(first_order)
    assert terms[4] > 0 and terms[5] < 0  # short the put: vanna earns, volga costs here
