"""The buy that fits a budget: the closed form of every schedule's largest affordable
quantity, and the whole-share answer the engine and the sweep size buys with."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from toolkit.engine import ibkr_fixed, ibkr_tiered, no_costs, proportional
from toolkit.engine._step import affordable_nb
from toolkit.engine.commissions import Commission, commission_nb, max_buy_qty_nb

SCHEDULES = {
    "ibkr_fixed": ibkr_fixed(),
    "ibkr_tiered": ibkr_tiered(),
    "ibkr_tiered_no_exchange": ibkr_tiered(exchange_per_share=0.0),
    "proportional": proportional(0.001),
    "proportional_per_order": proportional(0.0005, per_order=2.0),
    "none": no_costs(),
}
MONTH_VOLUMES = st.sampled_from([0.0, 250_000.0, 2_000_000.0, 30_000_000.0, 2e8])
PRICES = st.floats(0.005, 5_000.0)
BUDGETS = st.floats(0.5, 1e8)


def _total(c: np.ndarray, q: float, price: float, month_volume: float) -> float:
    return q * price + commission_nb(c, q, price, month_volume)


@pytest.mark.parametrize("name", SCHEDULES)
@settings(max_examples=300, deadline=None)
@given(price=PRICES, budget=BUDGETS, month_volume=MONTH_VOLUMES)
def test_closed_form_is_the_largest_quantity_that_fits(
    name: str, price: float, budget: float, month_volume: float
) -> None:
    c = SCHEDULES[name].vector()
    q = max_buy_qty_nb(c, price, budget, month_volume)
    assert q >= 0.0
    if q > 0.0:  # it fits (to rounding) ...
        assert _total(c, q, price, month_volume) <= budget * (1 + 1e-12)
    # ... and a hair more does not (unless it is the whole budget's worth, no fee at all)
    more = q * (1 + 1e-9) + 1e-9
    assert _total(c, more, price, month_volume) > budget or more * price <= budget * 1e-9


@pytest.mark.parametrize("name", SCHEDULES)
@settings(max_examples=300, deadline=None)
@given(price=PRICES, budget=BUDGETS, month_volume=MONTH_VOLUMES, extra=st.integers(1, 50))
def test_whole_shares_are_the_largest_count_that_fits(
    name: str, price: float, budget: float, month_volume: float, extra: int
) -> None:
    c = SCHEDULES[name].vector()
    wanted = math.floor(budget / price) + extra  # more than the budget can pay for
    got = affordable_nb(float(wanted), price, budget, c, month_volume, False)
    assert got == math.floor(got) and 0 <= got <= wanted
    if got > 0:
        assert _total(c, got, price, month_volume) <= budget
    assert _total(c, got + 1, price, month_volume) > budget  # brute force: one more never fits


def test_examples_by_hand() -> None:
    fixed = ibkr_fixed().vector()
    # 10,000 at 100 + max(0.005 x q, 1): 99 shares cost 9,901, 100 cost 10,001
    assert affordable_nb(150.0, 100.0, 10_000.0, fixed, 0.0, False) == 99.0
    # fractional: q x 100 + 1 = 10,000 (the USD 1 minimum applies below 200 shares)
    assert affordable_nb(150.0, 100.0, 10_000.0, fixed, 0.0, True) == pytest.approx(99.99)
    # 1% cap branch: at 0.10 a share the cap (0.001 a share) is below 0.005, so
    # q x 0.10 x 1.01 = 1,010 -> 10,000 shares
    assert max_buy_qty_nb(fixed, 0.10, 1_010.0, 0.0) == pytest.approx(10_000.0)
    # proportional with a per-order fee: (1,000 - 2) / (50 x 1.0005)
    per_order = proportional(0.0005, per_order=2.0).vector()
    assert max_buy_qty_nb(per_order, 50.0, 1_000.0, 0.0) == pytest.approx(998.0 / 50.025)
    # a budget below a fixed fee buys nothing (the fixed point of old paid over the budget)
    assert affordable_nb(5.0, 10.0, 1.5, per_order, 0.0, True) == 0.0


@pytest.mark.parametrize(
    ("schedule", "price", "budget"),
    [
        # a budget a hair above a fixed fee at sub-penny prices: budget - fee cancels and the
        # closed form lands ~1e-12 below 1 share (found by review: it floored to 0)
        (proportional(0.0, per_order=5.0), 0.00031512546362170036, 5.000315125463621),
        (proportional(0.02, per_order=1.0), 0.000100644664861354, 1.0001026575581584),
        (proportional(0.0005, per_order=2.0), 0.00012706887047257492, 2.0001271324049075),
        (
            Commission(kind="ibkr_fixed", rate=0.005, minimum=1.0, max_pct=math.inf),
            1.3137161295229744e-06,
            1.0000013137161294,
        ),
    ],
)
def test_one_share_just_above_a_fixed_fee(
    schedule: Commission, price: float, budget: float
) -> None:
    c = schedule.vector()
    assert _total(c, 1.0, price, 0.0) <= budget < _total(c, 2.0, price, 0.0)
    assert affordable_nb(1e6, price, budget, c, 0.0, False) == 1.0


@settings(max_examples=300, deadline=None)
@example(name="none", price=67378.39361154051, shares=249, nudge=0)  # budget / price < 249
@given(
    name=st.sampled_from(sorted(SCHEDULES)),
    price=st.floats(1e-4, 1e5),
    shares=st.integers(1, 10**7),
    nudge=st.sampled_from([-1, 0, 1]),
)
def test_budget_exactly_at_a_whole_counts_total(
    name: str, price: float, shares: int, nudge: int
) -> None:
    # the budget at (or one ulp either side of) what `shares` cost: the boundary case
    c = SCHEDULES[name].vector()
    total = _total(c, float(shares), price, 0.0)
    budget = float(np.nextafter(total, nudge * math.inf)) if nudge else total
    got = affordable_nb(float(shares + 5), price, budget, c, 0.0, False)
    if got > 0:
        assert _total(c, got, price, 0.0) <= budget
    assert _total(c, got + 1, price, 0.0) > budget


def test_the_fit_is_what_the_budget_pays_for_with_any_schedule_fields() -> None:
    # a hand-made tiered schedule with every fee field set: still the largest fit
    c = Commission(
        kind="ibkr_tiered", rate=0.0035, minimum=0.35, max_pct=0.01, clearing_per_share=0.0002,
        exchange_per_share=0.003, pass_through_rate=0.00074,
    ).vector()  # fmt: skip
    for price in (0.02, 0.5, 3.0, 250.0):
        q = affordable_nb(1e9, price, 12_345.0, c, 0.0, False)
        assert _total(c, q, price, 0.0) <= 12_345.0 < _total(c, q + 1, price, 0.0)
