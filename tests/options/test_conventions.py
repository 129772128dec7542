"""Unit converters: each checked against a bump of the price (what the unit means) or QuantLib."""

from __future__ import annotations

import numpy as np
import pytest
from ib_async.objects import OptionComputation

from toolkit.options.black import bsm_greeks, bsm_price
from toolkit.options.conventions import (
    from_ib,
    pv_dividend_to_yield,
    rho_per_percent,
    rho_per_unit,
    theta_per_day,
    theta_per_year,
    to_ib,
    vega_per_point,
    vega_per_unit,
    yield_to_pv_dividend,
)

S, K, T, R, Q, SIG = 512.0, np.array([480.0, 512.0, 540.0]), 45 / 365, 0.043, 0.012, 0.21


def _price(**bump: float) -> np.ndarray:
    a = {"S": S, "T": T, "r": R, "q": Q, "sigma": SIG} | bump
    return bsm_price("C", a["S"], K, a["T"], a["r"], a["q"], a["sigma"])


def test_vega_per_point_is_the_price_change_for_one_vol_point() -> None:
    g = bsm_greeks("C", S, K, T, R, Q, SIG)
    move = _price(sigma=SIG + 0.005) - _price(sigma=SIG - 0.005)  # +/- half a point
    np.testing.assert_allclose(vega_per_point(g.vega), move, rtol=2e-4)
    np.testing.assert_allclose(vega_per_unit(vega_per_point(g.vega)), g.vega, rtol=1e-15)


def test_theta_per_day_is_one_calendar_day_of_decay() -> None:
    g = bsm_greeks("C", S, K, T, R, Q, SIG)
    day = 1 / 365
    decay = (_price(T=T - 0.5 * day) - _price(T=T + 0.5 * day))  # one day, centred
    np.testing.assert_allclose(theta_per_day(g.theta), decay, rtol=1e-4)
    np.testing.assert_allclose(theta_per_day(g.theta, 252.0), g.theta / 252.0, rtol=1e-15)
    np.testing.assert_allclose(theta_per_year(theta_per_day(g.theta)), g.theta, rtol=1e-15)


def test_theta_per_day_is_quantlibs_theta_per_day() -> None:
    ql = pytest.importorskip("QuantLib")
    today = ql.Date(3, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    proc = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(S)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, Q, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), SIG, dc)),
    )
    opt = ql.EuropeanOption(ql.PlainVanillaPayoff(ql.Option.Call, 480.0),
                            ql.EuropeanExercise(today + 45))
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
    g = bsm_greeks("C", S, 480.0, T, R, Q, SIG)
    assert abs(float(theta_per_day(g.theta)) - opt.thetaPerDay()) < 1e-12


def test_rho_per_percent_is_the_price_change_for_one_percent_of_rate() -> None:
    g = bsm_greeks("C", S, K, T, R, Q, SIG)
    move = _price(r=R + 0.005) - _price(r=R - 0.005)
    np.testing.assert_allclose(rho_per_percent(g.rho), move, rtol=1e-4)
    dmove = _price(q=Q + 0.005) - _price(q=Q - 0.005)
    np.testing.assert_allclose(rho_per_percent(g.dividend_rho), dmove, rtol=1e-4)
    np.testing.assert_allclose(rho_per_unit(rho_per_percent(g.rho)), g.rho, rtol=1e-15)


def test_pv_dividend_and_yield_price_the_same_option() -> None:
    """A yield q and cash dividends with PV D = S (1 - e^{-qT}) give the same forward."""
    D = 3.4
    q = pv_dividend_to_yield(D, S, T)
    np.testing.assert_allclose(yield_to_pv_dividend(q, S, T), D, rtol=1e-14)
    with_yield = bsm_price("P", S, K, T, R, q, SIG)
    escrowed = bsm_price("P", S - D, K, T, R, 0.0, SIG)  # spot net of the dividends' PV
    np.testing.assert_allclose(with_yield, escrowed, rtol=1e-13)


def test_to_ib_and_back_through_ib_async_option_computation() -> None:
    g = bsm_greeks("P", S, K, T, R, Q, SIG)
    ib = to_ib(g, SIG, S, Q, T)
    assert ib.implied_vol.shape == ib.und_price.shape == (3,)
    np.testing.assert_allclose(ib.vega, g.vega / 100, rtol=1e-15)
    np.testing.assert_allclose(ib.theta, g.theta / 365, rtol=1e-15)
    comp = OptionComputation(
        tickAttrib=0, impliedVol=SIG, delta=float(ib.delta[0]), optPrice=float(ib.opt_price[0]),
        pvDividend=float(ib.pv_dividend[0]), gamma=float(ib.gamma[0]), vega=float(ib.vega[0]),
        theta=float(ib.theta[0]), undPrice=S,
    )
    back = from_ib(comp)
    assert float(back.vega) == pytest.approx(float(g.vega[0]), rel=1e-15)
    assert float(back.theta) == pytest.approx(float(g.theta[0]), rel=1e-15)
    assert float(back.price) == float(g.price[0]) and float(back.sigma) == SIG
    assert float(pv_dividend_to_yield(back.pv_dividend, back.underlying, T)) == pytest.approx(Q)
    # IB's "not computed" arrives as None in ib_async: NaN here, never 0.
    assert np.isnan(from_ib(OptionComputation(tickAttrib=0)).vega)
