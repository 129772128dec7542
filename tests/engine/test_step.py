"""The one average-cost booking (toolkit.engine._step.avg_cost_nb) and the engine's trade
booking built on it: hand-computed cases and a conservation property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.engine import _step as s
from toolkit.engine._step import avg_cost_nb, book_fill_nb


@pytest.mark.parametrize(
    ("pos", "avg", "qty", "price", "expected"),
    [
        (0.0, 0.0, 100.0, 10.0, (100.0, 10.0, 0.0)),  # open long
        (100.0, 10.0, 50.0, 13.0, (150.0, 11.0, 0.0)),  # add: (1,000 + 650) / 150
        (150.0, 11.0, -50.0, 15.0, (100.0, 11.0, 200.0)),  # partial reduce: 50 x (15 - 11)
        (100.0, 11.0, -150.0, 9.0, (-50.0, 9.0, -200.0)),  # flip: 100 x (9 - 11), rest at 9
        (-50.0, 9.0, 50.0, 7.0, (0.0, 0.0, 100.0)),  # close a short to zero: 50 x (9 - 7)
        (0.0, 0.0, -10.0, 20.0, (-10.0, 20.0, 0.0)),  # open short
        (-10.0, 20.0, -30.0, 24.0, (-40.0, 23.0, 0.0)),  # add to it: (200 + 720) / 40
        (-40.0, 23.0, 10.0, 25.0, (-30.0, 23.0, -20.0)),  # cover part at a loss
        (-30.0, 23.0, 0.0, 99.0, (-30.0, 23.0, 0.0)),  # nothing filled: nothing changes
        (100.0, 10.0, -(100.0 - 1e-12), 12.0, (0.0, 0.0, 200.0)),  # rounding dust is flat
    ],
)
def test_average_cost_by_hand(
    pos: float, avg: float, qty: float, price: float, expected: tuple[float, float, float]
) -> None:
    assert avg_cost_nb(pos, avg, qty, price) == pytest.approx(expected, abs=1e-9)


def test_a_flip_closes_one_trade_and_opens_the_next_with_its_share_of_commission() -> None:
    state = np.zeros(s.STATE_COLS)
    trades = np.zeros((4, s.TRADE_COLS))
    pos, n = book_fill_nb(state, 0.0, 100.0, 10.0, 1.0, 0, 0, trades, 0)
    pos, n = book_fill_nb(state, pos, 100.0, 12.0, 1.0, 1, 0, trades, n)  # avg 11
    assert (pos, n) == (200.0, 0)
    pos, n = book_fill_nb(state, pos, -300.0, 14.0, 3.0, 2, 0, trades, n)  # flip to -100
    assert (pos, n) == (-100.0, 1)
    t = trades[0]
    assert t[s.T_DIR] == 1.0 and t[s.T_ENTRY_BAR] == 0 and t[s.T_EXIT_BAR] == 2
    assert t[s.T_QTY] == 200.0 and t[s.T_ENTRY_PX] == 11.0 and t[s.T_EXIT_PX] == 14.0
    # 200 x (14 - 11) = 600, less 1 + 1 + 2 (two thirds of the flip's 3) commission
    assert t[s.T_COMM] == pytest.approx(4.0) and t[s.T_PNL] == pytest.approx(596.0)
    pos, n = book_fill_nb(state, pos, 100.0, 13.0, 0.5, 3, 0, trades, n)  # cover the short
    t = trades[1]
    assert (pos, n) == (0.0, 2) and t[s.T_DIR] == -1.0 and t[s.T_ENTRY_BAR] == 2
    # 100 x (14 - 13) = 100, less 1 (the flip's third) + 0.5
    assert t[s.T_COMM] == pytest.approx(1.5) and t[s.T_PNL] == pytest.approx(98.5)


def _book(fills: list[tuple[float, float]]) -> tuple[float, float, float]:
    pos = avg = realized = 0.0
    for qty, price in fills:
        pos, avg, r = avg_cost_nb(pos, avg, qty, price)
        realized += r
    return pos, avg, realized


_fill = st.tuples(
    st.integers(-300, 300).map(float), st.integers(100, 20_000).map(lambda c: c / 100)
)


@settings(max_examples=300, deadline=None)
@given(fills=st.lists(_fill, min_size=1, max_size=12), cuts=st.data())
def test_position_and_pnl_conserve_across_any_split_of_the_same_fills(
    fills: list[tuple[float, float]], cuts: st.DataObject
) -> None:
    split: list[tuple[float, float]] = []
    for qty, price in fills:  # each fill as a random number of smaller fills, same price
        parts = cuts.draw(st.lists(st.integers(0, 300), max_size=3))
        left = qty
        for p in parts:
            piece = float(np.sign(qty) * min(p, abs(left)))
            split.append((piece, price))
            left -= piece
        split.append((left, price))
    whole, pieces = _book(fills), _book(split)
    assert pieces[0] == whole[0] == sum(q for q, _ in fills)
    scale = 1.0 + sum(abs(q) * p for q, p in fills)
    assert pieces[1] == pytest.approx(whole[1], abs=1e-9 * scale)
    assert pieces[2] == pytest.approx(whole[2], abs=1e-9 * scale)
    # and the books balance: realised + unrealised at any mark = what the cash flows say
    mark = fills[-1][1]
    cash_pnl = -sum(q * p for q, p in fills) + whole[0] * mark
    assert whole[2] + whole[0] * (mark - whole[1]) == pytest.approx(cash_pnl, abs=1e-9 * scale)


def _trades_by_hand(fills: list[tuple[float, float, float]]) -> list[list[float]]:
    """Closed trades of a fill sequence (qty, price, commission), from the definitions: a
    trade runs from flat (or a flip) to flat (or the next flip); its entry and exit prices
    are the quantity-weighted prices of the shares that opened and closed it; a fill that
    both closes and opens splits its commission by quantity."""
    out: list[list[float]] = []
    pos = 0.0
    side = q_in = v_in = q_out = v_out = comm = 0.0
    entry_bar = 0
    for bar, (qty, price, fee) in enumerate(fills):
        if qty == 0.0:
            continue
        closing = min(abs(qty), abs(pos)) if pos * qty < 0 else 0.0
        opening = abs(qty) - closing
        if closing > 0.0:
            q_out += closing
            v_out += closing * price
            comm += fee * closing / abs(qty)
            pos += np.sign(qty) * closing
            if pos == 0.0:
                realized = side * (v_out - v_in * q_out / q_in)
                out.append([side, entry_bar, bar, q_in, v_in / q_in, v_out / q_out,
                            realized - comm, comm])  # fmt: skip
        if opening > 0.0:
            if pos == 0.0:
                side, entry_bar = float(np.sign(qty)), bar
                q_in = v_in = q_out = v_out = comm = 0.0
            q_in += opening
            v_in += opening * price
            comm += fee * opening / abs(qty)
            pos += np.sign(qty) * opening
    return out


@settings(max_examples=300, deadline=None)
@given(
    fills=st.lists(
        st.tuples(
            st.integers(-300, 300).map(float),
            st.integers(100, 20_000).map(lambda c: c / 100),
            st.integers(0, 500).map(lambda c: c / 100),
        ),
        min_size=1,
        max_size=16,
    )
)
def test_booked_trades_match_the_definitions(fills: list[tuple[float, float, float]]) -> None:
    """Every case of book_fill_nb (open from flat, add, reduce, close, flip, nothing) on
    random sequences of whole-share fills: the records it writes equal trades worked out
    from their definitions, and the state it keeps is the position's."""
    state = np.zeros(s.STATE_COLS)
    trades = np.full((len(fills) + 1, s.TRADE_COLS), np.nan)
    pos, n = 0.0, 0
    for bar, (qty, price, fee) in enumerate(fills):
        pos, n = book_fill_nb(state, pos, qty, price, fee, bar, 0, trades, n)
    expected = _trades_by_hand(fills)
    assert pos == sum(q for q, _, _ in fills)
    assert n == len(expected)
    cols = [s.T_DIR, s.T_ENTRY_BAR, s.T_EXIT_BAR, s.T_QTY, s.T_ENTRY_PX, s.T_EXIT_PX,
            s.T_PNL, s.T_COMM]  # fmt: skip
    for got, want in zip(trades[:n], expected, strict=True):
        scale = 1.0 + want[3] * max(want[4], want[5])
        assert got[cols[:4]] == pytest.approx(want[:4])
        assert got[cols[4:6]] == pytest.approx(want[4:6], rel=1e-12)
        assert got[cols[6:]] == pytest.approx(want[6:], abs=1e-9 * scale)
    if pos != 0.0:  # the open trade's state: its direction, entry and average price
        assert state[s.S_DIR] == np.sign(pos)
        assert state[s.S_QTY_IN] - state[s.S_QTY_OUT] == pytest.approx(abs(pos))
