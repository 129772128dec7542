"""Exact book reconstruction (issue 20.2): replaying the messages from the first book row
gives LOBSTER's book on every row of every shipped file; the only values taken from the
book file are levels entering from beyond the depth (counted per file)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest

from toolkit.data.lobster import DUMMY_ASK, DUMMY_BID, MESSAGE_DTYPE, LobsterDay, read_lobster
from toolkit.orderbook import replay

ORDERBOOK = Path(__file__).resolve().parents[2] / "data" / "orderbook"
SAMPLE_NAME = "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"

# file -> (events, rows refilled from beyond the depth, visible executions, hidden executions)
SHIPPED = {
    "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv": (999, 318, 98, 61),
    "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip": (118497, 30071, 23658, 11332),
    "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip": (57515, 13953, 8974, 2445),
    "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip": (49482, 11207, 7765, 3913),
    "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip": (147916, 44451, 7765, 3913),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_row_of_every_shipped_file_is_rebuilt_exactly(name: str) -> None:
    day = read_lobster(ORDERBOOK / name)
    events, refills, visible, hidden = SHIPPED[name]
    result = replay(day)
    assert len(day) == events
    assert result.differences == 0, np.flatnonzero(result.differs)[:10]
    assert np.array_equal(result.book, day.book)
    assert result.refills == refills
    assert result.trades == visible + hidden and result.hidden_trades == hidden
    kinds = day.messages["type"]
    # hidden executions never move the visible book: LOBSTER's row repeats the one before
    rows = np.flatnonzero(kinds == 5)
    rows = rows[rows > 0]
    assert np.array_equal(day.book[rows], day.book[rows - 1])
    # a refill only happens where a level emptied on a full side (cancel, delete, execution)
    assert set(np.unique(kinds[result.refilled]).tolist()) <= {2, 3, 4}


def test_a_wrong_book_value_is_found_and_only_there() -> None:
    day = read_lobster(ORDERBOOK / "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv")
    book = day.book.copy()
    book[500, 1] += 1  # ask size 1 one share off on one row
    bad = LobsterDay(day.symbol, day.date, day.levels, day.messages, book)
    result = replay(bad)
    assert np.flatnonzero(result.differs).tolist() == [500]


def _day(messages: list[tuple[float, int, int, int, int, int]], first_row: list[int]) -> LobsterDay:
    msgs = np.array(messages, dtype=MESSAGE_DTYPE)
    book = np.tile(np.array(first_row, dtype=np.int64), (len(msgs), 1))
    return LobsterDay("X", datetime.date(2012, 6, 21), len(first_row) // 4, msgs, book)


def test_a_hand_worked_two_level_day() -> None:
    # 2 levels; start: ask 101x10, 102x20 | bid 100x5, 99x7
    start = [101, 10, 100, 5, 102, 20, 99, 7]
    msgs = [
        (1.0, 1, 1, 5, 101, -1),  # row 0: the event behind the first row (not replayed)
        (2.0, 1, 2, 3, 100, 1),  # bid 100 +3 -> 8
        (3.0, 1, 3, 4, 99, 1),  # bid 99 +4 -> 11
        (4.0, 1, 4, 6, 98, 1),  # beyond the depth of a full bid side: no visible change
        (5.0, 5, 0, 50, 101, -1),  # hidden execution: a trade, no change
        (6.0, 4, 9, 10, 101, -1),  # ask 101 executed away: 102 moves up, a level enters
        (7.0, 3, 8, 11, 99, 1),  # bid 99 deleted: the bid side refills
        (8.0, 1, 5, 2, 101, -1),  # a new best ask 101x2 pushes 103 beyond the depth
        (9.0, 7, 0, 0, -1, -1),  # halt: nothing changes
    ]
    day = _day(msgs, start)
    expected = [
        start,
        [101, 10, 100, 8, 102, 20, 99, 7],
        [101, 10, 100, 8, 102, 20, 99, 11],
        [101, 10, 100, 8, 102, 20, 99, 11],
        [101, 10, 100, 8, 102, 20, 99, 11],
        [102, 20, 100, 8, 103, 40, 99, 11],  # ask level 2 (103x40) from beyond the depth
        [102, 20, 100, 8, 103, 40, 97, 1],  # bid level 2 (97x1) from beyond the depth
        [101, 2, 100, 8, 102, 20, 97, 1],
        [101, 2, 100, 8, 102, 20, 97, 1],
    ]
    book = np.array(expected, dtype=np.int64)
    day = LobsterDay(day.symbol, day.date, 2, day.messages, book)
    result = replay(day)
    assert result.differences == 0, result.book
    assert np.flatnonzero(result.refilled).tolist() == [5, 6]
    assert (result.trades, result.hidden_trades, result.hidden_volume) == (2, 1, 50)
    # without the refills the entering levels would be unknown: LOBSTER's book is the only
    # source, and a side that is not full needs none (a dummy level stays a dummy)
    thin = np.array([[101, 10, 100, 5, DUMMY_ASK, 0, DUMMY_BID, 0]] * 2, dtype=np.int64)
    thin[1] = [DUMMY_ASK, 0, 100, 5, DUMMY_ASK, 0, DUMMY_BID, 0]
    tiny = _day([(1.0, 1, 1, 10, 101, -1), (2.0, 3, 1, 10, 101, -1)], thin[0].tolist())
    tiny = LobsterDay("X", tiny.date, 2, tiny.messages, thin)
    res = replay(tiny)
    assert res.differences == 0 and res.refills == 0


def test_fewer_levels_than_the_file_replay_exactly_too() -> None:
    # the 999-event sample read at 2 of its 10 levels: events deeper than level 2 are outside
    # the visible book, and more levels enter from beyond it (243 rows instead of 318)
    day = read_lobster(ORDERBOOK / SAMPLE_NAME, levels=2)
    result = replay(day)
    assert result.differences == 0 and result.refills == 243
