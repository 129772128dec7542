"""Option expiry in the one core (toolkit.engine._expiry): cash settlement at intrinsic value,
exercise by exception and assignment into an underlying position, booked by the engine's
average-cost booking with the contract multiplier. Hand-computed cases."""

from __future__ import annotations

import pytest

from toolkit.engine._expiry import (
    AUTO_EXERCISE_THRESHOLD,
    early_exercise_nb,
    expiry_outcome_nb,
    settle_expiry_nb,
)
from toolkit.engine._step import book_units_nb

T = AUTO_EXERCISE_THRESHOLD


def test_booking_with_a_multiplier_realises_per_contract_times_100() -> None:
    # sell 2 contracts at 3.00, buy them back at 1.25 with 1.30 fees each way
    pos, avg, cash, r = book_units_nb(0.0, 0.0, 10_000.0, -2.0, 3.0, 100.0, 1.30)
    assert (pos, avg, cash, r) == (-2.0, 3.0, 10_000.0 + 600.0 - 1.30, 0.0)
    pos, avg, cash, r = book_units_nb(pos, avg, cash, 2.0, 1.25, 100.0, 1.30)
    assert pos == 0.0 and r == pytest.approx(350.0) and cash == pytest.approx(10_347.40)


@pytest.mark.parametrize(
    ("pos", "is_call", "strike", "settle", "physical", "price", "per_contract"),
    [
        (-1.0, False, 2700.0, 2650.0, False, 50.0, 0.0),  # short SPXW put, cash at intrinsic
        (1.0, True, 2700.0, 2650.0, False, 0.0, 0.0),  # out of the money: expires at 0
        (1.0, True, 100.0, 100.009, True, 0.0, 0.0),  # ITM by less than 0.01: not exercised
        (1.0, True, 100.0, 100.01, True, 0.01, 1.0),  # 0.01 ITM: exercised, receives
        (-1.0, True, 100.0, 105.0, True, 5.0, -1.0),  # short call assigned: delivers
        (1.0, False, 100.0, 95.0, True, 5.0, -1.0),  # long put exercised: delivers
        (-1.0, False, 100.0, 95.0, True, 5.0, 1.0),  # short put assigned: receives
    ],
)
def test_expiry_outcome(
    pos: float,
    is_call: bool,
    strike: float,
    settle: float,
    physical: bool,
    price: float,
    per_contract: float,
) -> None:
    px, units = expiry_outcome_nb(pos, is_call, strike, settle, physical, T)
    assert px == pytest.approx(price, abs=1e-12) and units == per_contract


def test_cash_settled_short_put_pays_intrinsic_times_multiplier() -> None:
    # short 2 SPXW 2700 puts sold at 12.50; SPX settles at 2681.35 -> pays 18.65 x 100 x 2
    cash, realized, px, upos, uavg, ur, units = settle_expiry_nb(
        -2.0, 12.50, 5_000.0, False, 2700.0, 2681.35, 100.0, False, T, 0.0, 0.0
    )
    assert px == pytest.approx(18.65)
    assert cash == pytest.approx(5_000.0 - 3_730.0, abs=1e-9)
    assert realized == pytest.approx((12.50 - 18.65) * 200.0, abs=1e-9)
    assert (upos, uavg, ur, units) == (0.0, 0.0, 0.0, 0.0)


def test_assigned_short_put_becomes_100_shares_bought_at_the_strike() -> None:
    # short 1 SPY 400 put sold at 2.00; SPY closes at 396.50 on expiry day: assigned
    cash, realized, _, upos, uavg, ur, units = settle_expiry_nb(
        -1.0, 2.00, 10_000.0, False, 400.0, 396.50, 100.0, True, T, 0.0, 0.0
    )
    assert units == 100.0 and upos == 100.0 and uavg == 396.50
    assert cash == pytest.approx(10_000.0 - 40_000.0, abs=1e-9)  # the strike, paid
    assert realized == pytest.approx((2.00 - 3.50) * 100.0, abs=1e-9)
    assert ur == 0.0


def test_assigned_covered_call_delivers_the_shares_held() -> None:
    # long 100 shares at 380; short 1 call 390 sold at 4.00; settles at 395: called away
    cash, realized, _, upos, uavg, ur, units = settle_expiry_nb(
        -1.0, 4.00, 0.0, True, 390.0, 395.0, 100.0, True, T, 100.0, 380.0
    )
    assert units == -100.0 and upos == 0.0 and uavg == 0.0
    assert cash == pytest.approx(39_000.0, abs=1e-9)  # the strike, received
    assert realized == pytest.approx((4.00 - 5.00) * 100.0, abs=1e-9)
    assert ur == pytest.approx(1_500.0, abs=1e-9)  # the shares from 380 to 395
    # all in: the premium 400 + (390 - 380) x 100 = 1,400, as a covered call should earn
    assert realized + ur == pytest.approx(1_400.0, abs=1e-9)


@pytest.mark.parametrize(
    ("is_call", "strike", "spot", "value", "dividend", "exercise"),
    [
        (True, 380.0, 400.0, 20.30, 1.50, True),  # time value 0.30 < dividend 1.50
        (True, 380.0, 400.0, 22.00, 1.50, False),  # time value 2.00 > dividend
        (True, 380.0, 400.0, 20.30, 0.0, False),  # no dividend: never early (Merton)
        (True, 410.0, 400.0, 0.50, 5.00, False),  # out of the money
        (False, 420.0, 400.0, 20.00, 0.0, True),  # a put worth only its intrinsic value
        (False, 420.0, 400.0, 19.95, 0.0, True),  # (a European-priced put below it)
        (False, 420.0, 400.0, 20.40, 0.0, False),  # time value left
    ],
)
def test_early_exercise_of_american_options(
    is_call: bool, strike: float, spot: float, value: float, dividend: float, exercise: bool
) -> None:
    assert early_exercise_nb(is_call, strike, spot, value, dividend, T) is exercise
