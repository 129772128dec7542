"""The option risk rules (toolkit.risk.options) on hand-computed spreads."""

from __future__ import annotations

import pytest

from toolkit.risk.options import (
    MAX_CONTRACTS,
    MAX_LOSS_PER_SPREAD,
    MAX_SHORT_DELTA,
    MAX_SHORT_VEGA,
    BookGreeks,
    OptionRiskLimits,
    SpreadRisk,
    allowed_spreads,
    check_spreads,
)


def _risk(max_loss: float, vega: float, delta: float = 0.0) -> SpreadRisk:
    return SpreadRisk(max_loss, BookGreeks(delta=delta, vega=vega), ((1, -1.0), (2, 1.0)))


def test_max_loss_per_spread_blocks_whatever_the_size() -> None:
    limits = OptionRiskLimits(max_loss_per_spread=1500.0)
    n, fired = allowed_spreads(limits, _risk(2000.0, -10.0), 3, BookGreeks(), {})
    assert n == 0
    assert [f.rule for f in fired] == [MAX_LOSS_PER_SPREAD]
    assert fired[0].value == 2000.0 and fired[0].limit == 1500.0
    assert "$2,000.00 per spread > $1,500.00" in fired[0].detail
    assert allowed_spreads(limits, _risk(1500.0, -10.0), 3, BookGreeks(), {}) == (3, ())


def test_short_vega_trims_to_what_the_book_has_room_for() -> None:
    # book -200 $/pt, each spread -150: 3 spreads -> -650 < -500; 2 -> -500 (allowed)
    limits = OptionRiskLimits(max_short_vega=500.0)
    book = BookGreeks(vega=-200.0)
    n, fired = allowed_spreads(limits, _risk(100.0, -150.0), 3, book, {})
    assert n == 2
    assert [f.rule for f in fired] == [MAX_SHORT_VEGA]
    assert fired[0].value == pytest.approx(-650.0)
    # a book already past the limit may always buy vega back (a closing order)
    assert check_spreads(limits, _risk(100.0, 150.0), 5, BookGreeks(vega=-900.0), {}) == ()


def test_short_delta_and_contracts() -> None:
    limits = OptionRiskLimits(max_short_delta=50.0, max_contracts=4.0)
    # delta: -20 shares per spread on a book at -15: 1 spread -> -35, 2 -> -55 (fires)
    n, fired = allowed_spreads(
        limits, _risk(100.0, 0.0, delta=-20.0), 2, BookGreeks(delta=-15.0), {}
    )
    assert n == 1 and [f.rule for f in fired] == [MAX_SHORT_DELTA]
    # contracts: 3 short of conId 1 held; 3 more spreads make 6 > 4, one makes 4
    n, fired = allowed_spreads(limits, _risk(100.0, 0.0), 3, BookGreeks(), {1: -3.0})
    assert n == 1 and [f.rule for f in fired] == [MAX_CONTRACTS]
    assert fired[0].value == 6.0
