"""Commission schedules against IBKR's published examples and hand-computed cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.engine import ibkr_fixed, ibkr_tiered, no_costs, proportional

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
