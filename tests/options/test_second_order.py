"""Vanna and volga (toolkit.options._second_order): the closed forms against central
differences of our own pricer's first-order Greeks and of QuantLib's AnalyticEuropeanEngine
(an independent implementation), both rights, and the degenerate inputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from toolkit.options._black import bsm_nb
from toolkit.options._second_order import bsm_vanna_volga_nb

# (S, K, T, r, q, sigma): at, in and out of the money, short and long dated, a vol-spike
# day's 2018 SPXW put (K 2820 with the index at 2649, 23 days, 30% vol), negative carry
CASES = [
    (100.0, 100.0, 0.5, 0.03, 0.01, 0.2),
    (100.0, 80.0, 0.25, 0.05, 0.0, 0.35),
    (100.0, 130.0, 1.5, 0.01, 0.02, 0.25),
    (2649.0, 2820.0, 23 / 365, 0.01, 0.03, 0.30),
    (2700.0, 2650.0, 5 / 365, -0.005, 0.02, 0.12),
]
H = 1e-4  # vol bump


def _richardson(f: Callable[[float], float], x: float, h: float) -> float:
    """f'(x) by central differences at h and h/2 extrapolated (Richardson): error O(h^4)
    (~1e-16 here) plus rounding ~1e-16/h, so the closed forms can be held to ~1e-10."""

    def central(step: float) -> float:
        return (f(x + step) - f(x - step)) / (2 * step)

    return (4 * central(h / 2) - central(h)) / 3


def _fd(S: float, K: float, T: float, r: float, q: float, s: float) -> tuple[float, float]:
    """(d delta / d sigma, d vega / d sigma) by differences of bsm_nb's Greeks."""
    return (
        _richardson(lambda v: bsm_nb(True, S, K, T, r, q, v)[1], s, H),
        _richardson(lambda v: bsm_nb(True, S, K, T, r, q, v)[3], s, H),
    )


@pytest.mark.parametrize("case", CASES)
def test_closed_forms_equal_central_differences_of_our_greeks(
    case: tuple[float, ...],
) -> None:
    S, K, T, r, q, s = case
    vanna, volga = bsm_vanna_volga_nb(S, K, T, r, q, s)
    fd_vanna, fd_volga = _fd(S, K, T, r, q, s)
    assert vanna == pytest.approx(fd_vanna, rel=1e-9, abs=1e-11)
    assert volga == pytest.approx(fd_volga, rel=1e-9, abs=1e-9)
    # vanna is also d vega / d S (the mixed partial), and a put's equals a call's
    put_vanna = _richardson(lambda v: bsm_nb(False, S, K, T, r, q, v)[1], s, H)
    assert vanna == pytest.approx(put_vanna, rel=1e-9, abs=1e-11)
    dvega_ds = _richardson(lambda x: bsm_nb(False, x, K, T, r, q, s)[3], S, S * 1e-4)
    assert vanna == pytest.approx(dvega_ds, rel=1e-8, abs=1e-10)


def test_closed_forms_equal_quantlib_differences() -> None:
    """Independent oracle: QuantLib's analytic delta and vega, bumped in the vol."""
    ql = pytest.importorskip("QuantLib")
    today = ql.Date(2, 1, 2018)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    for S, K, T, r, q, s in CASES:
        days = round(T * 365)
        vol = ql.SimpleQuote(s)
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(S)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)
            ),
        )
        for kind in (ql.Option.Call, ql.Option.Put):
            option = ql.VanillaOption(
                ql.PlainVanillaPayoff(kind, K), ql.EuropeanExercise(today + days)
            )
            option.setPricingEngine(ql.AnalyticEuropeanEngine(process))

            def greek(v: float, name: str, quote: Any = vol, opt: Any = option) -> float:
                quote.setValue(v)
                return float(getattr(opt, name)())

            vanna, volga = bsm_vanna_volga_nb(S, K, days / 365.0, r, q, s)
            want_vanna = _richardson(lambda v: greek(v, "delta"), s, H)
            want_volga = _richardson(lambda v: greek(v, "vega"), s, H)
            assert vanna == pytest.approx(want_vanna, rel=1e-8, abs=1e-10)
            assert volga == pytest.approx(want_volga, rel=1e-8, abs=1e-8)


def test_by_hand_at_the_forward_money_and_degenerate_inputs() -> None:
    # at K = F (d1 = sd/2, d2 = -sd/2): vanna = e^{-qT} n(d1) sqrt(T) / 2, volga = -vega sd^2/4 / sigma
    S, T, r, q, s = 100.0, 1.0, 0.02, 0.0, 0.2
    F = S * math.exp((r - q) * T)
    d1 = 0.5 * s
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    vanna, volga = bsm_vanna_volga_nb(S, F, T, r, q, s)
    assert vanna == pytest.approx(pdf * 0.5, rel=1e-13)
    assert volga == pytest.approx(-S * pdf * (s * s / 4) / s, rel=1e-13)
    assert bsm_vanna_volga_nb(S, 100.0, 0.0, r, q, s) == (0.0, 0.0)  # expired
    assert bsm_vanna_volga_nb(S, 100.0, 1.0, r, q, 0.0) == (0.0, 0.0)  # no vol
    assert all(math.isnan(x) for x in bsm_vanna_volga_nb(-1.0, 100.0, 1.0, r, q, s))
    assert all(math.isnan(x) for x in bsm_vanna_volga_nb(S, 100.0, 1.0, math.nan, q, s))
