"""Leg and Spread values: validation messages and the net-price convention."""

from __future__ import annotations

import datetime as dt

import pytest

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
        (lambda: Spread("x", (_call(1, 100), Leg("QQQ", "P", 1, 90, EXP))), r"mixes underlyings QQQ, SPY"),
        (lambda: Spread("x", (_call(1, 100), _call(-1, 100))), r"appears twice"),
    ],
)
def test_one_line_errors(make: object, message: str) -> None:
    with pytest.raises(SpreadError, match=message) as info:
        make()  # type: ignore[operator]
    assert "\n" not in str(info.value)
