"""IB's algos from the live config (``[strategies.execution] algo = "ib_*"``): the entry order
carries algoStrategy/algoParams or displaySize as ib_async sends them, is journaled with them,
and the simulator works it over its window (toolkit.gateway.algos)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import toolkit as tk
from tests.live.conftest import PAPER
from toolkit.engine.settings import EngineSettings
from toolkit.live.bridge import run_session
from toolkit.live.execution_config import ExecutionSpec
from toolkit.live.ib_algos import algo_params, as_journaled, with_ib_algo
from toolkit.live.journal import Journal
from toolkit.live.orders import entry_order

MINUTE = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"
AFTER_CLOSE = pd.Timestamp("2024-03-13 21:30", tz="UTC")  # Wednesday 17:30 EDT


def _entry(order_type: str = "market") -> object:
    s = EngineSettings(order_type=order_type, fill="next_open", order_offset_bps=10.0)
    return entry_order("s/x/SPY/20240313", "SPY", 300, 510.0, s)


def test_market_on_open_becomes_a_day_vwap_for_the_next_session_s_window() -> None:
    entry = _entry()
    assert (entry.order_type, entry.tif) == ("MKT", "OPG")
    spec = ExecutionSpec("ib_vwap", "10:00", "+30min", {"max_pct_vol": 0.05})
    order = with_ib_algo(entry, spec, AFTER_CLOSE)
    assert (order.order_type, order.tif, order.algo_strategy) == ("MKT", "DAY", "Vwap")
    assert dict(order.algo_params) == {
        "maxPctVol": "0.05",
        "startTime": "20240314 10:00:00 US/Eastern",
        "endTime": "20240314 10:30:00 US/Eastern",
        "allowPastEndTime": "0",
        "noTakeLiq": "0",
    }
    assert (order.quantity, order.action, order.ref) == (300, "BUY", entry.ref)
    # "none" and our own schedules leave the order alone (the bridge works ours)
    assert with_ib_algo(entry, ExecutionSpec(), AFTER_CLOSE) == entry
    assert with_ib_algo(entry, ExecutionSpec("twap"), AFTER_CLOSE) == entry


def test_twap_adaptive_and_iceberg_fields() -> None:
    twap = ExecutionSpec("ib_twap", params={"strategy_type": "Matching Midpoint"})
    # placed inside the session, no window written: from now to the close (16:00 EDT)
    inside = pd.Timestamp("2024-03-14 15:12:30", tz="UTC")
    assert algo_params(twap, inside) == (
        ("strategyType", "Matching Midpoint"),
        ("startTime", "20240314 11:12:30 US/Eastern"),
        ("endTime", "20240314 16:00:00 US/Eastern"),
        ("allowPastEndTime", "0"),
    )
    # a window already over when the order goes out: the rest of the session
    late = ExecutionSpec("ib_vwap", "10:00", "10:30")
    assert dict(algo_params(late, inside))["endTime"] == "20240314 16:00:00 US/Eastern"
    limit = _entry("limit")
    adaptive = with_ib_algo(limit, ExecutionSpec("ib_adaptive"), AFTER_CLOSE)
    assert adaptive.algo_params == (("adaptivePriority", "Normal"),)
    assert (adaptive.order_type, adaptive.limit_price) == ("LMT", limit.limit_price)
    ice = with_ib_algo(limit, ExecutionSpec("ib_iceberg", params={"display_size": 50}), inside)
    assert (ice.display_size, ice.algo_strategy, ice.order_type) == (50, None, "LMT")
    # a resend rebuilds the order from the journal's row with what it carried
    extras = {"algo": "Vwap", "algo_params": (("maxPctVol", "0.1"),), "display_size": None,
              "oca_group": None, "oca_type": None}  # fmt: skip
    again = as_journaled(limit, extras)
    assert (again.algo_strategy, again.algo_params) == ("Vwap", (("maxPctVol", "0.1"),))


def test_a_daily_session_sends_vwap_algos_that_fill_in_their_window(live_config) -> None:
    """Winter dates (EST): the orders go out after the close and work 10:00-10:20 New York
    (15:00-15:20 UTC) the next morning, at most 10 % of each minute's volume."""
    cfg = live_config(
        simulator={"start": "2024-02-20 21:30", "end": "2024-02-24", "speed": 8_640_000.0},
        strategies=[{"config": str(PAPER), "capital": 100_000, "history": "1 Y"}],
    )
    text = cfg.source.read_text() + (
        '[strategies.execution]\nalgo = "ib_vwap"\nstart = "10:00"\nend = "+20min"\n'
        "maxPctVol = 0.1\n"
    )
    cfg.source.write_text(text)
    from toolkit.live.config import load_live_config

    cfg = load_live_config(cfg.source)
    summary = run_session(cfg, echo=None)
    minute = tk.load(MINUTE, adjust="none")
    with Journal(cfg.session.journal) as j:
        orders = j.rows("orders", summary.session_id)
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        positions = j.rows("positions", summary.session_id)
    assert len(orders) >= 1
    for o in orders:
        assert (o["order_type"], o["algo"]) == ("MKT", "Vwap")
        params = json.loads(o["algo_params_json"])
        bar = pd.Timestamp(o["order_ref"].rsplit("/", 1)[-1], tz="UTC")
        day = tk.data.calendar.next_trading_day(bar.date()).strftime("%Y%m%d")
        assert params == {
            "maxPctVol": "0.1",
            "startTime": f"{day} 10:00:00 US/Eastern",
            "endTime": f"{day} 10:20:00 US/Eastern",
            "allowPastEndTime": "0",
            "noTakeLiq": "0",
        }
        mine = fills[fills["order_ref"] == o["order_ref"]]
        assert len(mine) > 1 and mine["shares"].sum() == o["quantity"]  # filled, in parts
        start = pd.Timestamp(f"{day} 15:00", tz="UTC")
        for f in mine.itertuples():
            t = pd.Timestamp(f.ts)
            assert start <= t < start + pd.Timedelta(minutes=20)
            m = minute.loc[t]
            assert f.shares <= math.floor(0.1 * m["volume"])
            assert f.price == pytest.approx((m["high"] + m["low"] + m["close"]) / 3, abs=1e-6)
    held = sum(f.shares * (1 if f.side == "BOT" else -1) for f in fills.itertuples())
    assert positions and positions[-1]["quantity"] == held


def test_kill_between_journal_and_send_resends_the_algo_once(live_config, tmp_path) -> None:
    """The entry (a Vwap) is journaled, the bridge dies before placeOrder; the restart sends
    it with the journaled algo parameters (its window included), a third start sends nothing.
    Its exits wait until it is done (tests/live/test_brackets.py)."""
    from tests.live._sessions import (
        PATIENCE,
        held_gateway,
        journal_rows,
        start_bridge,
        stop_bridge,
        wait_for,
        wait_for_rows,
    )

    session = "algo-restart"
    with held_gateway(start="2024-03-15 21:30") as gw:  # Friday after the close (EDT)
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 23},
            session={"id": session, "cancel_on_exit": False},
            strategies=[{"config": str(PAPER), "capital": 100_000, "history": "1 Y"}],
        )
        cfg.source.write_text(
            cfg.source.read_text()
            + '[strategies.execution]\nalgo = "ib_vwap"\nstart = "10:00"\nend = "10:15"\n'
            + "[strategies.bracket]\ntake_profit = 0.05\nstop_loss = 0.05\noca = true\n"
        )
        log = tmp_path / "bridge.log"
        proc = start_bridge(cfg.source, log, fault="after-journal", session=session)
        assert proc.wait(PATIENCE) == 137
        journal = cfg.session.journal
        rows = journal_rows(
            journal, "SELECT order_ref, status, algo, algo_params_json, oca_group FROM orders"
        )
        assert len(rows) == 1 and rows[0][1] == "PendingSubmit"  # no exit rides on an algo
        entry = rows[0]
        assert not gw.state.book.orders  # it died before placeOrder

        proc = start_bridge(cfg.source, log, session=session)
        wait_for_rows(
            journal,
            "SELECT 1 FROM orders WHERE status = 'Submitted' AND algo = 'Vwap'",
            what="the journaled algo to be sent after the restart",
        )
        wait_for(lambda: len(gw.state.book.orders) == 1, what="the entry at the broker")
        stop_bridge(proc, log)
        assert "never reached the broker" in log.read_text()
        sim = {o.order_ref: o for o in gw.state.book.orders.values()}
        parent = sim[entry[0]]
        assert parent.algo_strategy == "Vwap"
        assert dict(parent.algo_params) == json.loads(entry[3])  # the journaled window
        assert dict(parent.algo_params)["startTime"] == "20240318 10:00:00 US/Eastern"

        # a third start finds them working at the broker and sends nothing
        proc = start_bridge(cfg.source, log, session=session)
        wait_for(lambda: log.read_text().count("resumed session") >= 2, what="the third start")
        stop_bridge(proc, log)
        assert sorted(o.order_ref for o in gw.state.book.orders.values()) == sorted(sim)


@pytest.mark.parametrize(
    ("execution", "algo"),
    [
        ('algo = "ib_iceberg"\ndisplay_size = 50', None),
        ('algo = "ib_adaptive"\npriority = "Urgent"', "Adaptive"),
    ],
)
def test_a_limit_entry_as_an_iceberg_or_adaptive(
    live_config, tmp_path, execution: str, algo: str | None
) -> None:
    """A limit entry (the engine's, at the decision close) as an IB iceberg that never shows
    more than 50 shares, or as IB's Adaptive algo capped by its limit."""
    research = tmp_path / "limit.toml"
    research.write_text(PAPER.read_text().replace('order_type = "market"', 'order_type = "limit"'))
    cfg = live_config(
        simulator={"start": "2024-03-19 21:30", "end": "2024-03-21", "speed": 8_640_000.0},
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
    )
    cfg.source.write_text(cfg.source.read_text() + f"[strategies.execution]\n{execution}\n")
    from toolkit.live.config import load_live_config

    cfg = load_live_config(cfg.source)
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        orders = j.rows("orders", summary.session_id)
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        events = j.rows("order_events", summary.session_id)
    entry = orders[0]
    assert (entry["order_type"], entry["algo"]) == ("LMT", algo)
    assert entry["display_size"] == (50 if algo is None else None)
    assert not any("rejected" in e["message"].lower() for e in events)
    assert len(fills) > 0, "the entry filled"
    mine = fills[fills["order_ref"] == entry["order_ref"]]
    assert (mine["price"] <= entry["limit_price"] + 1e-9).all()  # a buy never above its limit
    if algo is None:
        assert mine["shares"].max() <= 50 and mine["shares"].sum() == entry["quantity"]
