"""IV surface: raw SVI by hand, the fit recovers known parameters, butterfly arbitrage is
found and repaired, calendar crossings are reported, the 30-day interpolation is Cboe's, and
our VIX recomputation from the shipped SPX 2011 chain matches Cboe's published closes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.data import load_option_quotes, load_vix
from toolkit.errors import DataError
from toolkit.options.implied import chain_implied_vols
from toolkit.options.surface import (
    SVI,
    SliceFit,
    calendar_arbitrage,
    cboe_index,
    cboe_variance,
    constant_maturity_iv,
    delta_k,
    fit_surface,
    fit_svi,
    interpolate_total_variance,
    smile,
)

SPX2011 = "SPX_eod_2011-01-03_2011-01-07_ivolatility.csv"
# Gatheral and Jacquier (2014), section 5.1 (Axel Vogt's example): a raw SVI slice with
# butterfly arbitrage, T = 1.
VOGT = SVI(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)


@pytest.fixture(scope="module")
def spx() -> pd.DataFrame:
    return load_option_quotes(SPX2011)


def test_svi_total_variance_by_hand() -> None:
    p = SVI(a=0.04, b=0.4, rho=-0.4, m=0.1, sigma=0.2)
    # k = m: w = a + b sigma = 0.04 + 0.4 x 0.2
    # k = m + 0.15: sqrt(0.15^2 + 0.2^2) = 0.25, w = 0.04 + 0.4 (-0.06 + 0.25) = 0.116
    # k = m - 0.15: w = 0.04 + 0.4 (0.06 + 0.25) = 0.164
    np.testing.assert_allclose(p.total_variance([0.1, 0.25, -0.05]), [0.12, 0.116, 0.164])
    np.testing.assert_allclose(p.implied_vol(0.1, 0.5), np.sqrt(0.12 / 0.5))
    assert p.min_variance() == pytest.approx(0.04 + 0.4 * 0.2 * np.sqrt(1 - 0.16))


def test_g_is_gatheral_jacquier_density_function() -> None:
    """g from its definition with finite-difference derivatives of w."""
    p = SVI(a=0.02, b=0.3, rho=-0.5, m=0.05, sigma=0.15)
    k = np.linspace(-0.8, 0.8, 33)
    h = 1e-5
    w = p.total_variance(k)
    w1 = (p.total_variance(k + h) - p.total_variance(k - h)) / (2 * h)
    w2 = (p.total_variance(k + h) - 2 * w + p.total_variance(k - h)) / h**2
    g = (1 - k * w1 / (2 * w)) ** 2 - w1**2 / 4 * (1 / w + 0.25) + w2 / 2
    np.testing.assert_allclose(p.g(k), g, atol=1e-5)
    assert (p.g(k) > 0).all()
    # the paper's example is arbitrageable: g < 0 around k = 0.7 (its figure 2)
    assert VOGT.g(np.linspace(-1.5, 1.5, 301)).min() < 0
    assert VOGT.g(0.7) < 0


def test_fit_recovers_known_parameters() -> None:
    truth = SVI(a=0.01, b=0.12, rho=-0.6, m=0.02, sigma=0.1)
    T = 0.25
    k = np.linspace(-0.4, 0.3, 41)
    iv = truth.implied_vol(k, T)
    params, before, after = fit_svi(k, iv, T)
    np.testing.assert_allclose(params.implied_vol(k, T), iv, atol=1e-6)
    for name in ("a", "b", "rho", "m", "sigma"):
        assert getattr(params, name) == pytest.approx(getattr(truth, name), abs=2e-3), name
    assert before == after == 0


def test_butterfly_arbitrage_is_repaired() -> None:
    k = np.linspace(-1.5, 1.5, 61)
    iv = VOGT.implied_vol(k, 1.0)
    params, before, after = fit_svi(k, iv, 1.0)
    assert before > 0  # the best unconstrained fit is Vogt's slice itself, with its arbitrage
    assert after == 0 and params.g(np.linspace(-1.5, 1.5, 201)).min() >= 0
    # the repair costs some fit: still within ~1.5 vol points of the arbitrageable input
    assert np.max(np.abs(params.implied_vol(k, 1.0) - iv)) < 0.015


def _slice(params: SVI, T: float, expiry: str) -> SliceFit:
    return SliceFit(
        expiry=pd.Timestamp(expiry), root="X", T=T, forward=100.0, discount_factor=1.0,
        params=params, n_quotes=10, k_min=-0.3, k_max=0.3, rmse=0.0, max_error=0.0,
        within_spread=1.0, atm_iv=float(params.implied_vol(0.0, T)), min_g=0.1,
        butterfly_violations=0, violations_before_repair=0,
    )  # fmt: skip


def test_calendar_crossings_are_reported() -> None:
    near = _slice(SVI(0.004, 0.05, -0.5, 0.0, 0.1), 0.1, "2024-01-19")
    far = _slice(SVI(0.010, 0.05, -0.5, 0.0, 0.1), 0.3, "2024-03-15")
    assert calendar_arbitrage((near, far)).empty
    # a later slice whose put wing is below the earlier one's: w falls with T there
    flat = _slice(SVI(0.012, 0.01, 0.0, 0.0, 0.1), 0.3, "2024-03-15")
    report = calendar_arbitrage((near, flat))
    assert len(report) == 1 and report["points"].iloc[0] > 0
    assert report["at_k"].iloc[0] == pytest.approx(-0.3)  # the worst crossing: the put wing
    expected = near.params.total_variance(-0.3) - flat.params.total_variance(-0.3)
    assert report["max_shortfall"].iloc[0] == pytest.approx(float(expected))


def test_thirty_day_interpolation_by_hand() -> None:
    # T1 = 20 days at 20 %, T2 = 50 days at 25 %: total variance at 30 days
    # = (20 x 0.04 x 20/30 + 50 x 0.0625 x 10/30) / 365 = 1.575 / 365, so sigma^2 = 1.575 / 30
    var = interpolate_total_variance(20 / 365, 0.04, 50 / 365, 0.0625, 30 / 365)
    assert var == pytest.approx(0.0525, rel=1e-12)
    cm = constant_maturity_iv([50 / 365, 20 / 365, 90 / 365], [0.25, 0.20, 0.3])
    assert cm.iv == pytest.approx(np.sqrt(0.0525)) and cm.method == "interpolated"
    assert (cm.days_before, cm.days_after) == pytest.approx((20, 50))
    assert constant_maturity_iv([30 / 365], [0.2]).method == "exact"
    lone = constant_maturity_iv([23 / 365], [0.31])
    assert np.isnan(lone.iv) and lone.method == "no bracket"
    flat = constant_maturity_iv([23 / 365], [0.31], extrapolate=True)
    assert flat.iv == 0.31 and flat.method == "extrapolated"


def test_cboe_variance_by_hand() -> None:
    # F = 101, DF = 0.99, T = 0.1; K0 = 100 (first strike below F); dK = 5 everywhere.
    # Q: put 90 -> 0.5, put 95 -> 1.5, K0 -> (3 + 4) / 2 = 3.5, call 105 -> 1.2, call 110 -> 0.4
    # put 85 has a zero bid and 80 too: the walk stops there (80's bid would count otherwise)
    rows = [
        ("P", 80, 0.0, 0.2), ("P", 85, 0.0, 0.1), ("P", 90, 0.4, 0.6), ("P", 95, 1.4, 1.6),
        ("P", 100, 2.9, 3.1), ("C", 100, 3.9, 4.1), ("C", 105, 1.1, 1.3), ("C", 110, 0.3, 0.5),
    ]  # fmt: skip
    chain = pd.DataFrame(rows, columns=["right", "strike", "bid", "ask"]).assign(
        forward=101.0, discount_factor=0.99, T=0.1
    )
    strip = 5 * (0.5 / 90**2 + 1.5 / 95**2 + 3.5 / 100**2 + 1.2 / 105**2 + 0.4 / 110**2)
    expected = 2 / 0.1 * strip / 0.99 - (101 / 100 - 1) ** 2 / 0.1
    assert cboe_variance(chain) == pytest.approx(expected, rel=1e-12)


def test_our_vix_matches_cboe_closes(spx: pd.DataFrame) -> None:
    """The VIX recomputed from the iVolatility SPX chain (standard monthlies, AM settlement,
    as Cboe did in 2011) is within 0.05 vol points of Cboe's close on all five days (measured:
    -0.013, 0.001, -0.009, -0.008, 0.022)."""
    vix = load_vix("VIX")
    for day, chain in spx.groupby("quote_date"):
        ours = cboe_index(chain)
        assert ours.method == "interpolated"
        assert abs(100 * ours.iv - vix.loc[day, "close"]) < 0.05, day


def test_surface_of_a_real_chain(spx: pd.DataFrame) -> None:
    day = spx[(spx["quote_date"] == "2011-01-03") & (spx["expiry"] <= "2011-03-31")]
    surface = fit_surface(day)
    table = surface.term_structure()
    assert list(table["expiry"].dt.strftime("%m-%d")) == [
        "01-07",
        "01-21",
        "02-18",
        "03-18",
        "03-31",
    ]
    assert (table["butterfly_violations"] == 0).all() and (table["min_g"] >= 0).all()
    # fit error per slice, vol points (measured 0.22, 1.74, 1.76, 0.23, 0.52: the 01-21 and
    # 02-18 errors come from wide-spread wing quotes; 97-98 % of fitted vols inside bid-ask)
    assert (table["rmse_vol_points"] < 2.0).all() and (table["within_spread"] > 0.9).all()
    assert table["atm_iv"].is_monotonic_increasing  # the January 2011 term structure rose
    assert surface.calendar.empty
    cm = surface.constant_maturity_iv(30)
    assert cm.method == "interpolated"  # AM-settled monthlies: T ends at the 09:30 settlement
    assert (cm.days_before, cm.days_after) == pytest.approx((18 - 6.5 / 24, 46 - 6.5 / 24))
    assert 0.13 < cm.iv < 0.17  # ATM; the VIX (17.61, skew included) is above it
    fitted = surface.implied_vol([1200.0, 1275.0], "2011-02-18")
    assert np.all(np.isfinite(fitted)) and fitted[0] > fitted[1]  # put skew
    grid = surface.vol_grid(11)
    assert len(grid) == 55 and grid["iv"].notna().all()
    feb = grid[grid["expiry"] == "2011-02-18"]
    np.testing.assert_allclose(feb["iv"], surface.implied_vol(feb["strike"], "2011-02-18"))
    smile = surface.smile
    assert ((smile["right"] == "P") == (smile["strike"] < smile["forward"])).all()
    with pytest.raises(DataError, match=r"no fitted slice expires 2011-05-20"):
        surface.implied_vol([1200.0], "2011-05-20")


def test_surface_needs_one_quote_date(spx: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"needs the quotes of one quote date; got 5"):
        cboe_index(spx)
    with pytest.raises(DataError, match=r"no quotes on 2011-01-08"):
        fit_surface(spx, "2011-01-08")


@settings(max_examples=25, deadline=None)
@given(
    a=st.floats(0.001, 0.05),
    b=st.floats(0.02, 0.6),
    rho=st.floats(-0.9, 0.5),
    m=st.floats(-0.1, 0.1),
    sigma=st.floats(0.05, 0.4),
    T=st.floats(0.05, 1.0),
)
def test_fit_reproduces_any_arbitrage_free_slice_and_repairs_the_rest(
    a: float, b: float, rho: float, m: float, sigma: float, T: float
) -> None:
    truth = SVI(a, b, rho, m, sigma)
    k = np.linspace(-0.5, 0.3, 25)
    iv = truth.implied_vol(k, T)
    params, before, after = fit_svi(k, iv, T)
    assert after == 0 and params.g(np.linspace(-0.5, 0.3, 201)).min() >= 0
    if truth.g(np.linspace(-0.5, 0.3, 201)).min() > 1e-3:  # clearly arbitrage-free
        # measured over 60 random slices: at most 6e-8
        np.testing.assert_allclose(params.implied_vol(k, T), iv, atol=1e-6)
        assert before == 0


def test_25_delta_strikes_and_skew_by_hand() -> None:
    # flat 20 % vol, T = 1 (w = 0.04): N(d1) = 0.25 at d1 = -0.67448975,
    # k = -d1 sqrt(w) + w/2 = 0.67448975 x 0.2 + 0.02 = 0.15489795; the put's at -0.11489795
    flat = SVI(a=0.04, b=0.0, rho=0.0, m=0.0, sigma=0.1)
    assert delta_k(flat, 0.25, -1, 1) == pytest.approx(0.15489795, abs=1e-8)
    assert delta_k(flat, -0.25, -1, 1) == pytest.approx(-0.11489795, abs=1e-8)
    assert np.isnan(delta_k(flat, 0.25, -1, 0.1))  # outside the quotes: not extrapolated
    skew = _slice(flat, 1.0, "2025-01-17").skew()
    assert skew["rr25"] == pytest.approx(0) and skew["bf25"] == pytest.approx(0)
    # a put skew: the 25-delta put is above the call, the risk reversal negative
    skewed = _slice(SVI(0.02, 0.1, -0.7, 0.0, 0.1), 1.0, "2025-01-17").skew()
    assert skewed["put25_iv"] > skewed["call25_iv"] and skewed["rr25"] < 0


def test_am_settled_vols_count_time_to_the_opening_settlement(spx: pd.DataFrame) -> None:
    day = spx[(spx["quote_date"] == "2011-01-03") & (spx["expiry"] == "2011-01-21")]
    ours = smile(day).set_index("strike")
    raw = chain_implied_vols(day)
    put = raw[(raw["right"] == "P") & (raw["strike"] == 1200.0)].iloc[0]
    # T from the 16:00 close on Jan 3 to the 09:30 open on Jan 21: 18 days - 6.5 hours
    t_open = (18 - 6.5 / 24) / 365
    assert ours.loc[1200.0, "T"] == pytest.approx(t_open)
    # same Black price: sigma^2 T is unchanged
    assert ours.loc[1200.0, "iv"] ** 2 * t_open == pytest.approx(put["implied_vol"] ** 2 * 18 / 365)


def test_american_smile_quotes_its_bid_and_ask_by_the_same_model() -> None:
    """SPY (American): the mids are American implied vols (chain_implied_vols), so the bid and
    ask are too -- with Black-76 bid/ask vols around them 49 % of these two expiries' OTM mid
    vols (32 % of the whole chain's puts) sat inside their own bid-ask vol range (early
    exercise is worth most to puts)."""
    q = load_option_quotes("SPY_chain_2026-02-11.csv")
    q = q[q["expiry"].isin(pd.to_datetime(["2026-03-13", "2026-12-18"]))]
    s = smile(q)
    puts = s[s["right"] == "P"]
    assert len(puts) > 100 and s["iv_bid"].notna().mean() > 0.9
    inside = (s["iv"] >= s["iv_bid"] - 1e-12) & (s["iv"] <= s["iv_ask"] + 1e-12)
    assert inside[s["iv_bid"].notna()].all()
