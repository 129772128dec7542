"""A session's round trips from its journaled fills, booked by the engine's own trade
booking (one average-cost function for engine, sweep, live books and the summary)."""

from __future__ import annotations

import pytest

from toolkit.live.summary import round_trips


def _fill(ts: str, strategy: str, side: str, shares: float, price: float, fee: float) -> dict:
    return {
        "ts": ts,
        "strategy": strategy,
        "symbol": "SPY",
        "side": side,
        "shares": shares,
        "price": price,
        "commission": fee,
    }


def test_round_trips_by_hand_with_a_flip_and_two_strategies_on_one_symbol() -> None:
    fills = [
        _fill("t0", "a", "BOT", 100, 10.0, 1.0),
        _fill("t1", "b", "SLD", 10, 50.0, 0.2),  # another strategy's own book
        _fill("t2", "a", "BOT", 100, 12.0, 1.0),  # average 11
        _fill("t3", "a", "SLD", 300, 14.0, 3.0),  # closes 200, opens 100 short at 14
        _fill("t4", "b", "BOT", 10, 40.0, 0.2),
        _fill("t5", "a", "BOT", 100, 13.0, 0.5),
    ]
    t = round_trips(fills)
    cols = ["strategy", "direction", "entry_time", "exit_time"]
    assert list(t[cols].itertuples(index=False, name=None)) == [
        ("a", "long", "t0", "t3"),
        ("b", "short", "t1", "t4"),
        ("a", "short", "t3", "t5"),
    ]
    assert list(t["quantity"]) == [200.0, 10.0, 100.0]
    assert list(t["entry_price"]) == [11.0, 50.0, 14.0]
    assert list(t["exit_price"]) == [14.0, 40.0, 13.0]
    # 200 x 3 - (1 + 1 + 2); 10 x 10 - 0.4; 100 x 1 - (1 + 0.5): the flip's fee split 2:1
    assert list(t["commission"]) == pytest.approx([4.0, 0.4, 1.5])
    assert list(t["pnl"]) == pytest.approx([596.0, 99.6, 98.5])


def test_no_fills_no_round_trips() -> None:
    assert round_trips([]).empty
