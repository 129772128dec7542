"""Each risk guard fires against the gateway over TCP: it trims or blocks the order at the
broker, is journaled, logged and (kill switch) mailed; the kill switch cancels, flattens and
stops the session, on the same bar as the backtest's."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd

import toolkit as tk
from tests._smtp import tls_smtp
from tests.live._sessions import backtest_like
from tests.live.conftest import PAPER
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal
from toolkit.live.summary import SessionSummary
from toolkit.notify import SmtpSettings

FRIDAY = {"start": "2023-03-10 21:30", "end": "2023-03-10 21:40", "speed": 600.0}
CLOSE_FRIDAY = float(tk.load("SPY", adjust="none").loc["2023-03-10", "close"])


def _one_bar(live_config, risk, strategies=None):  # type: ignore[no-untyped-def]
    cfg = live_config(simulator=FRIDAY, risk=risk, strategies=strategies)
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        orders = j.rows("orders", summary.session_id)
        guards = j.rows("guard_events", summary.session_id)
        events = j.rows("order_events", summary.session_id)
    return orders, guards, events


def test_max_position_trims_the_order_at_the_broker(live_config) -> None:
    orders, guards, events = _one_bar(live_config, {"max_position": 20_000.0})
    assert [o["quantity"] for o in orders] == [math.floor(20_000.0 / CLOSE_FRIDAY)]
    assert [g["guard"] for g in guards] == ["max_position"]
    assert "trimmed" in guards[0]["detail"] and guards[0]["symbol"] == "SPY"
    # the broker acknowledged exactly that order, and it was cancelled at shutdown
    assert {e["status"] for e in events} >= {"Submitted", "Cancelled"}


def test_max_order_and_max_gross(live_config) -> None:
    orders, guards, _ = _one_bar(live_config, {"max_order": 10_000.0})
    assert [o["quantity"] for o in orders] == [math.floor(10_000.0 / CLOSE_FRIDAY)]
    assert [g["guard"] for g in guards] == ["max_order"]
    orders, guards, _ = _one_bar(live_config, {"max_gross": 0.1})
    assert [o["quantity"] for o in orders] == [math.floor(10_000.0 / CLOSE_FRIDAY)]
    assert [g["guard"] for g in guards] == ["max_gross"]


def test_trading_hours_block_orders_outside_the_window(live_config) -> None:
    orders, guards, _ = _one_bar(live_config, {"trading_hours": ["09:30", "16:00"]})
    assert orders == []
    assert [g["guard"] for g in guards] == ["trading_hours"]
    assert "outside 09:30-16:00 New York" in guards[0]["detail"]


def test_max_orders_per_minute(live_config, tmp_path) -> None:
    two = tmp_path / "two.toml"
    text = PAPER.read_text().replace('symbols = ["SPY"]', 'symbols = ["SPY", "QQQ"]')
    two.write_text(text.replace("weights = [0.95]", "weights = [0.45, 0.45]"))
    orders, guards, _ = _one_bar(
        live_config,
        {"max_orders_per_minute": 1},
        strategies=[{"config": str(two), "capital": 100_000, "history": "1 Y"}],
    )
    assert len(orders) == 1
    assert [g["guard"] for g in guards] == ["max_orders_per_minute"]
    assert {orders[0]["symbol"], guards[0]["symbol"]} == {"SPY", "QQQ"}


def _kill_run(live_config, risk, smtp=None):  # type: ignore[no-untyped-def]
    cfg = live_config(
        simulator={"start": "2023-03-10 21:30", "end": "2023-05-31", "speed": 8_640_000.0},
        risk=risk,
    )
    summary = run_session(cfg, echo=None, alerts=smtp)
    with Journal(cfg.session.journal) as j:
        fills = j.session_fills(summary.session_id)
        guards = j.rows("guard_events", summary.session_id)
        decisions = j.rows("decisions", summary.session_id)
    return cfg, summary, fills, guards, decisions


def _backtest(cfg, first_bar, last_bar):  # type: ignore[no-untyped-def]
    return backtest_like(cfg, tk.load("SPY", adjust="none"), first_bar, last_bar)[1]


def test_drawdown_kill_switch_cancels_flattens_stops_and_alerts(live_config, smtp_server) -> None:
    _, box, _ = smtp_server
    smtp = tls_smtp(smtp_server, recipient="trader@example.test")
    cfg, summary, fills, guards, decisions = _kill_run(live_config, {"max_drawdown": 0.01}, smtp)
    assert summary.kill_switch == "max_drawdown"
    assert [g["guard"] for g in guards] == ["max_drawdown"]
    assert summary.positions == {}  # flattened
    # it stopped by itself once flat, long before the simulation's end
    last = pd.Timestamp(decisions[-1]["bar_time"])
    assert last < pd.Timestamp("2023-05-01", tz="UTC")
    assert any(
        "KILL SWITCH" in m["Subject"] or "max_drawdown" in m["Subject"] for m in box.messages
    )
    # the backtest with the same limit flattens on the same bar at the same price
    bt = _backtest(cfg, pd.Timestamp(decisions[0]["bar_time"]), last)
    assert [pd.Timestamp(f["ts"]) for f in fills] == list(bt.orders["time"])
    np.testing.assert_allclose([f["price"] for f in fills], bt.orders["price"], atol=1e-6)


def test_daily_loss_kill_switch(live_config) -> None:
    cfg, summary, fills, guards, decisions = _kill_run(live_config, {"daily_loss": 0.004})
    assert summary.kill_switch == "daily_loss" and summary.positions == {}
    assert [g["guard"] for g in guards] == ["daily_loss"]
    bt = _backtest(
        cfg, pd.Timestamp(decisions[0]["bar_time"]), pd.Timestamp(decisions[-1]["bar_time"])
    )
    assert [pd.Timestamp(f["ts"]) for f in fills] == list(bt.orders["time"])


def test_a_broker_rejection_is_journaled_and_retried_next_bar(live_config) -> None:
    # the simulated account holds $10,000: a $95,000 order breaks IB's 4x margin check (201)
    cfg = live_config(
        simulator={
            "start": "2023-03-10 21:30",
            "end": "2023-03-14",
            "speed": 8_640_000.0,
            "cash": 10_000.0,
        },
    )
    lines: list[str] = []
    summary = run_session(cfg, echo=lines.append)
    with Journal(cfg.session.journal) as j:
        orders = j.rows("orders", summary.session_id)
        events = j.rows("order_events", summary.session_id)
    assert len(orders) >= 2  # rejected on Friday's bar, tried again on Monday's
    assert all(o["status"] == "Inactive" for o in orders)
    assert any(e["message"].startswith("201: Order rejected") for e in events)
    assert any(
        line.startswith("[") and "REJECTED" in line and "IB error 201" in line for line in lines
    )
    assert summary.fills == 0 and summary.positions == {}


def test_a_mail_server_that_never_answers_does_not_hold_up_the_kill_switch(
    live_config, hung_smtp
) -> None:
    # two minutes per network step: a session that mailed inside its trading loop would sit
    # on the kill switch's alert that long before cancelling and flattening
    smtp = SmtpSettings(
        "127.0.0.1", hung_smtp.port, False, recipients=("trader@example.test",), timeout=120.0
    )
    cfg = live_config(
        simulator={"start": "2023-03-10 21:30", "end": "2023-05-31", "speed": 8_640_000.0},
        risk={"max_drawdown": 0.01},
    )
    lines: list[str] = []
    result: list[SessionSummary] = []
    worker = threading.Thread(
        target=lambda: result.append(run_session(cfg, echo=lines.append, alerts=smtp))
    )
    worker.start()
    assert hung_smtp.accepted.wait(120), "the kill switch's alert was never sent"
    worker.join(60)  # it flattens and stops by itself while that mail still hangs
    hung = worker.is_alive()
    worker.join(300)
    assert not hung, "the session waited for the mail server"
    assert not hung_smtp.client_closed.is_set()  # the mail was still pending when it ended
    summary = result[0]
    assert summary.kill_switch == "max_drawdown" and summary.positions == {}
    assert any("GUARD max_drawdown" in x for x in lines)
    assert any("1 alert mail(s) not sent" in x for x in lines)
