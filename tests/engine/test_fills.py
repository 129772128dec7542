"""Fill rules: hand cases for limit/stop/gap, and properties over random bars."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from toolkit.engine.fills import limit_fill_nb, slipped_nb, stop_fill_nb


def test_limit_buy() -> None:
    assert limit_fill_nb(1.0, 9.5, 10.0, 10.5, 9.4) == 9.5  # range reaches the limit
    assert limit_fill_nb(1.0, 9.5, 9.2, 9.8, 9.0) == 9.2  # gap below: better price, the open
    assert math.isnan(limit_fill_nb(1.0, 9.5, 10.0, 10.5, 9.6))


def test_limit_sell() -> None:
    assert limit_fill_nb(-1.0, 11.0, 10.0, 11.2, 9.9) == 11.0
    assert limit_fill_nb(-1.0, 11.0, 11.5, 11.8, 11.1) == 11.5
    assert math.isnan(limit_fill_nb(-1.0, 11.0, 10.0, 10.9, 9.9))


def test_stop_sell_and_gap_through() -> None:
    assert stop_fill_nb(-1.0, 9.5, 10.0, 10.2, 9.4) == 9.5  # touched intrabar
    assert stop_fill_nb(-1.0, 9.5, 9.0, 9.3, 8.8) == 9.0  # gapped through: worse price, the open
    assert math.isnan(stop_fill_nb(-1.0, 9.5, 10.0, 10.2, 9.6))


def test_stop_buy() -> None:
    assert stop_fill_nb(1.0, 10.5, 10.0, 10.6, 9.9) == 10.5
    assert stop_fill_nb(1.0, 10.5, 10.8, 11.0, 10.7) == 10.8


def test_slippage_moves_against_the_trader() -> None:
    assert slipped_nb(100.0, 1.0, 0.001) == 100.1
    assert slipped_nb(100.0, -1.0, 0.001) == 99.9


_px = st.floats(1.0, 1000.0)


@given(o=_px, a=_px, b=_px, level=_px, side=st.sampled_from([1.0, -1.0]))
def test_fills_stay_inside_the_bar(o: float, a: float, b: float, level: float, side: float) -> None:
    high, low = max(o, a, b), min(o, a, b)
    for fill in (limit_fill_nb(side, level, o, high, low), stop_fill_nb(side, level, o, high, low)):
        if not math.isnan(fill):
            assert low <= fill <= high
    lim = limit_fill_nb(side, level, o, high, low)
    if not math.isnan(lim):  # a limit never fills worse than its price
        assert (lim <= level) if side > 0 else (lim >= level)
    stp = stop_fill_nb(side, level, o, high, low)
    if not math.isnan(stp):  # a stop never fills better than its price
        assert (stp >= level) if side > 0 else (stp <= level)
