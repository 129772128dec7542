"""Bar completion, order construction (types, tick rounding, brackets, refs), and brackets
and late decisions at the gateway over TCP."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.live.conftest import PAPER
from toolkit.engine.settings import EngineSettings
from toolkit.live import bars as lb
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal
from toolkit.live.orders import bracket_legs, entry_order, order_ref


def _bar(date: dt.date | dt.datetime, c: float = 10.0) -> SimpleNamespace:
    return SimpleNamespace(date=date, open=c, high=c, low=c, close=c, volume=100.0)


def test_a_daily_bar_is_complete_at_the_new_york_close() -> None:
    frame = lb.frame([_bar(dt.date(2024, 7, 1)), _bar(dt.date(2024, 7, 2))])
    assert frame.index[-1] == pd.Timestamp("2024-07-02", tz="UTC")
    before = pd.Timestamp("2024-07-02 19:59", tz="UTC")  # 15:59 New York (summer time)
    assert len(lb.completed(frame, before, "1 day")) == 1
    assert len(lb.completed(frame, pd.Timestamp("2024-07-02 20:00", tz="UTC"), "1 day")) == 2
    winter = pd.Timestamp("2024-01-05", tz="UTC")
    assert lb.bar_end(winter, "1 day") == pd.Timestamp("2024-01-05 21:00", tz="UTC")
    assert lb.next_open(winter, "1 day") == pd.Timestamp("2024-01-08 14:30", tz="UTC")  # Monday


def test_daily_bar_labels_are_bar_label_of_each_date() -> None:
    """A stream's daily bars are labelled in one conversion: the same index, unit and time
    zone as :func:`toolkit.live.bars.bar_label` of each date (leap day, year ends, DST days)."""
    days = [dt.date(2019, 12, 30) + dt.timedelta(days=i) for i in range(800)]
    got = lb.frame([_bar(d) for d in days]).index
    pd.testing.assert_index_equal(
        got, pd.DatetimeIndex([lb.bar_label(d) for d in days]).rename("time"), exact=True
    )
    assert lb.frame([]).empty
    unknown = SimpleNamespace(date=days[0], open=1.0, high=2.0, low=0.5, close=1.5, volume=-1)
    row = lb.frame([unknown, _bar(days[1], 3.0)]).to_numpy()  # IB's -1: volume not known
    assert row.tolist() == [[1.0, 2.0, 0.5, 1.5, 0.0], [3.0, 3.0, 3.0, 3.0, 100.0]]


def test_intraday_bars_complete_after_their_length() -> None:
    t = dt.datetime(2024, 3, 14, 14, 0, tzinfo=dt.UTC)
    frame = lb.frame([_bar(t), _bar(t + dt.timedelta(minutes=5))])
    assert len(lb.completed(frame, pd.Timestamp("2024-03-14 14:09", tz="UTC"), "5 mins")) == 1
    assert len(lb.completed(frame, pd.Timestamp("2024-03-14 14:10", tz="UTC"), "5 mins")) == 2


def test_entry_orders_follow_the_engine_settings() -> None:
    ref = order_ref("s", "strat", "SPY", pd.Timestamp("2024-03-14", tz="UTC"))
    assert ref == "s/strat/SPY/20240314"
    assert order_ref("s", "x", "SPY", pd.Timestamp("2024-03-14 14:05", tz="UTC")).endswith("T1405")
    moo = entry_order(ref, "SPY", 100, 500.0, EngineSettings())
    assert (moo.action, moo.quantity, moo.order_type, moo.tif) == ("BUY", 100, "MKT", "OPG")
    at_close = entry_order(ref, "SPY", -5, 500.0, EngineSettings(fill="close"))
    assert (at_close.action, at_close.order_type, at_close.tif) == ("SELL", "MKT", "DAY")
    lmt = entry_order(
        ref, "SPY", 10, 500.005, EngineSettings(order_type="limit", order_offset_bps=10)
    )
    assert lmt.order_type == "LMT" and lmt.limit_price == 499.50  # 499.505 rounded down for a buy
    stp = entry_order(
        ref, "SPY", -10, 500.0, EngineSettings(order_type="stop", order_offset_bps=10)
    )
    assert stp.order_type == "STP" and stp.aux_price == 499.5


@given(close=st.floats(1.0, 5000.0), bps=st.floats(0.0, 500.0), qty=st.sampled_from([-7, 3]))
def test_limit_prices_are_on_the_tick_and_never_worse_than_asked(
    close: float, bps: float, qty: int
) -> None:
    o = entry_order("r", "X", qty, close, EngineSettings(order_type="limit", order_offset_bps=bps))
    assert o.limit_price is not None
    assert abs(o.limit_price * 100 - round(o.limit_price * 100)) < 1e-6
    exact = close * (1 - (1 if qty > 0 else -1) * bps / 1e4)
    assert (o.limit_price <= exact + 1e-9) if qty > 0 else (o.limit_price >= exact - 1e-9)


def test_bracket_legs_protect_the_whole_resulting_position() -> None:
    s = EngineSettings(stop_loss=0.05, take_profit=0.10, trailing_stop=0.03)
    parent = entry_order("p", "SPY", 100, 400.0, s)
    legs = bracket_legs(parent, 150.0, 400.0, s)
    assert [(x.ref, x.action, x.quantity, x.order_type, x.tif) for x in legs] == [
        ("p/sl", "SELL", 150.0, "STP", "GTC"),
        ("p/tp", "SELL", 150.0, "LMT", "GTC"),
        ("p/trail", "SELL", 150.0, "TRAIL", "GTC"),
    ]
    assert legs[0].aux_price == 380.0 and legs[1].limit_price == 440.0
    assert legs[2].trailing_percent == 3.0
    short = bracket_legs(entry_order("q", "SPY", -10, 400.0, s), -10.0, 400.0, s)
    assert short[0].action == "BUY" and short[0].aux_price == 420.0
    assert bracket_legs(parent, 0.0, 400.0, s) == []


def test_bracket_at_the_gateway(live_config, tmp_path) -> None:
    research = tmp_path / "bracket.toml"
    research.write_text(PAPER.read_text() + "\n[exits]\nstop_loss = 0.03\ntake_profit = 0.5\n")
    cfg = live_config(
        simulator={"start": "2023-03-10 21:30", "end": "2023-03-14", "speed": 8_640_000.0},
        strategies=[
            {"config": str(research), "capital": 100_000, "history": "1 Y", "bracket": True}
        ],
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        orders = {
            o["order_ref"].rsplit("/", 2)[-2] + "/" + o["order_ref"].rsplit("/", 1)[-1]: o
            for o in j.rows("orders", summary.session_id)
        }
        events = j.rows("order_events", summary.session_id)
    parent = orders["SPY/20230310"]
    sl, tp = orders["20230310/sl"], orders["20230310/tp"]
    assert parent["order_type"] == "MKT" and sl["order_type"] == "STP" and tp["order_type"] == "LMT"
    assert sl["parent_ref"] == tp["parent_ref"] == parent["order_ref"]
    assert sl["quantity"] == tp["quantity"] == parent["quantity"]
    # the parent filled Monday; its legs went live at the broker, then were cancelled at exit
    by_ref: dict[str, set[str]] = {}
    for e in events:
        by_ref.setdefault(e["order_ref"], set()).add(e["status"])
    assert "Filled" in by_ref[parent["order_ref"]]
    assert {"Submitted", "Cancelled"} <= by_ref[sl["order_ref"]]


def test_a_late_decision_is_flagged(live_config) -> None:
    # Monday 15:00 UTC is after the 09:30 New York open: Friday's decision comes too late
    cfg = live_config(
        simulator={"start": "2023-03-13 15:00", "end": "2023-03-13 15:05", "speed": 60.0}
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        notes = [d["note"] for d in j.rows("decisions", summary.session_id)]
    assert notes == ["order (late)"]


@pytest.mark.parametrize(
    ("start", "late"),
    [
        ("2024-03-29 15:00", False),  # Good Friday: no session, Thursday's bar is on time
        ("2024-04-01 15:00", True),  # Monday 11:00 New York: after the open, late
        ("2024-07-05 13:00", False),  # 09:00 on the Friday after July 4th (a holiday)
        ("2024-07-05 14:00", True),  # 10:00: that Friday's open has passed
    ],
)
def test_late_means_after_the_next_session_s_open(live_config, start: str, late: bool) -> None:
    # LATE knows exchange holidays: deciding Thursday's bar on Good Friday is not late
    end = str(pd.Timestamp(start) + pd.Timedelta(minutes=5))
    cfg = live_config(simulator={"start": start, "end": end, "speed": 60.0})
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        notes = [d["note"] for d in j.rows("decisions", summary.session_id)]
    assert notes == ["order (late)" if late else "order"]


def test_next_open_skips_holidays_and_a_daily_bar_ends_at_an_early_close() -> None:
    thursday = pd.Timestamp("2024-03-28", tz="UTC")
    assert lb.next_open(thursday, "1 day") == pd.Timestamp("2024-04-01 13:30", tz="UTC")
    july3 = pd.Timestamp("2024-07-03", tz="UTC")  # closes at 13:00, July 4th has no session
    assert lb.bar_end(july3, "1 day") == pd.Timestamp("2024-07-03 17:00", tz="UTC")
    assert lb.next_open(july3, "1 day") == pd.Timestamp("2024-07-05 13:30", tz="UTC")
    # the last 5-minute bar of a session: the next bar is the next session's first
    last = pd.Timestamp("2024-11-29 17:55", tz="UTC")  # 12:55, before the 13:00 close
    assert lb.bar_end(last, "5 mins") == pd.Timestamp("2024-11-29 18:00", tz="UTC")
    assert lb.next_open(last, "5 mins") == pd.Timestamp("2024-12-02 14:35", tz="UTC")


def test_an_intraday_session_decides_every_5_minute_bar_in_lockstep(live_config) -> None:
    import asyncio

    from toolkit.live.bridge import LiveSession

    cfg = live_config(
        simulator={"start": "2024-03-14 14:00", "end": "2024-03-14 17:00", "speed": 8_640_000.0},
        strategies=[
            {"config": str(PAPER), "capital": 100_000, "history": "2 D", "bar_size": "5 mins"}
        ],
    )
    session = LiveSession(cfg, echo=None, install_signals=False)
    summary = asyncio.run(session.run())
    with Journal(cfg.session.journal) as j:
        decisions = j.rows("decisions", summary.session_id)
        orders = j.rows("orders", summary.session_id)
    bars = pd.DatetimeIndex([pd.Timestamp(d["bar_time"]) for d in decisions])
    # 13:55 (the last bar before the start) through 16:55 UTC, every 5 minutes, none twice
    assert list(bars) == list(
        pd.date_range("2024-03-14 13:55", "2024-03-14 16:55", freq="5min", tz="UTC")
    )
    assert not any("late" in d["note"] for d in decisions)
    assert orders and all(o["order_type"] == "MKT" for o in orders)
    assert session.unstuck == 0  # the clock never needed the fallback
