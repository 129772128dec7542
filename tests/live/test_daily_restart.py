"""IB Gateway's daily restart (issue 19.2): a rehearsal whose embedded simulator closes every
connection at 23:45 New York and refuses connects for its window, every simulated night; the
session survives each one -- no late decision, no order twice, no fill lost, its trades the
backtest's -- and says so in its log and on the dashboard."""

from __future__ import annotations

import logging

import pandas as pd

import toolkit as tk
from tests.live._sessions import (
    assert_decisions_are_targets,
    assert_fills_are_orders,
    backtest_like,
    run_in_thread,
)
from toolkit.gateway import Gateway
from toolkit.live.bridge import LiveSession
from toolkit.live.dashboard import render_text
from toolkit.live.journal import Journal


def test_a_rehearsal_survives_the_gateway_restart_every_night(live_config, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="toolkit.gateway")
    cfg = live_config(
        simulator={
            "start": "2023-01-05 21:30",
            "end": "2023-01-09",
            "speed": 8_640_000.0,
            "daily_restart": "23:45",
            "restart_window": "5min",
        },
        session={"id": "nightly"},
    )
    lines: list[str] = []
    session = LiveSession(cfg, echo=lines.append, install_signals=False)
    gateways: list[Gateway] = []
    thread, result = run_in_thread(session)
    while thread.is_alive() and not gateways:
        if session.gateway is not None:
            gateways.append(session.gateway)
        thread.join(0.01)
    thread.join(120)
    assert result and not isinstance(result[0], BaseException), result
    (gw,) = gateways
    assert gw.restarts is not None
    # every night from Thursday 5 to Sunday 8 January (weekends too, as IB Gateway does)
    assert gw.restarts.count == 4
    restarts = [r.getMessage() for r in caplog.records if "daily restart:" in r.getMessage()]
    assert len(restarts) == 4 and "refused until 2023-01-06 04:50 UTC" in restarts[0]
    # the session lost the connection each time, met refusals, and came back in sync
    assert session.reconnects == 4
    assert sum("connection lost" in line for line in lines) == 4
    assert sum("back in sync after" in line for line in lines) == 4
    assert any("connect failed" in line and "retry in" in line for line in lines)
    screen = render_text(session.view(), height=60)
    assert "back in sync after" in screen  # the dashboard's event lines
    with Journal(cfg.session.journal) as j:
        decisions = pd.DataFrame(j.rows("decisions", "nightly"))
        fills = pd.DataFrame(j.session_fills("nightly"))
        orders = j.rows("orders", "nightly")
    # no late decision, each trading day decided once
    assert not decisions["note"].str.contains("late").any()
    days = pd.to_datetime(decisions["bar_time"]).dt.strftime("%Y-%m-%d")
    assert list(days) == ["2023-01-05", "2023-01-06", "2023-01-09"]
    # no order twice (journal and broker agree, one each), no fill lost
    broker_refs = [o.order_ref for o in gw.state.book.orders.values()]
    assert sorted(o["order_ref"] for o in orders) == sorted(broker_refs)
    assert len(broker_refs) == len(set(broker_refs))
    assert len(fills) == len(gw.state.book.fills) >= 1
    # and the trades are the backtest's on the same bars
    first = pd.Timestamp(decisions["bar_time"].iloc[0])
    last = pd.Timestamp(decisions["bar_time"].iloc[-1])
    targets, bt = backtest_like(cfg, tk.load("SPY", adjust="none"), first, last)
    assert_decisions_are_targets(decisions, targets)
    assert_fills_are_orders(fills, bt)
