"""Commission schedules against IBKR's published examples and hand-computed cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.engine import (
    ibkr_fixed,
    ibkr_option_fixed,
    ibkr_option_tiered,
    ibkr_tiered,
    no_costs,
    no_option_costs,
    proportional,
)

FIXED = ibkr_fixed(regulatory_fees=False)


@pytest.mark.parametrize(
    ("qty", "price", "expected"),
    [
        (100, 25.0, 1.00),  # IBKR example: 0.50 raised to the USD 1.00 minimum
        (1000, 25.0, 5.00),  # IBKR example: 0.005 x 1,000
        (1000, 0.25, 2.50),  # IBKR example: 5.00 capped at 1% of USD 250
        (100, 0.50, 0.50),  # minimum 1.00 but the 1% cap (0.50) wins
        (10_000, 100.0, 50.0),
        (-1000, 25.0, 5.00),  # side does not matter without sale fees
    ],
)
def test_ibkr_fixed_published_examples(qty: float, price: float, expected: float) -> None:
    assert FIXED.cost(qty, price) == pytest.approx(expected, abs=1e-12)


def test_fixed_sale_adds_sec_fee_and_finra_taf() -> None:
    # 1,000 sold at 25: 5.00 + 0.0000278 x 25,000 + 0.000166 x 1,000
    assert ibkr_fixed().cost(-1000, 25.0) == pytest.approx(5.0 + 0.695 + 0.166, abs=1e-12)
    assert ibkr_fixed().cost(1000, 25.0) == pytest.approx(5.0, abs=1e-12)  # buys pay no sale fees


def test_finra_taf_is_capped() -> None:
    qty = 100_000
    fee = ibkr_fixed().cost(-qty, 10.0)
    assert fee == pytest.approx(
        min(max(0.005 * qty, 1.0), 0.01 * qty * 10) + 0.0000278 * qty * 10 + 8.30
    )


@pytest.mark.parametrize(
    ("month_volume", "rate"),
    [
        (0, 0.0035),
        (299_999, 0.0035),
        (300_000, 0.0020),
        (3_000_000, 0.0015),
        (20_000_000, 0.0010),
        (100_000_000, 0.0005),
        (5e9, 0.0005),
    ],
)
def test_tiered_rate_follows_monthly_volume(month_volume: float, rate: float) -> None:
    c = ibkr_tiered(exchange_per_share=0.003, regulatory_fees=False)
    commission = rate * 1000
    expected = commission + commission * (0.000175 + 0.000565) + (0.0002 + 0.003) * 1000
    assert c.cost(1000, 25.0, month_volume) == pytest.approx(expected, abs=1e-12)


def test_tiered_minimum_and_cap() -> None:
    c = ibkr_tiered(exchange_per_share=0.0, regulatory_fees=False)
    # 10 shares at 50: 0.035 -> minimum 0.35 (cap 5.00 not binding)
    assert c.cost(10, 50.0) == pytest.approx(0.35 * 1.00074 + 0.002, abs=1e-12)
    # 100 shares at 0.20: 0.35 minimum, but cap 1% of 20 = 0.20
    assert c.cost(100, 0.20) == pytest.approx(0.20 * 1.00074 + 0.02, abs=1e-12)


def test_proportional_and_none() -> None:
    assert proportional(0.001).cost(-50, 20.0) == pytest.approx(1.0)
    assert proportional(0.001, per_order=2.0).cost(50, 20.0) == pytest.approx(3.0)
    assert no_costs().cost(1e6, 100.0) == 0.0
    assert FIXED.cost(0, 100.0) == 0.0


@given(qty=st.floats(1, 1e7), price=st.floats(0.01, 5000))
def test_fixed_is_bounded_by_its_rules(qty: float, price: float) -> None:
    fee = FIXED.cost(qty, price)
    assert fee <= 0.01 * qty * price + 1e-9
    assert fee >= min(1.0, 0.01 * qty * price) - 1e-9
    assert fee <= max(0.005 * qty, 1.0) + 1e-9


OPT_FIXED = ibkr_option_fixed(regulatory_fees=False)
OPT_TIERED = ibkr_option_tiered(regulatory_fees=False)


@pytest.mark.parametrize(
    ("contracts", "premium", "expected"),
    [
        (1, 2.0, 1.00),  # IBKR example: 0.65 raised to the USD 1.00 minimum
        (2, 5.0, 1.30),  # IBKR example: 2 x 0.65
        (3, 0.075, 1.50),  # IBKR example: 3 x 0.50 (premium in [0.05, 0.10))
        (5, 0.03, 1.25),  # IBKR example: 5 x 0.25 (premium < 0.05)
        (-10, 0.10, 6.50),  # the 0.10 boundary takes 0.65; side does not matter without fees
        (10, 0.0999, 5.00),
    ],
)
def test_option_fixed_published_examples(contracts: float, premium: float, expected: float) -> None:
    assert OPT_FIXED.cost(contracts, premium) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("contracts", "premium", "month", "expected"),
    [
        (2, 5.0, 20_000, 1.00),  # IBKR example, 10,001-50,000: 2 x 0.50 = 1.00
        (5, 0.03, 20_000, 1.25),  # 5 x 0.25
        (3, 0.075, 20_000, 1.50),  # 3 x 0.50
        (5, 2.0, 60_000, 1.25),  # IBKR example, 50,001-100,000: 5 x 0.25
        (7, 2.0, 200_000, 1.05),  # IBKR example, above 100,000: 7 x 0.15
        (2, 5.0, 0, 1.30),  # the first tier is the fixed schedule
    ],
)
def test_option_tiered_published_examples(
    contracts: float, premium: float, month: float, expected: float
) -> None:
    assert OPT_TIERED.cost(contracts, premium, month_contracts=month) == pytest.approx(
        expected, abs=1e-12
    )


def test_option_sale_adds_sec_fee_and_taf_and_every_contract_third_party_fees() -> None:
    c = ibkr_option_fixed(exchange_per_contract=0.58)
    per = 0.01915 + 0.0048 + 0.02 + 0.58
    assert c.cost(4, 3.0) == pytest.approx(4 * 0.65 + 4 * per, abs=1e-12)
    # sale of 4 at 3.00 (x100): + 0.0000278 x 1,200 + 0.00279 x 4
    sold = 4 * 0.65 + 4 * per + 0.0000278 * 1200.0 + 0.00279 * 4
    assert c.cost(-4, 3.0) == pytest.approx(sold, abs=1e-12)
    assert no_option_costs().cost(-4, 3.0) == 0.0
