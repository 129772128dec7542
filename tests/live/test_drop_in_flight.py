"""A connection that drops while an order is on the wire (the ops lane's soak found it): the
order must reach the broker exactly once. The embedded gateway cuts the session off on
receipt of its first order -- before booking it (lost on the wire: the reconcile sends it
again, once, under the same orderRef) or after booking it, before the acknowledgement
leaves (the broker has it: never sent again). Either way one order at the gateway, one fill,
the backtest's trades, and no bar waits for an acknowledgement that cannot come."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import toolkit as tk
import toolkit.live.bridge as bridge
from tests.live._sessions import (
    assert_decisions_are_targets,
    assert_fills_are_orders,
    backtest_like,
    run_in_thread,
)
from toolkit.gateway import Gateway
from toolkit.live._rehearsal import Lockstep
from toolkit.live.bridge import LiveSession
from toolkit.live.config import LiveConfig
from toolkit.live.journal import Journal

SESSION = "in-flight"


@pytest.mark.parametrize("cut", ["before", "after"])
def test_an_order_on_the_wire_when_the_connection_drops_reaches_the_broker_once(
    live_config, monkeypatch, cut: str
) -> None:
    received: list[str] = []  # every placeOrder of the session the gateway received

    def at_order(ref: str) -> str | None:
        if not ref.startswith(SESSION + "/"):
            return None
        received.append(ref)
        return cut if len(received) == 1 else None  # the session's first order only

    gateways: list[Gateway] = []

    def armed(cfg: LiveConfig, session_id: str) -> Gateway:
        gw = start_simulator(cfg, session_id)
        gw.cut_at_order(at_order)
        gateways.append(gw)
        return gw

    start_simulator = bridge.start_simulator
    monkeypatch.setattr(bridge, "start_simulator", armed)
    cfg = live_config(
        simulator={"start": "2023-01-05 21:30", "end": "2023-01-10", "speed": 8_640_000.0},
        session={"id": SESSION},
    )
    lines: list[str] = []
    session = LiveSession(cfg, echo=lines.append, install_signals=False)
    thread, result = run_in_thread(session)
    locksteps: list[Lockstep] = []  # the session lets go of it when it ends
    while thread.is_alive() and not locksteps:
        if session.lockstep is not None:
            locksteps.append(session.lockstep)
        thread.join(0.01)
    thread.join(120)
    assert result and not isinstance(result[0], BaseException), result
    (gw,) = gateways
    first = received[0]
    assert session.reconnects == 1  # the cut happened, once

    # the broker got the order exactly once: resent after a loss, never after a late ack
    assert received.count(first) == (2 if cut == "before" else 1), "\n".join(lines)
    resent = [line for line in lines if f"resending {first}" in line]
    assert len(resent) == (1 if cut == "before" else 0), lines
    broker_refs = [o.order_ref for o in gw.state.book.orders.values()]
    assert broker_refs.count(first) == 1
    assert len(broker_refs) == len(set(broker_refs))

    with Journal(cfg.session.journal) as j:
        decisions = pd.DataFrame(j.rows("decisions", SESSION))
        fills = pd.DataFrame(j.session_fills(SESSION))
        orders = {o["order_ref"]: o for o in j.rows("orders", SESSION)}
    assert sorted(orders) == sorted(broker_refs)  # journal and broker agree, one each
    assert orders[first]["status"] == "Filled"
    assert list(fills["order_ref"]).count(first) == 1  # it filled, once
    assert len(fills) == len(gw.state.book.fills)

    # the trades are the backtest's on the same bars
    bars: Any = tk.load("SPY", adjust="none")
    days = pd.to_datetime(decisions["bar_time"])
    targets, bt = backtest_like(cfg, bars, days.iloc[0], days.iloc[-1])
    assert_decisions_are_targets(decisions, targets)
    assert_fills_are_orders(fills, bt)

    # no bar waited for an acknowledgement that could not come, nor for the clock fallback
    (lockstep,) = locksteps
    assert lockstep.ack_timeouts == 0
    assert lockstep.unstuck == 0
