"""Crashes and outages against the gateway over TCP: kill -9 at the worst moments, a dropped
connection, and restarts that must reconcile with the broker and never send an order twice."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._commands import run_command
from tests.live._sessions import (
    PATIENCE,
    held_gateway,
    journal_rows,
    start_bridge,
    stop_bridge,
    wait_for,
    wait_for_rows,
)
from toolkit.gateway import Gateway
from toolkit.live.bridge import LiveSession
from toolkit.live.journal import Journal

SESSION = "restart-test"


@pytest.fixture()
def gw() -> Iterator[Gateway]:
    # Friday 2023-03-10 after the close; the clock barely moves, the tests move it
    with held_gateway(slippage_bps=1.0) as g:
        yield g


def _broker_refs(gw: Gateway) -> list[str]:
    return [o.order_ref for o in gw.state.book.orders.values() if o.order_ref.startswith(SESSION)]


def _external(live_config, gw: Gateway, client_id: int = 21):  # type: ignore[no-untyped-def]
    return live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": client_id},
        session={"id": SESSION, "cancel_on_exit": False},
    )


def test_kill_9_while_an_order_works_then_restart_reconciles(live_config, gw, tmp_path) -> None:
    cfg = _external(live_config, gw)
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log, session=SESSION)
    journal = cfg.session.journal
    wait_for_rows(
        journal,
        "SELECT 1 FROM orders WHERE status = 'Submitted'",
        what="the first order to be working at the broker",
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert _broker_refs(gw) == [f"{SESSION}/spy_sma_paper/SPY/20230310"]
    # while the bridge is dead the weekend passes and the market-on-open order fills Monday
    gw.advance("3D")
    wait_for(
        lambda: gw.state.book.positions.get("SPY") and gw.state.book.positions["SPY"].quantity,
        what="the fill at the broker",
    )
    proc = start_bridge(cfg.source, log, session=SESSION)
    wait_for_rows(journal, "SELECT 1 FROM fills", what="the restart to journal the fill")
    wait_for_rows(
        journal,
        "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-13%'",
        what="the decision on Monday's bar",
    )
    status = run_command("toolkit.live", "status", SESSION, "--journal", journal, timeout=PATIENCE)
    assert status.returncode == 0 and "running" in status.stdout and "fills 1" in status.stdout
    stop_bridge(proc, log)
    out = log.read_text()
    assert "resumed session" in out and "net P&L" in out
    refs = _broker_refs(gw)
    assert len(refs) == len(set(refs))  # nothing sent twice
    with Journal(journal) as j:
        assert sorted(o["order_ref"] for o in j.rows("orders", SESSION)) == sorted(refs)
        assert len(j.rows("fills", SESSION)) == len(gw.state.book.fills)
        assert j.net_position(SESSION, "SPY") == gw.state.book.positions["SPY"].quantity
        # the restart did not decide the Friday bar again
        fridays = [
            d for d in j.rows("decisions", SESSION) if d["bar_time"].startswith("2023-03-10")
        ]
        assert len(fridays) == 1


def test_kill_between_journal_and_send_resends_exactly_once(live_config, gw, tmp_path) -> None:
    cfg = _external(live_config, gw, client_id=22)
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log, fault="after-journal", session=SESSION)
    assert proc.wait(PATIENCE) == 137
    journal = cfg.session.journal
    assert journal_rows(journal, "SELECT status FROM orders") == [("PendingSubmit",)]
    assert _broker_refs(gw) == []  # it died before placeOrder
    proc = start_bridge(cfg.source, log, session=SESSION)
    wait_for_rows(
        journal,
        "SELECT 1 FROM orders WHERE status = 'Submitted'",
        what="the journaled order to be sent after the restart",
    )
    stop_bridge(proc, log)
    assert "never reached the broker" in log.read_text()
    assert _broker_refs(gw) == [f"{SESSION}/spy_sma_paper/SPY/20230310"]
    # a third start finds it working at the broker and sends nothing
    proc = start_bridge(cfg.source, log, session=SESSION)
    wait_for(lambda: log.read_text().count("resumed session") >= 2, what="the third start")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)  # Ctrl+C: the same orderly stop
    assert proc.wait(PATIENCE) == 0
    assert _broker_refs(gw) == [f"{SESSION}/spy_sma_paper/SPY/20230310"]


def test_dropped_connection_reconnects_resubscribes_and_reconciles(live_config, gw) -> None:
    cfg = _external(live_config, gw, client_id=23)
    session = LiveSession(cfg, echo=None, install_signals=False)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(session.run())))
    thread.start()
    journal = cfg.session.journal
    try:
        wait_for_rows(
            journal, "SELECT 1 FROM orders WHERE status = 'Submitted'", what="the first order"
        )
        gw.drop_clients()
        gw.advance("3D")  # the order fills at Monday's open while the bridge is cut off
        wait_for(lambda: session.reconnects >= 1, what="a reconnect")
        wait_for_rows(journal, "SELECT 1 FROM fills", what="the missed fill")
        wait_for_rows(
            journal,
            "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-13%'",
            what="Monday's decision",
        )
        gw.advance("1D")  # a bar that only a fresh subscription can deliver
        wait_for_rows(
            journal,
            "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-14%'",
            what="Tuesday's decision through the new subscription",
        )
    finally:
        session.stop()
        thread.join(30)
    assert result, "the session did not end cleanly"
    with Journal(journal) as j:
        assert j.net_position(SESSION, "SPY") == gw.state.book.positions["SPY"].quantity
        refs = _broker_refs(gw)
        assert len(refs) == len(set(refs))


def test_a_second_bridge_on_the_same_session_is_refused(live_config, gw, tmp_path) -> None:
    """Issue 12, item 4: a second instance (on another client id) resumed a running session and
    decided its bars again. One writer per session: it stops at once, naming the holder."""
    cfg = _external(live_config, gw, client_id=24)
    log = tmp_path / "bridge.log"
    first = start_bridge(cfg.source, log, session=SESSION)
    journal = cfg.session.journal
    wait_for_rows(
        journal, "SELECT 1 FROM orders WHERE status = 'Submitted'", what="the first bridge's order"
    )
    # the same config file, now on another client id (the first bridge read it already)
    cfg.source.write_text(cfg.source.read_text().replace("client_id = 24", "client_id = 25"))
    second_cfg = cfg.source
    second_log = tmp_path / "second.log"
    second = start_bridge(second_cfg, second_log, session=SESSION)
    assert second.wait(PATIENCE) == 2, second_log.read_text()
    err = second_log.read_text().strip()
    assert err.count("\n") == 0 and "Traceback" not in err  # one line
    assert f"already running (pid {first.pid} holds" in err
    gw.advance("3D")  # the first bridge trades on alone
    wait_for_rows(
        journal,
        "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-13%'",
        what="Monday's decision by the first bridge",
    )
    stop_bridge(first, log)
    assert len(_broker_refs(gw)) == len(set(_broker_refs(gw)))
    decided = journal_rows(journal, "SELECT bar_time, COUNT(*) FROM decisions GROUP BY bar_time")
    assert decided and all(n == 1 for _, n in decided)
    # the session is free again, but not for another client id: IB lets only the client that
    # placed an order cancel it, so a resume on another id could not manage its orders
    second = start_bridge(second_cfg, second_log, session=SESSION)
    assert second.wait(PATIENCE) == 2
    assert "client_id changed" in second_log.read_text()


def _two_symbols(live_config, gw: Gateway, tmp_path: Path, client_id: int):  # type: ignore[no-untyped-def]
    from tests.live.conftest import PAPER

    research = tmp_path / "two.toml"
    text = PAPER.read_text().replace('symbols = ["SPY"]', 'symbols = ["SPY", "QQQ"]')
    research.write_text(text.replace("weights = [0.95]", "weights = [0.45, 0.45]"))
    return live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": client_id},
        session={"id": SESSION, "cancel_on_exit": False},
        strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
    )


FRIDAY = f"{SESSION}/spy_sma_paper/SPY/20230310"


def test_kill_between_a_decision_and_its_order_redoes_the_decision(
    live_config, gw, tmp_path
) -> None:
    """Issue 12, item 2: the decision was journaled, its order not; the restart took the bar
    as decided and the target as reached, and the order was never sent."""
    cfg = _external(live_config, gw, client_id=26)
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log, fault="after-decision", session=SESSION)
    assert proc.wait(PATIENCE) == 137
    journal = cfg.session.journal
    assert journal_rows(journal, "SELECT 1 FROM orders") == []
    proc = start_bridge(cfg.source, log, session=SESSION)
    wait_for(lambda: _broker_refs(gw), what="the decision's order after the restart")
    wait_for_rows(
        journal, "SELECT 1 FROM orders WHERE status = 'Submitted'", what="the order to be working"
    )
    stop_bridge(proc, log)
    assert _broker_refs(gw) == [FRIDAY]
    # one decision of that bar in the journal, with its order
    rows = journal_rows(
        journal,
        "SELECT d.note, o.order_ref FROM decisions d LEFT JOIN orders o "
        "ON o.decision_id = d.decision_id",
    )
    assert rows == [("order", FRIDAY)]


def test_kill_mid_bar_of_a_two_symbol_strategy_decides_both_symbols_on_that_bar(
    live_config, gw, tmp_path
) -> None:
    """Issue 12, item 3: SPY's order of the bar went out, then the process died; the restart
    took the whole bar as decided and QQQ traded one session late."""
    cfg = _two_symbols(live_config, gw, tmp_path, client_id=27)
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log, fault="after-send@1", session=SESSION)
    assert proc.wait(PATIENCE) == 137
    wait_for(lambda: _broker_refs(gw), what="the first order at the broker")
    proc = start_bridge(cfg.source, log, session=SESSION)
    journal = cfg.session.journal
    want = {f"{SESSION}/spy_sma_paper/SPY/20230310", f"{SESSION}/spy_sma_paper/QQQ/20230310"}
    wait_for(lambda: set(_broker_refs(gw)) == want, what="both symbols' orders of the bar")
    wait_for(
        lambda: len(journal_rows(journal, "SELECT 1 FROM orders WHERE status = 'Submitted'")) == 2,
        what="both orders working",
    )
    stop_bridge(proc, log)
    assert sorted(_broker_refs(gw)) == sorted(want)  # each exactly once
    decided = journal_rows(journal, "SELECT symbol, COUNT(*) FROM decisions GROUP BY symbol")
    assert sorted(decided) == [("QQQ", 1), ("SPY", 1)]


def test_an_order_the_broker_already_ended_is_not_resent(live_config, gw, tmp_path) -> None:
    """Issue 12, item 1: the order reached the broker, the bridge died before it heard back,
    and the order ended there (cancelled/expired) while the bridge was down; the restart sent
    the same orderRef again. Open orders, executions *and* completed orders are asked first."""
    cfg = _external(live_config, gw, client_id=28)
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log, fault="after-send", session=SESSION)
    assert proc.wait(PATIENCE) == 137
    journal = cfg.session.journal
    assert journal_rows(journal, "SELECT status FROM orders") == [("PendingSubmit",)]
    wait_for(lambda: _broker_refs(gw), what="the order at the broker")
    cancel = run_command("toolkit.live", "cancel-all", "--config", cfg.source, timeout=PATIENCE)
    assert cancel.returncode == 0, cancel.stderr
    wait_for(
        lambda: all(o.status == "Cancelled" for o in gw.state.book.orders.values()),
        what="the cancel at the broker",
    )
    proc = start_bridge(cfg.source, log, session=SESSION)
    wait_for_rows(
        journal,
        "SELECT 1 FROM orders WHERE status = 'Cancelled'",
        what="the restart to learn how the order ended",
    )
    time.sleep(1.0)
    stop_bridge(proc, log)
    assert _broker_refs(gw) == [FRIDAY]  # sent once, never again
    assert "never reached the broker" not in log.read_text()


def test_an_unsent_order_of_a_bar_that_has_passed_is_dropped(live_config, gw, tmp_path) -> None:
    """Issue 12, item 1: journaled on Friday, never sent, and the bridge restarts on Monday
    evening: Friday's order must not go out now; Monday's decision is made and sized from
    what the account really holds."""
    cfg = _external(live_config, gw, client_id=29)
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log, fault="after-journal", session=SESSION)
    assert proc.wait(PATIENCE) == 137
    assert _broker_refs(gw) == []
    gw.advance("3D")  # Monday's close passes while the bridge is down
    proc = start_bridge(cfg.source, log, session=SESSION)
    journal = cfg.session.journal
    monday = f"{SESSION}/spy_sma_paper/SPY/20230313"
    wait_for(lambda: _broker_refs(gw), what="an order after the restart")
    time.sleep(1.0)
    stop_bridge(proc, log)
    assert _broker_refs(gw) == [monday]
    status = dict(journal_rows(journal, "SELECT order_ref, status FROM orders"))
    assert status[FRIDAY] == "Cancelled"
