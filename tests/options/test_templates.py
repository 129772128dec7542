"""Leg and Spread values: validation messages and the net-price convention."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from toolkit.options import templates as tpl
from toolkit.options.templates import Leg, Spread, SpreadError

EXP = dt.date(2018, 2, 16)


def _call(q: int, k: float, price: float | None = None) -> Leg:
    return Leg("SPY", "C", q, k, EXP, 100.0, price, "A")


def test_net_price_debit_positive_credit_negative() -> None:
    debit = Spread("vertical", (_call(1, 100, 3.0), _call(-1, 105, 1.0)))
    assert debit.net_price == pytest.approx(2.0)
    assert not debit.is_credit
    credit = debit.flipped()
    assert credit.net_price == pytest.approx(-2.0)
    assert credit.is_credit
    assert Spread("vertical", (_call(1, 100), _call(-1, 105))).net_price is None


def test_covered_call_net_in_option_points() -> None:
    cc = Spread("covered_call", (Leg.shares("SPY", 100, 50.0), _call(-1, 55, 1.25)))
    assert cc.multiplier == 100.0
    assert cc.net_price == pytest.approx(48.75)  # buy-write at 48.75 per share


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _call(0, 100), r"quantity is 0"),
        (lambda: Leg("SPY", "X", 1, 100, EXP), r"right 'X'"),
        (lambda: Leg("SPY", "C", 1, -5, EXP), r"strike -5 must be positive"),
        (lambda: Leg("SPY", "C", 1, 100, None), r"needs an expiry"),
        (lambda: Leg("SPY", "C", 1, 100, EXP, price=-1.0), r"premium >= 0"),
        (lambda: Leg("SPY", "S", 100, 5.0), r"share leg"),
        (lambda: Spread("x", ()), r"has no legs"),
        (lambda: Spread("x", (_call(1, 100),), quantity=0), r"quantity 0 must be > 0"),
        (
            lambda: Spread("x", (_call(1, 100), Leg("QQQ", "P", 1, 90, EXP))),
            r"mixes underlyings QQQ, SPY",
        ),
        (lambda: Spread("x", (_call(1, 100), _call(-1, 100))), r"appears twice"),
    ],
)
def test_one_line_errors(make: object, message: str) -> None:
    with pytest.raises(SpreadError, match=message) as info:
        make()  # type: ignore[operator]
    assert "\n" not in str(info.value)


# --- builders on a small chain built here -----------------------------------------------------
DAY = pd.Timestamp("2026-01-05")
NEAR, FAR = pd.Timestamp("2026-02-06"), pd.Timestamp("2026-03-06")  # 32 and 60 days
STRIKES = [90.0, 95.0, 100.0, 105.0, 110.0]
# |delta| of calls by strike; puts are call delta - 1 (no carry)
CALL_DELTA = {90.0: 0.90, 95.0: 0.74, 100.0: 0.52, 105.0: 0.30, 110.0: 0.15}


def _chain(spot: float = 100.4) -> pd.DataFrame:
    rows = []
    for expiry, extra in ((NEAR, 0.0), (FAR, 1.0)):
        for k in STRIKES:
            for right in ("C", "P"):
                intrinsic = max(spot - k, 0.0) if right == "C" else max(k - spot, 0.0)
                mid = intrinsic + 3.0 + extra - abs(k - 100.0) * 0.2
                delta = CALL_DELTA[k] if right == "C" else CALL_DELTA[k] - 1.0
                rows.append(
                    {
                        "quote_date": DAY,
                        "underlying": "XYZ",
                        "underlying_price": spot,
                        "expiry": expiry,
                        "right": right,
                        "strike": k,
                        "bid": round(mid - 0.1, 2),
                        "ask": round(mid + 0.1, 2),
                        "last": mid,
                        "volume": 1.0,
                        "open_interest": 10.0,
                        "iv": 0.2,
                        "delta": delta,
                        "gamma": np.nan,
                        "theta": np.nan,
                        "vega": np.nan,
                        "style": "E",
                        "multiplier": 100.0,
                        "symbol": f"XYZ{right}{k:g}",
                        "root": "XYZ",
                        "crossed": False,
                    }
                )
    return pd.DataFrame(rows)


def _quote(chain: pd.DataFrame, expiry: pd.Timestamp, right: str, k: float) -> pd.Series:
    row = chain[(chain.expiry == expiry) & (chain.right == right) & (chain.strike == k)]
    return row.iloc[0]


def test_chain_on_and_expiry_rules() -> None:
    quotes = pd.concat([_chain(), _chain().assign(underlying="ABC")])
    with pytest.raises(SpreadError, match=r"hold ABC, XYZ; pass underlying="):
        tpl.chain_on(quotes, "2026-01-05")
    with pytest.raises(
        SpreadError, match=r"no quotes on 2026-01-06 \(the frame covers 2026-01-05..2026-01-05\)"
    ):
        tpl.chain_on(quotes, "2026-01-06")
    chain = tpl.chain_on(quotes, dt.date(2026, 1, 5), underlying="XYZ")
    assert len(chain) == 20
    assert tpl.pick_expiry(chain, 30) == NEAR.date()
    assert tpl.pick_expiry(chain, 46) == NEAR.date()  # tie (14 days each way): the earlier
    assert tpl.pick_expiry(chain, 47) == FAR.date()
    assert tpl.pick_expiry(chain, FAR.date()) == FAR.date()  # a date picks that expiry
    with pytest.raises(
        SpreadError, match=r"expiry 2026-02-13 is not listed \(listed: 2026-02-06, 2026-03-06\)"
    ):
        tpl.pick_expiry(chain, dt.date(2026, 2, 13))
    assert tpl.straddle(chain, days=FAR.date()).expiries == (FAR.date(),)


def test_strike_rules() -> None:
    chain = _chain()
    exp = NEAR.date()
    assert tpl.pick_strike(chain, exp, "P", tpl.by_delta(0.25)) == 95.0  # put delta -0.26
    assert tpl.pick_strike(chain, exp, "C", tpl.by_delta(0.16)) == 110.0
    assert tpl.pick_strike(chain, exp, "C", tpl.atm()) == 100.0  # nearest 100.4
    assert tpl.pick_strike(chain, exp, "C", tpl.atm(2)) == 110.0
    assert tpl.pick_strike(chain, exp, "P", tpl.atm(1)) == 95.0
    assert tpl.pick_strike(chain, exp, "C", tpl.atm(), forward=103.0) == 105.0
    with pytest.raises(
        SpreadError,
        match=r"XYZ 2026-02-06 C on 2026-01-05: strike 102 not in the chain \(nearest 100, 105\)",
    ):
        tpl.pick_strike(chain, exp, "C", tpl.at_strike(102.0))
    with pytest.raises(SpreadError, match=r"3 strikes OTM from ATM 100 runs off the chain"):
        tpl.pick_strike(chain, exp, "C", tpl.atm(3))
    with pytest.raises(SpreadError, match=r"exactly one of"):
        tpl.Pick(delta=0.2, otm=1)
    no_vendor = chain.assign(delta=np.nan)
    with pytest.raises(SpreadError, match=r"no vendor deltas .* use delta_source='model'"):
        tpl.pick_strike(no_vendor, exp, "P", tpl.by_delta(0.25), delta_source="vendor")


def test_model_delta_pick_uses_our_bsm() -> None:
    from toolkit.options.black import bsm_greeks

    chain = _chain().assign(delta=np.nan)
    exp = NEAR.date()
    t_years = (NEAR - DAY).days / 365.0
    want = bsm_greeks("P", 100.4, np.array(STRIKES), t_years, 0.0, 0.0, 0.2).delta
    nearest = STRIKES[int(np.argmin(np.abs(np.abs(want) - 0.3)))]
    assert tpl.pick_strike(chain, exp, "P", tpl.by_delta(0.3)) == nearest  # auto -> model


def test_credit_put_vertical_fills_at_the_touch() -> None:
    chain = _chain()
    s = tpl.vertical(chain, "P", days=30, near=tpl.by_delta(0.25), width=5.0)
    assert [(leg.right, leg.strike, leg.quantity) for leg in s.legs] == [
        ("P", 95.0, -1),
        ("P", 90.0, 1),
    ]
    short, long_ = _quote(chain, NEAR, "P", 95.0), _quote(chain, NEAR, "P", 90.0)
    assert s.legs[0].price == short.bid and s.legs[1].price == long_.ask
    assert s.net_price == pytest.approx(long_.ask - short.bid) and s.is_credit
    assert s.name == "XYZ 2026-02-06 95/90 put credit"
    assert s.legs[0].symbol == "XYZP95" and s.legs[0].style == "E"
    mid = tpl.price_legs(s, chain, "mid").net_price
    assert mid == pytest.approx(s.net_price - 0.2)  # the touch gives up half of each spread
    assert tpl.net_premium(s, chain, "mid") == pytest.approx(mid)
    debit = tpl.vertical(chain, "C", days=30, near=tpl.atm(), width_strikes=1, direction="debit")
    assert [(leg.strike, leg.quantity) for leg in debit.legs] == [(100.0, 1), (105.0, -1)]
    assert debit.net_price is not None and debit.net_price > 0


def test_condor_butterfly_strangle_straddle_legs() -> None:
    chain = _chain()
    ic = tpl.iron_condor(
        chain, days=30, short_put=tpl.by_delta(0.25), short_call=tpl.by_delta(0.30), width_strikes=1
    )
    assert [(leg.right, leg.strike, leg.quantity) for leg in ic.legs] == [
        ("P", 90.0, 1),
        ("P", 95.0, -1),
        ("C", 105.0, -1),
        ("C", 110.0, 1),
    ]
    assert ic.is_credit
    fly = tpl.iron_butterfly(chain, days=30, width=10.0)
    assert [(leg.right, leg.strike, leg.quantity) for leg in fly.legs] == [
        ("P", 90.0, 1),
        ("P", 100.0, -1),
        ("C", 100.0, -1),
        ("C", 110.0, 1),
    ]
    st = tpl.straddle(chain, days=30)
    assert {(leg.right, leg.strike, leg.quantity) for leg in st.legs} == {
        ("C", 100.0, 1),
        ("P", 100.0, 1),
    }
    sg = tpl.strangle(chain, days=30, call=tpl.by_delta(0.16), put=tpl.by_delta(0.10))
    assert [(leg.right, leg.strike, leg.quantity) for leg in sg.legs] == [
        ("P", 90.0, -1),
        ("C", 110.0, -1),
    ]
    with pytest.raises(SpreadError, match=r"no wing 50.0 points beyond 110"):
        tpl.iron_condor(chain, days=30, short_put=tpl.atm(1), short_call=tpl.atm(2), width=50.0)


def test_calendar_covered_call_cash_secured_put() -> None:
    chain = _chain()
    cal = tpl.calendar(chain, "C", front_days=30, back_days=60)
    assert [(leg.expiry, leg.strike, leg.quantity) for leg in cal.legs] == [
        (NEAR.date(), 100.0, -1),
        (FAR.date(), 100.0, 1),
    ]
    assert cal.net_price == pytest.approx(
        _quote(chain, FAR, "C", 100.0).ask - _quote(chain, NEAR, "C", 100.0).bid
    )
    # a strike the back month does not list is never picked: drop 100 C from the far expiry
    gappy = chain[~((chain.expiry == FAR) & (chain.strike == 100.0))]
    cal2 = tpl.calendar(gappy, "C", front_days=30, back_days=60)
    assert {leg.strike for leg in cal2.legs} == {105.0}  # ATM among the common strikes
    with pytest.raises(SpreadError, match=r"the back must expire later"):
        tpl.calendar(chain, "C", front_days=30, back_days=31)
    cc = tpl.covered_call(chain, days=30, call=tpl.atm(1))
    assert cc.legs[0] == Leg.shares("XYZ", 100, 100.4, style="E")
    assert cc.net_price == pytest.approx(100.4 - _quote(chain, NEAR, "C", 105.0).bid)
    csp = tpl.cash_secured_put(chain, days=60, put=tpl.by_delta(0.25), quantity=2)
    assert tpl.collateral(csp) == pytest.approx(2 * 95.0 * 100)


def test_quotes_that_cannot_fill_are_named() -> None:
    chain = _chain()
    bad = chain.copy()
    i = bad.index[(bad.expiry == NEAR) & (bad.right == "P") & (bad.strike == 90.0)][0]
    bad.loc[i, ["bid", "ask"]] = [1.5, 1.2]
    with pytest.raises(
        SpreadError, match=r"leg \+1 XYZ 2026-02-06 90 P on 2026-01-05: crossed quote"
    ):
        tpl.vertical(bad, "P", days=30, near=tpl.at_strike(95.0), width=5.0)
    bad.loc[i, ["bid", "ask"]] = [0.5, np.nan]
    with pytest.raises(SpreadError, match=r"no two-sided quote for a mid \(bid 0.5, ask nan\)"):
        tpl.vertical(bad, "P", days=30, near=tpl.at_strike(95.0), width=5.0, fill="mid")
    bad.loc[i, ["bid", "ask"]] = [np.nan, np.nan]
    with pytest.raises(SpreadError, match=r"no ask to buy at"):
        tpl.vertical(bad, "P", days=30, near=tpl.at_strike(95.0), width=5.0)
    s = Spread("custom", (Leg("XYZ", "C", 1, 102.0, NEAR.date()),))
    with pytest.raises(
        SpreadError, match=r"leg \+1 XYZ 2026-02-06 102 C: not in the chain of 2026-01-05"
    ):
        tpl.check_in_chain(s, chain)


def test_numpy_integers_are_plain_ints() -> None:
    leg = Leg("SPY", "C", np.int64(-2), np.float64(100.0), EXP)
    spread = Spread("custom", [leg], quantity=np.int32(3))
    assert type(leg.quantity) is int and type(spread.quantity) is int
    assert isinstance(spread.legs, tuple)
    with pytest.raises(SpreadError, match=r"whole number of contracts"):
        Leg("SPY", "C", 1.5, 100.0, EXP)  # type: ignore[arg-type]


def test_model_delta_pick_on_an_american_chain() -> None:
    from toolkit.options.american import american_greeks

    chain = _chain().assign(delta=np.nan, style="A", iv=0.35)
    t_years = (FAR - DAY).days / 365.0
    want = american_greeks("P", 100.4, np.array(STRIKES), t_years, 0.0, 0.0, 0.35).delta
    nearest = STRIKES[int(np.argmin(np.abs(np.abs(want) - 0.2)))]
    got = tpl.pick_strike(chain, FAR.date(), "P", tpl.by_delta(0.2), delta_source="model")
    assert got == nearest
    assert (
        tpl.vertical(chain, "P", days=60, near=tpl.at_strike(95.0), width=5.0).legs[0].style == "A"
    )
