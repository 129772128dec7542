"""Scenario grids, theta curves and position Greeks against the pricer leg by leg and the
expiry payoff."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from toolkit.options.black import bsm_greeks, bsm_price
from toolkit.options.payoff import expiry_pnl, expiry_value
from toolkit.options.scenarios import (
    front_expiry_days,
    greeks_table,
    implied_carry,
    leg_vols,
    model_value,
    position_greeks,
    probability_of_profit,
    scenario_grid,
    theta_curve,
)
from toolkit.options.templates import Leg, Spread, SpreadError

AS_OF = dt.date(2026, 1, 5)
EXP = dt.date(2026, 2, 4)  # 30 days
BACK = dt.date(2026, 3, 6)  # 60 days
T30, T60 = 30 / 365, 60 / 365
R, Q = 0.04, 0.01


def _opt(right: str, q: int, k: float, exp: dt.date = EXP, price: float | None = None) -> Leg:
    return Leg("XYZ", right, q, k, exp, 100.0, price, "E")


def test_zero_shift_zero_days_is_the_model_value() -> None:
    s = Spread("vertical", (_opt("C", 1, 100), _opt("C", -1, 105)), quantity=2)
    want = (
        2
        * 100
        * (
            bsm_price("C", 101.0, 100, T30, R, Q, 0.22)
            - bsm_price("C", 101.0, 105, T30, R, Q, 0.20)
        )
    )
    grid = scenario_grid(
        s,
        spot=101.0,
        as_of=AS_OF,
        vols=(0.22, 0.20),
        prices=[90, 101, 110],
        days=[0, 10],
        vol_shifts=[-0.05, 0.0, 0.05],
        rate=R,
        div=Q,
    )
    assert grid.value.shape == (3, 2, 3)
    assert grid.value[1, 0, 1] == pytest.approx(float(want), abs=1e-9)
    assert model_value(s, 101.0, AS_OF, (0.22, 0.20), R, Q) == pytest.approx(float(want), abs=1e-9)
    # unpriced legs: P&L is measured from today's model value, so it is 0 at the origin
    assert grid.cost == pytest.approx(float(want), abs=1e-9)
    assert grid.pnl[1, 0, 1] == pytest.approx(0.0, abs=1e-9)
    # ten days on, vol +5 points: each leg repriced at T - 10/365 and its vol + 0.05
    later = (
        2
        * 100
        * (
            bsm_price("C", 110.0, 100, 20 / 365, R, Q, 0.27)
            - bsm_price("C", 110.0, 105, 20 / 365, R, Q, 0.25)
        )
    )
    assert grid.value[2, 1, 2] == pytest.approx(float(later), abs=1e-9)
    frame = grid.to_frame()
    assert len(frame) == 18 and frame.iloc[-1]["value"] == pytest.approx(grid.value[2, 1, 2])


def test_at_expiry_the_grid_is_the_payoff() -> None:
    ic = Spread(
        "iron_condor",
        (
            _opt("P", 1, 90, price=0.5),
            _opt("P", -1, 95, price=1.5),
            _opt("C", -1, 105, price=1.4),
            _opt("C", 1, 110, price=0.4),
        ),
    )
    prices = np.linspace(80, 120, 17)
    grid = scenario_grid(
        ic, spot=100.0, as_of=AS_OF, vols=0.2, prices=prices, days=[30, 45], rate=R, div=Q
    )
    assert grid.value[:, 0, 0] == pytest.approx(expiry_value(ic, prices), abs=1e-12)
    assert grid.value[:, 1, 0] == pytest.approx(expiry_value(ic, prices), abs=1e-12)
    assert grid.cost == pytest.approx(-200.0)  # entered for a 2.00 credit
    assert grid.pnl[:, 0, 0] == pytest.approx(expiry_value(ic, prices) + 200.0)


def test_calendar_at_the_front_expiry_keeps_the_back_leg_model_value() -> None:
    cal = Spread("calendar", (_opt("C", -1, 100), _opt("C", 1, 100, BACK)))
    days = front_expiry_days(cal, AS_OF)
    assert days == 30
    prices = np.array([90.0, 100.0, 112.0])
    grid = scenario_grid(
        cal, spot=100.0, as_of=AS_OF, vols=(0.25, 0.22), prices=prices, days=[days], rate=R, div=Q
    )
    want = 100 * (bsm_price("C", prices, 100, T60 - T30, R, Q, 0.22) - np.maximum(prices - 100, 0))
    assert grid.value[:, 0, 0] == pytest.approx(want, abs=1e-9)
    assert grid.value[1, 0, 0] > grid.value[0, 0, 0]  # a calendar peaks at its strike
    assert grid.value[1, 0, 0] > grid.value[2, 0, 0]


def test_covered_call_is_a_synthetic_short_put_plus_cash() -> None:
    # S - C = K exp(-rT) - P at every scenario (put-call parity, q = 0): an independent check
    cc = Spread("covered_call", (Leg.shares("XYZ", 100, style="E"), _opt("C", -1, 100)))
    prices = np.array([80.0, 100.0, 125.0])
    grid = scenario_grid(
        cc, spot=100.0, as_of=AS_OF, vols=0.3, prices=prices, days=[0, 7], rate=R, div=0.0
    )
    for j, d in enumerate((0, 7)):
        t = T30 - d / 365
        want = 100 * (100 * math.exp(-R * t) - bsm_price("P", prices, 100, t, R, 0.0, 0.3))
        assert grid.value[:, j, 0] == pytest.approx(want, abs=1e-9)


def test_straddle_greeks_are_call_plus_put() -> None:
    st = Spread("straddle", (_opt("C", 1, 100), _opt("P", 1, 100)), quantity=3)
    g = position_greeks(st, 101.0, AS_OF, 0.2, R, Q)
    c = bsm_greeks("C", 101.0, 100, T30, R, Q, 0.2)
    p = bsm_greeks("P", 101.0, 100, T30, R, Q, 0.2)
    for name in ("price", "delta", "gamma", "vega", "theta", "rho"):
        field = "value" if name == "price" else name
        want = 300 * (float(getattr(c, name)) + float(getattr(p, name)))
        assert getattr(g, field) == pytest.approx(want, rel=1e-12, abs=1e-12)
    table = greeks_table(st, 101.0, AS_OF, 0.2, R, Q)
    assert list(table.index) == ["+1 XYZ 2026-02-04 100 C", "+1 XYZ 2026-02-04 100 P", "total"]
    assert table.loc["total", "delta"] == pytest.approx(g.delta, rel=1e-12)
    assert table.iloc[0]["gamma"] == pytest.approx(300 * float(c.gamma), rel=1e-12)
    assert table.loc["total", "theta_per_day"] == pytest.approx(g.theta_per_day, rel=1e-12)
    assert g.theta_per_day == pytest.approx(g.theta / 365)
    assert g.vega_per_point == pytest.approx(g.vega / 100)
    # delta against a central difference of the scenario grid (the same model)
    h = 1e-3
    grid = scenario_grid(
        st, spot=101.0, as_of=AS_OF, vols=0.2, prices=[101 - h, 101 + h], rate=R, div=Q
    )
    assert g.delta == pytest.approx((grid.value[1, 0, 0] - grid.value[0, 0, 0]) / (2 * h), rel=1e-6)
    shares = position_greeks(Spread("custom", (Leg.shares("XYZ", -50),)), 101.0, AS_OF, 0.2)
    assert (shares.value, shares.delta, shares.gamma) == (-5050.0, -50.0, 0.0)


def test_theta_curve_of_a_long_straddle() -> None:
    st = Spread("straddle", (_opt("C", 1, 100, price=2.5), _opt("P", 1, 100, price=2.5)))
    curve = theta_curve(st, spot=100.0, as_of=AS_OF, vols=0.2, rate=0.0, div=0.0, step=5)
    assert list(curve["days_to_expiry"]) == [30, 25, 20, 15, 10, 5, 0]
    assert curve["date"].iloc[-1] == EXP
    assert (np.diff(curve["value"]) < 0).all()  # an ATM straddle only loses value with time
    assert curve["value"].iloc[-1] == pytest.approx(0.0, abs=1e-12)  # expires at the strike
    assert curve["pnl"].iloc[-1] == pytest.approx(-500.0)
    # ATM with r = q = 0: the straddle is worth about 0.8 sigma sqrt(T) S (Brenner-Subrahmanyam)
    assert curve["value"].iloc[0] == pytest.approx(100 * 0.8 * 0.2 * math.sqrt(T30) * 100, rel=5e-3)


def test_bad_scenario_inputs_are_named() -> None:
    s = Spread("vertical", (_opt("C", 1, 100), _opt("C", -1, 105)))
    with pytest.raises(SpreadError, match=r"3 vols for 2 legs"):
        scenario_grid(s, spot=100.0, as_of=AS_OF, vols=(0.2, 0.2, 0.2), prices=[100])
    with pytest.raises(SpreadError, match=r"vol 0.1 shifted by -0.2 is not > 0"):
        scenario_grid(s, spot=100.0, as_of=AS_OF, vols=0.1, prices=[100], vol_shifts=[-0.2])
    with pytest.raises(SpreadError, match=r"vol 0.0 must be > 0"):
        position_greeks(s, 100.0, AS_OF, 0.0)
    with pytest.raises(SpreadError, match=r"expired on or before 2026-02-04"):
        position_greeks(s, 100.0, EXP, 0.2)


def _bsm_chain(sigma: float = 0.2, rate: float = R) -> pd.DataFrame:
    """A chain quoted 0.01 either side of BSM prices at r = 4 %, q = 1 % (iv column empty)."""
    rows = []
    for exp in (EXP, BACK):
        t = (exp - AS_OF).days / 365
        for k in np.arange(80.0, 125.0, 5.0):
            for right in ("C", "P"):
                mid = float(bsm_price(right, 100.0, k, t, rate, Q, sigma))
                rows.append(
                    {
                        "quote_date": pd.Timestamp(AS_OF),
                        "underlying": "XYZ",
                        "underlying_price": 100.0,
                        "expiry": pd.Timestamp(exp),
                        "right": right,
                        "strike": k,
                        "bid": mid - 0.01,
                        "ask": mid + 0.01,
                        "iv": np.nan,
                    }
                )
    return pd.DataFrame(rows)


def test_carry_and_vols_come_back_from_the_chain() -> None:
    chain = _bsm_chain()
    for exp in (EXP, BACK):
        rate, div = implied_carry(chain, exp)
        assert (rate, div) == pytest.approx((R, Q), abs=1e-9)
    cal = Spread(
        "calendar", (_opt("P", -1, 95), _opt("P", 1, 95, BACK), Leg.shares("XYZ", 10, style="E"))
    )
    vols = leg_vols(cal, chain)  # no vendor iv: ours from the mids
    assert vols[:2] == pytest.approx((0.2, 0.2), abs=1e-9) and math.isnan(vols[2])
    with pytest.raises(SpreadError, match=r"leg -1 XYZ 2026-02-04 95 P: no vendor implied vol"):
        leg_vols(cal, chain, source="vendor")
    vendor = chain.assign(iv=0.3)
    assert leg_vols(cal, vendor)[:2] == (0.3, 0.3)
    assert leg_vols(cal, vendor, source="ours")[:2] == pytest.approx((0.2, 0.2), abs=1e-9)
    with pytest.raises(
        SpreadError, match=r"parity implies a rate of 40.00% .* pass rate= and div="
    ):
        implied_carry(_bsm_chain(rate=0.4), EXP)


def test_american_legs_use_the_american_pricer() -> None:
    from toolkit.options.american import american_greeks, american_price

    put = Leg("XYZ", "P", -1, 105.0, BACK, 100.0, None, "A")
    s = Spread("custom", (put, Leg.shares("XYZ", 100, style="A")))
    prices = np.array([95.0, 100.0])
    grid = scenario_grid(
        s, spot=100.0, as_of=AS_OF, vols=0.25, prices=prices, days=[0, 30], rate=0.05, div=0.0
    )
    for j, t in enumerate((T60, T60 - T30)):
        amer = american_price("P", prices, 105.0, t, 0.05, 0.0, 0.25)
        assert grid.value[:, j, 0] == pytest.approx(100 * (prices - amer), abs=1e-9)
        # early exercise is worth something for an in-the-money put at r > 0
        assert (amer > bsm_price("P", prices, 105.0, t, 0.05, 0.0, 0.25) + 1e-3).all()
    g = position_greeks(s, 100.0, AS_OF, 0.25, 0.05, 0.0)
    want = american_greeks("P", 100.0, 105.0, T60, 0.05, 0.0, 0.25)
    assert g.delta == pytest.approx(100 - 100 * float(want.delta), rel=1e-12)
    assert g.vega == pytest.approx(-100 * float(want.vega), rel=1e-12)
    with pytest.raises(
        SpreadError,
        match=r"leg -1 XYZ 2026-03-06 105 P: an American option at rate -0.01 and yield -0.02 has two exercise boundaries",
    ):
        scenario_grid(s, spot=100.0, as_of=AS_OF, vols=0.25, prices=[100.0], rate=-0.01, div=-0.02)


def _n(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def test_probability_of_profit_by_hand_and_by_integration() -> None:
    sig = 0.25
    d2 = lambda x: (math.log(100 / x) + (R - Q - sig**2 / 2) * T30) / (sig * math.sqrt(T30))  # noqa: E731
    call = Spread("custom", (_opt("C", 1, 100, price=2.0),))
    pop = probability_of_profit(call, spot=100.0, as_of=AS_OF, vol=sig, rate=R, div=Q)
    assert pop == pytest.approx(_n(d2(102.0)), abs=1e-14)  # P(S_T > 102)
    straddle = Spread("straddle", (_opt("C", -1, 100, price=3.0), _opt("P", -1, 100, price=3.0)))
    pop = probability_of_profit(straddle, spot=100.0, as_of=AS_OF, vol=sig, rate=R, div=Q)
    assert pop == pytest.approx(_n(d2(94.0)) - _n(d2(106.0)), abs=1e-14)  # P(94 < S_T < 106)
    # iron condor: integrate the lognormal density over the prices where the payoff is > 0
    ic = Spread(
        "iron_condor",
        (
            _opt("P", 1, 90, price=0.5),
            _opt("P", -1, 95, price=1.5),
            _opt("C", -1, 105, price=1.4),
            _opt("C", 1, 110, price=0.4),
        ),
    )
    x = np.linspace(1e-6, 400.0, 2_000_001)
    m, v = math.log(100.0) + (R - Q - sig**2 / 2) * T30, sig**2 * T30
    density = np.exp(-((np.log(x) - m) ** 2) / (2 * v)) / (x * math.sqrt(2 * math.pi * v))
    want = float(np.sum(density * (expiry_pnl(ic, x) > 0)) * (x[1] - x[0]))
    pop = probability_of_profit(ic, spot=100.0, as_of=AS_OF, vol=sig, rate=R, div=Q)
    assert pop == pytest.approx(want, abs=1e-5)
    assert 0.5 < pop < 0.9


def test_american_chain_carry_is_the_toolkits_one_rule() -> None:
    """SPY (American): plain parity gave 2026-03-20 a rate of -13.6 % and implied_carry refused
    it; the one carry rule (toolkit.options.implied.chain_carry) gives a plausible rate and
    dividend yield, the same numbers chain_implied_vols prices with."""
    from pathlib import Path

    from toolkit.data.options import load_option_quotes
    from toolkit.options.implied import chain_carry

    q = load_option_quotes(Path(__file__).resolve().parents[2] / "data/options/SPY_chain_2026-02-11.csv")
    rate, div = implied_carry(q, dt.date(2026, 3, 20))
    row = chain_carry(q).set_index("expiry").loc[pd.Timestamp("2026-03-20")]
    assert (rate, div) == (row["rate"], row["dividend_yield"])
    assert 0.03 < rate < 0.06 and 0.005 < div < 0.02
