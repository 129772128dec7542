"""Queue position and fill times: a hand-built day worked through by hand for each model,
and the models' invariants on GOOG's level-10 day (the exact L3 answer is the reference)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.orderbook._days import goog10
from toolkit.data.lobster import MESSAGE_DTYPE, LobsterDay
from toolkit.errors import ConfigError
from toolkit.orderbook.queue import (
    Q_FRONT,
    QUEUE_COLS,
    fill_times,
    level_qty_nb,
    on_event_nb,
    place_nb,
    submission_index,
    touch_placements,
)

P = 1_000_000  # $100.00
ASKS = [1_000_100, 200, 1_000_200, 300]  # two ask levels, unchanged all along
LOW_BID = [999_900, 400]  # the bid level under ours

# (time, type, order id, size, price, direction, size resting at P after it)
HAND = [
    (1.0, 1, 10, 300, P, 1, 300),
    (1.1, 1, 11, 200, P, 1, 500),  # <- our 100-share bid joins after this event
    (1.2, 1, 12, 100, P, 1, 600),  # behind us
    (1.3, 2, 11, 50, P, 1, 550),  # ahead: partial cancel
    (1.4, 3, 12, 100, P, 1, 450),  # behind: deleted
    (1.5, 4, 10, 300, P, 1, 150),  # ahead: executed
    (1.6, 5, 0, 50, P, 1, 150),  # hidden execution while 150 displayed are ahead
    (1.7, 1, 13, 200, P, 1, 350),  # behind
    (1.8, 3, 11, 150, P, 1, 200),  # the last order ahead leaves
    (1.9, 5, 0, 30, P, 1, 200),  # hidden execution: nothing displayed ahead -> ours
    (2.0, 4, 13, 100, P, 1, 100),  # an order behind us executed -> ours
    (2.1, 4, 13, 100, P, 1, 0),
]


def _day(events: list[tuple[float, int, int, int, int, int, int]]) -> LobsterDay:
    msgs = np.array([e[:6] for e in events], dtype=MESSAGE_DTYPE)
    rows = []
    for e in events:
        bids = [P, e[6], *LOW_BID] if e[6] else [*LOW_BID, -9999999999, 0]
        rows.append([*ASKS[:2], *bids[:2], *ASKS[2:], *bids[2:]])
    return LobsterDay("TEST", date(2012, 6, 21), 2, msgs, np.array(rows, dtype=np.int64))


def _times(events: list, model: str | tuple[str, float], **kw: object) -> pd.Series:
    day = _day(events)
    place = pd.DataFrame({"after": [1], "side": [1], "price": [float(P)], "qty": [100.0]})
    return fill_times(day, place, [model], horizon=100.0, **kw).iloc[0]  # type: ignore[arg-type]


def test_the_l3_queue_counts_only_the_orders_ahead_and_fills_from_the_hidden_and_behind():
    row = _times(HAND, "l3")
    # ahead 500 -> 450 (cancel) -> 150 (execution) -> 0 (delete); the hidden 50 at event 6
    # does not reach us (150 displayed ahead), the hidden 30 at 1.9 does, then 70 of the
    # 100 executed behind us at 2.0
    assert row["first_fill_s"] == pytest.approx(1.9 - 1.1)
    assert row["full_fill_s"] == pytest.approx(2.0 - 1.1)
    assert row["filled"] == 100


def test_the_risk_averse_queue_moves_on_trades_and_shrinking_depth_only():
    row = _times(HAND, "risk_averse")
    # front 500, 450 at the depth 450, 150 after the 300 traded; 50 after the 100 traded at
    # 2.0 (hidden trades unseen); the last 100 traded leave it at -50: 50 shares filled
    assert row["first_fill_s"] == pytest.approx(2.1 - 1.1)
    assert math.isnan(row["full_fill_s"])
    assert row["filled"] == 50
    seen = _times(HAND, "risk_averse", hidden_prints=True)
    # with hidden prints: 150 - 50 = 100, then 70 after the hidden 30; -30 at 2.0, -130 at 2.1
    assert seen["first_fill_s"] == pytest.approx(2.0 - 1.1)
    assert seen["full_fill_s"] == pytest.approx(2.1 - 1.1)


def _hft_power_front(events: list, n: float) -> list[float]:
    """hftbacktest's ProbQueueModel with PowerProbQueueFunc(n) (queue.rs), restated: the
    front after each event from the placement on (trades = visible executions)."""
    front, cum, level = 500.0, 0.0, 500.0
    out = []
    for _t, typ, _oid, size, _p, _d, new in events[2:]:
        if typ == 4:
            front -= size
            cum += size
        if new != level:
            chg = level - new - cum
            cum = 0.0
            if chg < 0:
                front = min(front, new)
            else:
                back = level - front
                f, b = max(front, 0.0) ** n, max(back, 0.0) ** n
                prob = b / (b + f) if b + f > 0 else 1.0
                front = min(front - (1 - prob) * chg + min(back - prob * chg, 0.0), new)
            level = new
        out.append(front)
    return out


def test_the_power_queue_model_follows_hftbacktests_update():
    day = _day(HAND)
    m = day.messages
    sub = submission_index(m["order_id"], m["type"])
    q = np.zeros(QUEUE_COLS)
    book = day.book.astype(np.float64)
    place_nb(q, 2, 2.0, 1, float(P), 100.0, 1, book[1], False)
    fronts = []
    for i in range(2, len(m)):
        e = m[i]
        on_event_nb(q, int(e["type"]), float(e["size"]), float(e["price"]),
                    int(e["direction"]), int(sub[i]), book[i])  # fmt: skip
        fronts.append(q[Q_FRONT])
    # by hand at the first cancel (600 -> 550, 100 behind us): p = 100^2 / (100^2 + 500^2)
    # = 1/26 of the 50 came from behind, so 500 - 50 x 25/26 are ahead
    assert fronts[1] == pytest.approx(500 - 50 * 25 / 26)
    assert fronts == pytest.approx(_hft_power_front(HAND, 2.0))


def test_trading_through_our_price_fills_every_model():
    # a seller reaches a lower bid (an execution on our side below our price), then a sell
    # limit order arrives at our price: both would have met our bid first
    events = [
        *HAND[:2],
        (1.2, 4, 90, 40, 999_900, 1, 500),
        (1.3, 1, 91, 80, P, -1, 500),
    ]
    for model in ("l3", "risk_averse", ("power", 2.0), "log"):
        row = _times(events, model)
        assert row["first_fill_s"] == pytest.approx(0.1), model
        assert row["full_fill_s"] == pytest.approx(0.2), model
        assert row["filled"] == 100


def test_a_level_beyond_the_shown_book_is_unknown_and_an_empty_one_inside_is_zero():
    row = np.array([*ASKS[:2], P, 500, *ASKS[2:], *LOW_BID], dtype=np.float64)
    assert level_qty_nb(row, 1, float(P)) == 500
    assert level_qty_nb(row, 1, 999_950.0) == 0  # between the two shown bid levels
    assert level_qty_nb(row, 1, 999_800.0) == -1  # below the last shown level
    assert level_qty_nb(row, -1, 1_000_150.0) == 0
    assert level_qty_nb(row, -1, 1_000_300.0) == -1


@pytest.fixture(scope="module")
def goog() -> LobsterDay:
    return goog10()


def _first(df: pd.DataFrame, model: str) -> np.ndarray:
    t = df[df["model"] == model]["first_fill_s"].to_numpy()
    return np.where(np.isnan(t), np.inf, t)


def test_on_googs_day_risk_averse_never_fills_before_l3_and_the_probabilistic_never_after(
    goog: LobsterDay,
):
    place = touch_placements(goog, 4000)
    models = ["l3", "risk_averse", ("power", 2.0), "log", ("power2", 2.0), "log2", ("power3", 3.0)]
    df = fill_times(goog, place, models, horizon=120.0)
    l3, ra = _first(df, "l3"), _first(df, "risk_averse")
    assert np.all(ra >= l3)
    assert np.isfinite(l3).mean() > 0.5  # most touch orders fill within two minutes
    l3_filled = df[df["model"] == "l3"]["filled"].to_numpy()
    assert np.all(df[df["model"] == "risk_averse"]["filled"].to_numpy() <= l3_filled)
    for name in ("power(2)", "log", "power2(2)", "log2", "power3(3)"):
        assert np.all(_first(df, name) <= ra), name
    assert (ra > l3).any() and (_first(df, "power2(2)") < l3).any()  # the models differ


def test_on_googs_day_the_exact_queue_never_runs_below_zero_nor_above_the_level(
    goog: LobsterDay,
):
    m = goog.messages
    sub = submission_index(m["order_id"], m["type"])
    book = goog.book.astype(np.float64)
    typ, size, price, d = (m[f] for f in ("type", "size", "price", "direction"))
    q = np.zeros(QUEUE_COLS)
    checked = 0
    for k in range(1000, len(m) - 2000, 15000):
        for side in (1, -1):
            px = float(book[k, 2 if side > 0 else 0])
            place_nb(q, 0, math.nan, side, px, 1e9, k, book[k], False)  # never fully fills
            for i in range(k + 1, k + 2000):
                before = q[Q_FRONT]
                on_event_nb(q, int(typ[i]), float(size[i]), float(price[i]), int(d[i]),
                            int(sub[i]), book[i])  # fmt: skip
                here = d[i] == side and price[i] == px and typ[i] in (2, 3, 4)
                if here and sub[i] <= k:  # an order ahead of us: it must have been counted
                    assert before - size[i] >= 0, (k, i)
                level = level_qty_nb(book[i], side, px)
                assert level < 0 or q[Q_FRONT] <= level, (k, i)
                checked += 1
    assert checked > 30_000


def test_with_hidden_prints_the_risk_averse_queue_can_fill_before_l3():
    # a hidden execution at our price while displayed orders are ahead: a feed that prints
    # it as a trade moves the risk-averse front (500 - 50), the exact queue does not
    events = [
        *HAND[:2],
        (1.2, 5, 0, 50, P, 1, 500),
        (1.3, 4, 10, 300, P, 1, 200),
        (1.4, 4, 11, 180, P, 1, 20),  # L3: 20 still ahead; risk-averse: 150 - 180 = -30
    ]
    assert math.isnan(_times(events, "l3")["first_fill_s"])
    seen = _times(events, "risk_averse", hidden_prints=True)
    assert seen["first_fill_s"] == pytest.approx(0.3)
    assert seen["filled"] == 30
    assert math.isnan(_times(events, "risk_averse")["first_fill_s"])


def test_a_bad_model_or_placement_is_refused_in_one_line():
    day = _day(HAND)
    place = pd.DataFrame({"after": [1], "side": [1], "price": [float(P)], "qty": [100.0]})
    with pytest.raises(ConfigError, match=r"unknown queue model 'fifo'; allowed: l3, risk_averse"):
        fill_times(day, place, ["fifo"])
    with pytest.raises(ConfigError, match=r"needs a positive exponent: pass \('power', n\)"):
        fill_times(day, place, ["power"])
    with pytest.raises(ConfigError, match=r"placements lack the column\(s\) qty"):
        fill_times(day, place.drop(columns="qty"), ["l3"])
    with pytest.raises(ConfigError, match=r"'after' must index the 12 events"):
        fill_times(day, place.assign(after=[12]), ["l3"])
