"""Implied volatility: round trip to 1e-10, reason codes instead of silent zeros, whole chains.

Round trips price with our Black-76 (pinned to QuantLib in test_black.py) and invert. From the
out-of-the-money side the price carries the full information, so |sigma_hat - sigma| <= 1e-10
wherever that price is a normal double. From the in-the-money side the time value is the
difference of two numbers of size F: there the attainable accuracy is the price's rounding
(a few ulps of F) over vega, and the test holds us to that (or to 1e-10 where it is smaller),
or to AT_INTRINSIC where the time value is inside the rounding.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.data.options import load_option_quotes
from toolkit.options import _implied
from toolkit.options.american import american_price
from toolkit.options.black import black76_greeks, black76_price, bsm_price
from toolkit.options.implied import (
    IVReason,
    bsm_implied_vol,
    chain_carry,
    chain_implied_vols,
    implied_vol,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "options"
EPS = np.finfo(float).eps
HOUR = 1.0 / (365.0 * 24.0)


def _bound(scale: np.ndarray, vega_undiscounted: np.ndarray) -> np.ndarray:
    """What a price of size ``scale`` can tell: 64 ulps of it over vega, or 1e-10."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.maximum(1e-10, 64.0 * EPS * scale / vega_undiscounted)


def _check_round_trip(F: np.ndarray, K: np.ndarray, T: np.ndarray, df: np.ndarray,
                      sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sides of every point; returns the masks (OTM inverted to 1e-10, ITM to 1e-10).

    OTM side: exact to 1e-10 unless the price's own rounding over vega is larger (only at
    total vol sigma sqrt(T) above ~7, where the price is within 1e-8 of its upper bound).
    ITM side: the time value is a difference of numbers of size F, so the bound uses
    4 x max(F, K) as the scale.
    """
    otm = np.where(K >= F, "C", "P")
    itm = np.where(K >= F, "P", "C")
    vega = black76_greeks(otm, F, K, T, df, sigma).vega / df
    p_otm = black76_price(otm, F, K, T, df, sigma)
    iv, why = implied_vol(p_otm, otm, F, K, T, df)
    normal = p_otm / df / np.sqrt(F * K) >= _implied.DBL_MIN
    assert np.all(why[normal] == IVReason.OK)
    assert np.all(why[~normal] == IVReason.AT_INTRINSIC)
    err = np.abs(iv - sigma)
    bound = _bound(p_otm / df, vega)
    assert np.all(err[normal] <= bound[normal]), "OTM round trip"
    exact = normal & (bound <= 1e-10)

    p_itm = black76_price(itm, F, K, T, df, sigma)
    iv2, why2 = implied_vol(p_itm, itm, F, K, T, df)
    ok = why2 == IVReason.OK
    # Where we refuse, the true time value is inside the price's rounding noise.
    refused = ~ok
    assert np.all(why2[refused] == IVReason.AT_INTRINSIC)
    assert np.all(p_otm[refused] / df[refused] <= 64 * EPS * np.maximum(F, K)[refused])
    bound2 = _bound(4.0 * np.maximum(F, K), vega)
    err2 = np.abs(iv2 - sigma)
    assert np.all(err2[ok] <= bound2[ok]), "ITM round trip"
    # Never a silent zero anywhere.
    assert not np.any(iv == 0.0) and not np.any(iv2 == 0.0)
    return exact, ok & (bound2 <= 1e-10)


def test_round_trip_on_a_fixed_grid_with_the_deep_itm_short_dated_corner() -> None:
    sig = np.array([0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0])
    T = np.array([HOUR, 1 / 365, 2 / 365, 7 / 365, 30 / 365, 0.25, 1.0, 5.0])
    k = np.linspace(-1.5, 1.5, 121)  # ln(K/F), deep on both sides
    S, TT, KK = np.meshgrid(sig, T, k, indexing="ij")
    F = np.full(S.size, 2700.0)
    K = F * np.exp(KK.ravel())
    df = np.exp(-0.05 * TT.ravel())
    otm_exact, itm_exact = _check_round_trip(F, K, TT.ravel(), df, S.ravel())
    # The rest have OTM prices below 1e-308 of F (AT_INTRINSIC, asserted above).
    assert otm_exact.sum() >= 5300 and itm_exact.sum() >= 2400  # of 8712 points
    # The deep-ITM short-dated corner is in the grid and exact: 1-day calls 5-15 % in the
    # money at 20-40 % vol, inverted from their parity (OTM put) prices.
    corner = ((S.ravel() >= 0.2) & (S.ravel() <= 0.4) & (TT.ravel() == 1 / 365)
              & (KK.ravel() < -0.05) & (KK.ravel() > -0.15))
    assert corner.sum() >= 8 and otm_exact[corner].all()


POINT = st.tuples(
    st.floats(0.003, 4.0),  # sigma
    st.floats(0.02, 3650.0),  # days to expiry (from half an hour)
    st.floats(-2.0, 2.0),  # ln(K/F)
    st.floats(-0.01, 0.10),  # rate
    st.floats(0.5, 5000.0),  # forward
)


@settings(max_examples=40, deadline=None)
@given(points=st.lists(POINT, min_size=1, max_size=30))
def test_round_trip_property(points: list[tuple[float, float, float, float, float]]) -> None:
    sigma, days, log_k, rate, F = (np.array(c) for c in zip(*points, strict=True))
    T = days / 365.0
    _check_round_trip(F, F * np.exp(log_k), T, np.exp(-rate * T), sigma)


def test_reason_codes_never_a_silent_zero() -> None:
    F, K, T, df = 100.0, 90.0, 0.5, 0.98
    intrinsic = df * (F - K)
    cases = {
        IVReason.BELOW_INTRINSIC: (intrinsic - 0.01, "C", F, K, T, df),
        IVReason.AT_INTRINSIC: (intrinsic, "C", F, K, T, df),
        IVReason.ABOVE_BOUND: (df * F, "C", F, K, T, df),
        IVReason.EXPIRED: (10.0, "C", F, K, 0.0, df),
        IVReason.BAD_INPUT: (math.nan, "C", F, K, T, df),
    }
    for want, args in cases.items():
        iv, why = implied_vol(*args)
        assert (int(why), bool(np.isnan(iv))) == (want, True), want.name
    assert int(implied_vol(-0.01, "P", F, K, T, df)[1]) == IVReason.BELOW_INTRINSIC
    assert int(implied_vol(df * K, "P", F, K, T, df)[1]) == IVReason.ABOVE_BOUND
    assert int(implied_vol(1.0, "C", F, -K, T, df)[1]) == IVReason.BAD_INPUT
    iv, why = implied_vol(black76_price("P", F, K, T, df, 0.25), "P", F, K, T, df)
    assert int(why) == IVReason.OK and abs(float(iv) - 0.25) < 1e-13
    # Spot form: BSM price with a dividend yield back to its vol.
    iv, why = bsm_implied_vol(bsm_price("C", 250.0, 260.0, 0.3, 0.04, 0.015, 0.33), "C", 250.0,
                              260.0, 0.3, 0.04, 0.015)
    assert int(why) == IVReason.OK and abs(float(iv) - 0.33) < 1e-13


def test_one_option_equals_its_element_of_an_array() -> None:
    """Scalar arguments (the gateway prices each quote as asked) take the per-option kernel,
    arrays the parallel one: the same bits and reason codes, 0-d arrays of the same dtypes."""
    rng = np.random.default_rng(11)
    n = 400
    price, F, K = rng.uniform(0.0, 40.0, n), rng.uniform(50.0, 150.0, n), rng.uniform(50, 150, n)
    T, df = rng.uniform(-0.01, 2.0, n), rng.uniform(0.8, 1.0, n)
    right = rng.choice(["C", "P"], n)
    iv, why = implied_vol(price, right, F, K, T, df)
    assert (why == IVReason.OK).sum() > n // 2 and len(set(why.tolist())) >= 3
    for i in range(n):
        one, one_why = implied_vol(float(price[i]), str(right[i]), F[i], K[i], T[i], df[i])
        assert one.shape == one_why.shape == () and one_why.dtype == np.int8
        assert int(one_why) == int(why[i])
        assert np.array_equal(one, iv[i], equal_nan=True)  # bit for bit, NaN where no vol


def test_vollib_returns_a_silent_zero_where_we_return_a_reason() -> None:
    """Reproduces the issue's claim: vollib (py_vollib's successor) says 0.0 for deep ITM
    short-dated contracts whose time value is lost in rounding; we say NaN + AT_INTRINSIC.

    Where the time value survives rounding we found vollib (Let's Be Rational) accurate too:
    its fault is the silent 0, not wrong numbers (checked on 20,000 random contracts).
    """
    bs = pytest.importorskip("vollib.black_scholes")
    from vollib.black_scholes.implied_volatility import implied_volatility as vollib_iv

    S, K, days, r, sigma = 100.0, 75.55, 2.66, 0.05, 0.2274
    T = days / 365.0
    price = bs.black_scholes("c", S, K, T, r, sigma)
    assert vollib_iv(price, S, K, T, r, "c") == 0.0  # silent: no exception, no flag
    iv, why = implied_vol(price, "C", S * math.exp(r * T), K, T, math.exp(-r * T))
    assert np.isnan(iv) and int(why) == IVReason.AT_INTRINSIC

    # On a random grid of 2,000 BSM prices: every vollib zero is one of our reason codes.
    rng = np.random.default_rng(7)
    n = 2000
    Ks = S * np.exp(rng.uniform(-0.7, 0.7, n))
    Ts = np.exp(rng.uniform(math.log(1 / 365), math.log(2.0), n))
    sig = rng.uniform(0.05, 1.0, n)
    flag = np.where(rng.uniform(size=n) < 0.5, "c", "p")
    prices = np.array([bs.black_scholes(f, S, k, t, r, s)
                       for f, k, t, s in zip(flag, Ks, Ts, sig, strict=True)])
    theirs = np.array([vollib_iv(p, S, k, t, r, f)
                       for p, k, t, f in zip(prices, Ks, Ts, flag, strict=True)])
    ours, reason = implied_vol(prices, np.char.upper(flag), S * np.exp(r * Ts), Ks, Ts,
                               np.exp(-r * Ts))
    zeros = theirs == 0.0
    assert zeros.sum() >= 20
    assert np.all(reason[zeros] == IVReason.AT_INTRINSIC) and np.all(np.isnan(ours[zeros]))
    assert not np.any(ours == 0.0)


def test_chain_implied_vols_on_the_spx_2011_chain() -> None:
    """European SPX: parity forward per expiry, calls and puts agree, vendor IVs close."""
    q = load_option_quotes(DATA / "SPX_eod_2011-01-03_2011-01-07_ivolatility.csv")
    out = chain_implied_vols(q)
    assert len(out) == len(q) and out.index.equals(q.index)
    live = out[out["T"] > 0]
    per = live.groupby(["quote_date", "expiry"])[["forward", "discount_factor",
                                                  "parity_pairs", "parity_residual"]].first()
    assert per["forward"].notna().all() and (per["parity_pairs"] >= 3).all()
    spot = live.groupby(["quote_date", "expiry"])["underlying_price"].first()
    T = live.groupby(["quote_date", "expiry"])["T"].first()
    carry = np.log(per["forward"] / spot) / T  # r - q implied by parity, per year
    assert carry[T > 0.1].between(-0.04, 0.02).all()
    assert (abs(per["forward"] / spot - 1)[T <= 0.1] < 0.01).all()
    assert per["discount_factor"].between(0.95, 1.02).all()
    # Every NaN has a reason; every number is OK.
    ok = out["iv_reason"] == IVReason.OK
    assert out.loc[ok, "implied_vol"].gt(0).all() and out.loc[~ok, "implied_vol"].isna().all()
    assert set(out["iv_reason"].unique()) <= {int(r) for r in IVReason}
    assert (out.loc[out["T"] <= 0, "iv_reason"] == IVReason.EXPIRED).all()
    # Parity makes call and put at one strike agree near the money.
    near = live[(abs(np.log(live["strike"] / live["forward"])) < 0.05) & ok[live.index]]
    piv = near.pivot_table(index=["quote_date", "expiry", "strike"], columns="right",
                           values="implied_vol").dropna()
    assert len(piv) > 100
    assert float((piv["C"] - piv["P"]).abs().median()) < 0.002
    # The vendor (iVolatility) used its own forward; near the money we agree within 1 vol pt.
    d = (near["implied_vol"] - near["iv"]).abs().dropna()
    assert len(d) > 200 and float(d.median()) < 0.01


def test_chain_reasons_for_bad_quotes() -> None:
    q = load_option_quotes(DATA / "SPX_eod_2011-01-03_2011-01-07_ivolatility.csv")
    q = q[q["expiry"] == q["expiry"].max()].copy()
    live = q.index[(q["expiry"] > q["quote_date"])]
    q.loc[live[0], ["bid", "ask"]] = [5.0, 4.0]
    q.loc[live[1], ["bid", "ask"]] = [0.0, 4.0]
    out = chain_implied_vols(q)
    assert out.loc[live[0], "iv_reason"] == IVReason.CROSSED_MARKET
    assert out.loc[live[1], "iv_reason"] == IVReason.NO_TWO_SIDED_QUOTE
    lone = q.drop(live[:2]).iloc[:1].copy()
    assert chain_implied_vols(lone)["iv_reason"].iloc[0] in (IVReason.NO_FORWARD,
                                                             IVReason.EXPIRED,
                                                             IVReason.NO_TWO_SIDED_QUOTE)


def test_chains_of_two_underlyings_in_one_frame_stay_apart() -> None:
    """Two underlyings (or SPX/SPXW roots) sharing quote date and expiry are two chains: the
    frame's answer equals each chain's own (a pooled parity fit would pair their strikes)."""
    q = load_option_quotes(DATA / "SPX_eod_2011-01-03_2011-01-07_ivolatility.csv")
    a = q[q["expiry"] == q["expiry"].unique()[1]]
    b = a.assign(underlying="HALF", root="HALF", underlying_price=a["underlying_price"] / 2,
                 strike=a["strike"] / 2 + 5.0, bid=a["bid"] / 2, ask=a["ask"] / 2)
    both = chain_implied_vols(pd.concat([a, b], ignore_index=True))
    alone = pd.concat([chain_implied_vols(a), chain_implied_vols(b)], ignore_index=True)
    cols = ["implied_vol", "forward", "discount_factor", "parity_pairs"]
    pd.testing.assert_frame_equal(both[cols], alone[cols])
    assert both["forward"].nunique() == 2 * a["quote_date"].nunique()


# -- American chains (style 'A'): the carry rule and the American inversion ------------------
S_A, R_A, Q_A = 100.0, 0.04, 0.012
DAY = pd.Timestamp("2026-01-05")


def _smile(k: np.ndarray) -> np.ndarray:
    return 0.20 - 0.15 * np.log(k / S_A) + 0.3 * np.log(k / S_A) ** 2


def _american_frame(days: tuple[int, ...] = (91, 365)) -> pd.DataFrame:
    """A canonical American quote frame priced by american_price at (S_A, R_A, Q_A): exact
    mids, spreads of 1 cent + 0.5 % of the price."""
    rows = []
    k = np.arange(70.0, 131.0, 2.5)
    for d in days:
        T = d / 365.0
        for right in "CP":
            px = american_price(right, S_A, k, T, R_A, Q_A, _smile(k))
            h = 0.01 + 0.005 * px
            rows.append(pd.DataFrame({
                "quote_date": DAY, "underlying": "XYZ", "underlying_price": S_A,
                "expiry": DAY + pd.Timedelta(days=d), "right": right, "strike": k,
                "bid": px - h, "ask": px + h, "style": "A"}))
    return pd.concat(rows, ignore_index=True)


def test_american_chain_round_trip_and_carry() -> None:
    """Prices made by american_price at a known (r, q, sigma) come back: the rate from the
    year-out expiry's de-Americanised parity within 2 bp, every expiry's dividend yield within
    3 bp (it inherits the rate's error: near the money F barely depends on r), the out-of-the-
    money vols within 2e-4 of sigma (that carry error over vega; with the rate given: 2e-5,
    what the forward's 5e-5 leaves), and each OK row reprices to its mid at the reported carry
    and vol to 1e-8 (the pricer's own inversion)."""
    q = _american_frame()
    out = chain_implied_vols(q)
    assert (out["iv_model"] == "american").all()
    assert (out["carry_source"] == "parity_american").all()
    assert np.allclose(out["rate"], R_A, atol=2e-4)
    assert np.allclose(out["dividend_yield"], Q_A, atol=3e-4)
    assert np.allclose(out["discount_factor"], np.exp(-out["rate"] * out["T"]), rtol=1e-15)
    ok = (out["iv_reason"] == IVReason.OK).to_numpy()
    assert ok.mean() > 0.9 and not (out["implied_vol"] == 0.0).any()
    # the rest: deep in-the-money puts the pricer exercises at once (worth K - S: no vol to
    # imply) and the one 130 call whose bid went below 0
    at = out[out["iv_reason"] == IVReason.AT_INTRINSIC]
    assert len(at) >= 5 and (at["right"] == "P").all()
    assert np.allclose(0.5 * (at["bid"] + at["ask"]), at["strike"] - S_A, atol=1e-9)
    assert set(out["iv_reason"][~ok]) == {IVReason.AT_INTRINSIC, IVReason.NO_TWO_SIDED_QUOTE}
    otm = ok & np.where(out["right"] == "C", out["strike"] >= out["forward"],
                        out["strike"] < out["forward"])
    assert np.abs(out["implied_vol"][otm] - _smile(out["strike"][otm].to_numpy())).max() < 2e-3
    o = out[ok]
    back = american_price(o["right"].to_numpy(), S_A, o["strike"], o["T"], o["rate"],
                          o["dividend_yield"], o["implied_vol"])
    assert np.abs(back - 0.5 * (o["bid"] + o["ask"])).max() < 1e-8
    given = chain_implied_vols(q, rate=R_A)
    assert (given["carry_source"] == "input").all() and (given["rate"] == R_A).all()
    assert np.allclose(given["dividend_yield"], Q_A, atol=3e-5)
    g_otm = given[otm]
    assert np.abs(g_otm["implied_vol"] - _smile(g_otm["strike"].to_numpy())).max() < 2e-4


def test_american_chain_fallback_reasons_and_bad_rate() -> None:
    """No expiry long enough for a parity rate: the stated fallback, reported as such; reason
    codes as on European chains, never a silent 0; a negative rate is refused by name."""
    q = _american_frame(days=(30,))
    out = chain_implied_vols(q, fallback_rate=0.035)
    assert (out["carry_source"] == "fallback").all() and (out["rate"] == 0.035).all()
    live = q.index[:3]
    q.loc[live[0], ["bid", "ask"]] = [5.0, 4.0]
    q.loc[live[1], ["bid", "ask"]] = [0.0, 4.0]
    put = q.index[(q["right"] == "P") & (q["strike"] == 130.0)][0]
    q.loc[put, ["bid", "ask"]] = [25.0, 25.2]  # below the 30-point intrinsic value
    out = chain_implied_vols(q, rate=0.035)
    assert out.loc[live[0], "iv_reason"] == IVReason.CROSSED_MARKET
    assert out.loc[live[1], "iv_reason"] == IVReason.NO_TWO_SIDED_QUOTE
    assert out.loc[put, "iv_reason"] == IVReason.BELOW_INTRINSIC
    assert out.loc[[live[0], live[1], put], "implied_vol"].isna().all()
    with pytest.raises(ValueError, match=r"rate=-0\.01"):
        chain_implied_vols(q, rate=-0.01)


def test_spy_snapshots_carry() -> None:
    """SPY (American): plain parity gave the 2026-03-20 expiry a rate of -13.6 %; the rule
    gives each snapshot one rate from its long expiries, 3-6 % (T-bills were ~3.6-4.3 % on
    these dates; measured 4.29 % and 4.84 %), and dividend yields of the 60-800-day expiries
    around SPY's trailing ~1.1-1.3 % (measured 1.05-1.63 %). The 2026-02-11 snapshot's spot
    was taken apart from its quotes: the 1-day forward sits 0.33 above it where one day of
    carry is worth 0.05, and that gap shows as a large negative dividend yield on the
    shortest expiries (-13 % a year at 1 day), not in the rate."""
    carries = {}
    for name in ("SPY_chain_2026-02-11.csv", "SPY_chain_2025-08-26.csv"):
        c = chain_carry(load_option_quotes(DATA / name))
        live = c[c["T"] > 0]
        assert (live["carry_source"] == "parity_american").all()
        assert live["rate"].nunique() == 1 and 0.03 < live["rate"].iloc[0] < 0.06
        mid = live[(live["T"] * 365 >= 60) & (live["T"] * 365 <= 800)]
        assert len(mid) >= 12 and (mid["parity_pairs"] >= 5).all()
        assert mid["dividend_yield"].between(0.005, 0.02).all()
        assert 0.010 < mid["dividend_yield"].median() < 0.015
        carries[name] = live
    feb = carries["SPY_chain_2026-02-11.csv"]
    one = feb[(feb["T"] * 365).round() == 1].iloc[0]
    assert one["forward"] - one["spot"] > 0.25 and one["dividend_yield"] < -0.05
