"""Expiry payoff, max gain/loss and breakevens against hand-computed values."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from toolkit.options.payoff import breakevens, expiry_pnl, expiry_value, summarize
from toolkit.options.templates import Leg, Spread, SpreadError

EXP = dt.date(2026, 3, 20)


def _opt(right: str, q: int, k: float, price: float) -> Leg:
    return Leg("XYZ", right, q, k, EXP, 100.0, price, "E")


def test_call_debit_spread_by_hand() -> None:
    # buy 100 C at 3.00, sell 105 C at 1.00: pays 2.00
    s = Spread("vertical", (_opt("C", 1, 100, 3.0), _opt("C", -1, 105, 1.0)))
    summary = summarize(s)
    assert summary.net_price == pytest.approx(2.0)
    assert summary.max_gain == pytest.approx(300.0)
    assert summary.max_loss == pytest.approx(-200.0)
    assert summary.breakevens == pytest.approx((102.0,))
    assert summary.max_gain_at == 105.0 and summary.max_loss_at == 0.0
    assert expiry_pnl(s, [90, 101, 102, 104, 120]) == pytest.approx([-200, -100, 0, 200, 300])
    # three spreads scale every dollar figure, not the breakeven
    three = s.with_quantity(3)
    assert summarize(three).max_gain == pytest.approx(900.0)
    assert breakevens(three) == pytest.approx((102.0,))


def test_short_iron_condor_two_breakevens() -> None:
    # sell 95 P 1.50, buy 90 P 0.50, sell 105 C 1.40, buy 110 C 0.40: credit 2.00
    ic = Spread(
        "iron_condor",
        (
            _opt("P", 1, 90, 0.5),
            _opt("P", -1, 95, 1.5),
            _opt("C", -1, 105, 1.4),
            _opt("C", 1, 110, 0.4),
        ),
    )
    summary = summarize(ic)
    assert summary.net_price == pytest.approx(-2.0)
    assert summary.breakevens == pytest.approx((93.0, 107.0))
    assert summary.max_gain == pytest.approx(200.0)
    assert summary.max_loss == pytest.approx(-300.0)
    assert expiry_pnl(ic, [80, 93, 100, 107, 130]) == pytest.approx([-300, 0, 200, 0, -300])


def test_long_straddle_symmetric_and_unbounded() -> None:
    st = Spread("straddle", (_opt("C", 1, 100, 3.0), _opt("P", 1, 100, 3.0)))
    x = np.linspace(0.0, 100.0, 41)
    assert expiry_pnl(st, 100 + x) == pytest.approx(expiry_pnl(st, 100 - x))
    summary = summarize(st)
    assert summary.breakevens == pytest.approx((94.0, 106.0))
    assert summary.max_loss == pytest.approx(-600.0) and summary.max_loss_at == 100.0
    assert summary.max_gain == math.inf
    short = summarize(st.flipped())
    assert short.max_loss == -math.inf and short.max_gain == pytest.approx(600.0)


def test_one_by_two_put_ratio_spread() -> None:
    # buy 1 100 P at 3.00, sell 2 95 P at 1.00: a 1.00 debit; P&L -100 above 100, +400 at 95,
    # then -91 + S below 95 (the extra short put): breakevens 99 and 91, worst -9,100 at 0
    s = Spread("custom", (_opt("P", 1, 100, 3.0), _opt("P", -2, 95, 1.0)))
    summary = summarize(s)
    assert summary.net_price == pytest.approx(1.0)
    assert summary.breakevens == pytest.approx((91.0, 99.0))
    assert (summary.max_gain, summary.max_gain_at) == pytest.approx((400.0, 95.0))
    assert (summary.max_loss, summary.max_loss_at) == pytest.approx((-9100.0, 0.0))
    assert expiry_pnl(s, [0, 91, 95, 99, 100, 150]) == pytest.approx([-9100, 0, 400, 0, -100, -100])


def test_naked_short_call_and_overrides() -> None:
    s = Spread("custom", (_opt("C", -1, 100, 2.5),))
    summary = summarize(s)
    assert summary.max_loss == -math.inf and summary.max_gain == pytest.approx(250.0)
    assert summary.breakevens == pytest.approx((102.5,))
    # a different fill: the net price override wins over the legs' prices
    assert summarize(s, net_price=-4.0).breakevens == pytest.approx((104.0,))


def test_covered_call_and_cash_secured_put() -> None:
    cc = Spread("covered_call", (Leg.shares("XYZ", 100, 50.0), _opt("C", -1, 55, 1.25)))
    summary = summarize(cc)
    assert summary.max_gain == pytest.approx(625.0)
    assert summary.max_loss == pytest.approx(-4875.0) and summary.max_loss_at == 0.0
    assert summary.breakevens == pytest.approx((48.75,))
    csp = Spread("cash_secured_put", (_opt("P", -1, 50, 2.0),))
    summary = summarize(csp)
    assert (summary.max_gain, summary.max_loss) == pytest.approx((200.0, -4800.0))
    assert summary.breakevens == pytest.approx((48.0,))


def test_zero_segment_lists_both_ends_and_value_has_no_premium() -> None:
    # long 100/105 call spread bought for 5.00 (the width): P&L 0 from 105 up
    s = Spread("vertical", (_opt("C", 1, 100, 5.0), _opt("C", -1, 105, 0.0)))
    assert breakevens(s) == pytest.approx((105.0,))
    assert expiry_value(s, [90, 103, 200]) == pytest.approx([0, 300, 500])
    flat = Spread("custom", (_opt("C", 1, 100, 0.0), _opt("C", -1, 105, 0.0)))
    assert breakevens(flat) == pytest.approx((0.0, 100.0))


def test_calendar_and_unpriced_legs_are_refused() -> None:
    cal = Spread(
        "calendar",
        (
            Leg("XYZ", "C", -1, 100, EXP, price=2.0),
            Leg("XYZ", "C", 1, 100, dt.date(2026, 4, 17), price=3.0),
        ),
    )
    with pytest.raises(SpreadError, match=r"legs expire on 2026-03-20, 2026-04-17; .*scenarios"):
        summarize(cal)
    with pytest.raises(SpreadError, match=r"no entry price for \+1 XYZ 2026-03-20 100 C"):
        summarize(Spread("custom", (Leg("XYZ", "C", 1, 100, EXP),)))


def test_spxw_iron_condor_from_the_shipped_chain() -> None:
    # 2018-02-01, the Feb-28 SPXW expiry; legs and quotes checked by hand against the raw CSV
    # rows (data/options/SPXW_eod_2018-01-02_2018-02-28_2expiries.csv, quotedate 02/01/2018):
    # 2720 P delta -0.1641 (nearest 16), 2900 C 0.1557; 25-point wings: 2695 P, and 2920 C
    # (2925 is not listed; 2920 and 2930 tie, the nearer to the body wins)
    from toolkit.data.options import load_option_quotes
    from toolkit.options import templates as tpl

    quotes = load_option_quotes("data/options/SPXW_eod_2018-01-02_2018-02-28_2expiries.csv")
    chain = tpl.chain_on(quotes, "2018-02-01")
    ic = tpl.iron_condor(
        chain, days=30, short_put=tpl.by_delta(0.16), short_call=tpl.by_delta(0.16), width=25.0
    )
    assert [(leg.right, leg.strike, leg.quantity, leg.price) for leg in ic.legs] == [
        ("P", 2695.0, 1, 7.6),
        ("P", 2720.0, -1, 9.7),
        ("C", 2900.0, -1, 5.5),
        ("C", 2920.0, 1, 3.3),
    ]
    assert ic.legs[1].symbol == "SPXW  180228P02720000" and ic.legs[1].style == "E"
    summary = summarize(ic)
    assert summary.net_price == pytest.approx(-4.30)
    assert summary.max_gain == pytest.approx(430.0)
    assert summary.max_loss == pytest.approx(-2070.0)  # the wider (put) wing: 25 - 4.30
    assert summary.breakevens == pytest.approx((2715.70, 2904.30))


def test_exact_extremes_bound_a_dense_grid_on_random_spreads() -> None:
    # property: no price on a fine grid beats the exact max gain / max loss, the grid gets
    # within one step's move of them, and the P&L is 0 at every breakeven
    rng = np.random.default_rng(7)
    for _ in range(100):
        n = int(rng.integers(1, 5))
        strikes = rng.choice(np.arange(80.0, 121.0, 2.5), size=n, replace=False)
        legs = tuple(
            _opt(
                str(rng.choice(["C", "P"])),
                int(rng.choice([-2, -1, 1, 2])),
                float(k),
                float(rng.uniform(0.0, 5.0)),
            )
            for k in strikes
        )
        if len({(leg.right, leg.strike) for leg in legs}) < n:
            continue
        s = Spread("custom", legs)
        summary = summarize(s)
        grid = np.linspace(0.0, 300.0, 30_001)  # steps of 0.01: every strike on it
        pnl = expiry_pnl(s, grid)
        assert pnl.max() <= summary.max_gain + 1e-9
        assert pnl.min() >= summary.max_loss - 1e-9
        if math.isfinite(summary.max_gain):
            assert pnl.max() == pytest.approx(summary.max_gain, abs=1e-6)
        if math.isfinite(summary.max_loss):
            assert pnl.min() == pytest.approx(summary.max_loss, abs=1e-6)
        if summary.breakevens:
            assert expiry_pnl(s, summary.breakevens) == pytest.approx(0.0, abs=1e-9)
        sign = np.sign(pnl)
        crossings = int(np.count_nonzero(sign[1:] * sign[:-1] < 0))
        assert len(summary.breakevens) >= crossings
