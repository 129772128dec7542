"""BSM and Black-76 prices and Greeks against QuantLib's AnalyticEuropeanEngine, live.

Every shipped contract with time left (all five chains in data/options, ~70k contracts) is
priced by both. Time is defined identically on both sides: T = (expiry - quote_date) in
calendar days / 365, and QuantLib gets the same T through ``Actual365Fixed`` with its
evaluation date at the quote date and the exercise date at the expiry (integer days, so
``yearFraction`` is exactly ``days / 365.0``). Rates are flat continuously-compounded curves
on the same day counter; the vol is the vendor's IV where it is sane, else 0.30. Tolerance
1e-10 absolute on price, delta, gamma, vega, theta (per year), rho and dividend rho.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.data.options import load_option_quotes
from toolkit.options import _black
from toolkit.options.black import (
    Greeks,
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
    right_is_call,
)

ql = pytest.importorskip("QuantLib")

DATA = Path(__file__).resolve().parents[2] / "data" / "options"
R, Q = 0.031, 0.014
TOL = 1e-10
FIELDS = ("price", "delta", "gamma", "vega", "theta", "rho", "dividend_rho")


@pytest.fixture(scope="module")
def contracts() -> pd.DataFrame:
    """All shipped contracts with time left: S, K, T, sigma, right, quote date, expiry."""
    frames = [load_option_quotes(p) for p in sorted(DATA.glob("*.csv"))]
    q = pd.concat(frames, ignore_index=True)
    days = (q["expiry"] - q["quote_date"]).dt.days
    q = q[days > 0].copy()
    q["days"] = days[days > 0]
    sig = q["iv"].to_numpy(dtype=float)
    q["sigma"] = np.where(np.isfinite(sig) & (sig > 0.01) & (sig < 3.0), sig, 0.30)
    assert len(q) > 50_000
    return q


def _ql_greeks(q: pd.DataFrame, process_for: Callable[..., object]) -> np.ndarray:
    """QuantLib AnalyticEuropeanEngine; (7, n) in FIELDS order.

    One process per quote date whose spot and vol are SimpleQuotes reset per contract; each
    option object dies before the next is made, so a quote change notifies one instrument.
    """
    dc = ql.Actual365Fixed()
    out = np.empty((7, len(q)))
    current = None
    spot, vol = ql.SimpleQuote(1.0), ql.SimpleQuote(0.2)
    call, put = ql.Option.Call, ql.Option.Put
    for j, (qd, ex, right, k, s, sig) in enumerate(
        zip(q["quote_date"], q["expiry"], q["right"], q["strike"], q["underlying_price"],
            q["sigma"], strict=True)
    ):
        if qd != current:
            current = qd
            today = ql.Date(qd.day, qd.month, qd.year)
            ql.Settings.instance().evaluationDate = today
            rate = ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc))
            div = ql.YieldTermStructureHandle(ql.FlatForward(today, Q, dc))
            vts = ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc))
            engine = ql.AnalyticEuropeanEngine(process_for(ql.QuoteHandle(spot), rate, div, vts))
        spot.setValue(float(s))
        vol.setValue(float(sig))
        opt = ql.EuropeanOption(
            ql.PlainVanillaPayoff(call if right == "C" else put, float(k)),
            ql.EuropeanExercise(ql.Date(ex.day, ex.month, ex.year)),
        )
        opt.setPricingEngine(engine)
        out[:, j] = (opt.NPV(), opt.delta(), opt.gamma(), opt.vega(), opt.theta(), opt.rho(),
                     opt.dividendRho())
        del opt
    return out


def _bsm_process(s: object, rate: object, div: object, vol: object) -> object:
    return ql.BlackScholesMertonProcess(s, div, rate, vol)


def _assert_close(ours: Greeks, ref: np.ndarray) -> None:
    for i, name in enumerate(FIELDS):
        diff = np.abs(getattr(ours, name) - ref[i])
        worst = int(np.argmax(diff))
        assert diff[worst] <= TOL, f"{name}: |ours - QuantLib| = {diff[worst]:.3g} at row {worst}"


def test_bsm_equals_quantlib_on_every_shipped_contract(contracts: pd.DataFrame) -> None:
    q = contracts
    ref = _ql_greeks(q, _bsm_process)
    T = q["days"].to_numpy(dtype=float) / 365.0
    ours = bsm_greeks(q["right"], q["underlying_price"], q["strike"], T, R, Q, q["sigma"])
    _assert_close(ours, ref)
    np.testing.assert_array_equal(
        bsm_price(q["right"], q["underlying_price"], q["strike"], T, R, Q, q["sigma"]),
        ours.price,
    )


def test_black76_equals_quantlib_black_process(contracts: pd.DataFrame) -> None:
    """Black-76 on F = S e^{(r-q)T}: QuantLib's BlackProcess (dividend curve = rate curve).

    QuantLib reports dV/dr with the spot (= its forward) held and dV/dq separately; with F held
    our rho is their sum (= -T V), and our dividend rho is 0.
    """
    q = contracts.iloc[::7]  # every 7th contract: same code path, a seventh of the time
    T = q["days"].to_numpy(dtype=float) / 365.0
    F = q["underlying_price"].to_numpy(dtype=float) * np.exp((R - Q) * T)

    def black_process(s: object, rate: object, div: object, vol: object) -> object:
        return ql.BlackProcess(s, rate, vol)

    qf = q.assign(underlying_price=F)
    ref = _ql_greeks(qf, black_process)
    ref[5] = ref[5] + ref[6]
    ref[6] = 0.0
    ours = black76_greeks(q["right"], F, q["strike"], T, np.exp(-R * T), q["sigma"])
    _assert_close(ours, ref)
    np.testing.assert_allclose(ours.rho, -T * ours.price, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(
        black76_price(q["right"], F, q["strike"], T, np.exp(-R * T), q["sigma"]), ours.price
    )


def test_black76_is_bsm_with_dividend_yield_equal_to_rate_on_every_contract(
    contracts: pd.DataFrame,
) -> None:
    """Every contract (the QuantLib check above samples every 7th): Black-76 on F with DF
    equals BSM with S = F and q = r = -ln(DF)/T, rho = BSM rho + dividend rho."""
    q = contracts
    T = q["days"].to_numpy(dtype=float) / 365.0
    F = q["underlying_price"].to_numpy(dtype=float) * np.exp((R - Q) * T)
    b76 = black76_greeks(q["right"], F, q["strike"], T, np.exp(-R * T), q["sigma"])
    bsm = bsm_greeks(q["right"], F, q["strike"], T, R, R, q["sigma"])
    ref = np.vstack([bsm.price, bsm.delta, bsm.gamma, bsm.vega, bsm.theta,
                     bsm.rho + bsm.dividend_rho, 0.0 * bsm.price])
    _assert_close(b76, ref)


def test_hand_values_and_parity() -> None:
    """Hull (10th ed.) Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5 -> c=4.76, p=0.81."""
    c = bsm_price("C", 42.0, 40.0, 0.5, 0.10, 0.0, 0.20)
    p = bsm_price("P", 42.0, 40.0, 0.5, 0.10, 0.0, 0.20)
    assert round(float(c), 2) == 4.76 and round(float(p), 2) == 0.81
    # Put-call parity with a yield: C - P = S e^{-qT} - K e^{-rT}, and delta_C - delta_P = e^{-qT}.
    S, K, T, r, q, s = 100.0, np.linspace(50, 200, 31), 0.7, 0.04, 0.02, 0.35
    gc, gp = bsm_greeks("C", S, K, T, r, q, s), bsm_greeks("P", S, K, T, r, q, s)
    np.testing.assert_allclose(gc.price - gp.price, S * np.exp(-q * T) - K * np.exp(-r * T),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(gc.delta - gp.delta, np.exp(-q * T), rtol=0, atol=1e-14)
    np.testing.assert_allclose(gc.gamma, gp.gamma, rtol=1e-14)
    np.testing.assert_allclose(gc.vega, gp.vega, rtol=1e-14)


def test_broadcasting_rights_and_degenerate_inputs() -> None:
    g = bsm_greeks(np.array([["C"], ["p"]]), 100.0, np.array([90.0, 100.0, 110.0]), 0.5, 0.01,
                   0.0, 0.2)
    assert g.price.shape == (2, 3)
    np.testing.assert_array_equal(right_is_call([1, -1]), [True, False])
    np.testing.assert_array_equal(right_is_call(["c", "P", "call", "PUT"]),
                                  [True, False, True, False])
    with pytest.raises(ValueError, match="'X'"):
        right_is_call(["C", "X"])
    with pytest.raises(ValueError, match="0"):
        right_is_call([1, 0])
    # Expiry / zero vol: discounted intrinsic, step delta; a negative input is an error naming
    # it (no silent NaN), a zero discount factor NaN (no price), never a number.
    assert float(bsm_price("C", 110.0, 100.0, 0.0, 0.05, 0.0, 0.2)) == 10.0
    g0 = bsm_greeks("P", 90.0, 100.0, 1.0, 0.0, 0.0, 0.0)
    assert (float(g0.price), float(g0.delta), float(g0.gamma)) == (10.0, -1.0, 0.0)
    for bad, name in (((-1.0, 0.2), "T"), ((0.5, -0.2), "sigma")):
        with pytest.raises(ValueError, match=f"{name} must be >= 0, got -"):
            bsm_price("C", 100.0, 100.0, bad[0], 0.0, 0.0, bad[1])
    with pytest.raises(ValueError, match=r"S must be >= 0, got -5\.0"):
        bsm_greeks("P", [100.0, -5.0], 100.0, 0.5, 0.0, 0.0, 0.2)
    with pytest.raises(ValueError, match="F must be >= 0"):
        black76_greeks("C", -1.0, 100.0, 0.5, 0.99, 0.2)
    assert np.isnan(float(bsm_price("C", 100.0, 100.0, 0.5, 0.0, 0.0, np.nan)))  # unknown vol
    assert np.isnan(float(black76_price("C", 100.0, 100.0, 0.5, 0.0, 0.2)))
    # The numba scalar kernel returns the same 7-tuple as the array edge.
    t = _black.bsm_nb(True, 100.0, 95.0, 0.25, 0.02, 0.01, 0.3)
    ga = bsm_greeks("C", 100.0, 95.0, 0.25, 0.02, 0.01, 0.3)
    assert t == tuple(float(getattr(ga, f)) for f in FIELDS)
