"""Stop requests (Ctrl+C, SIGTERM, :meth:`LiveSession.stop`) are obeyed at once -- during an
outage, while connecting, in the middle of start-up -- and no order is placed after one."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ib_async import IB

from tests._smtp import HungServer
from tests.live._sessions import (
    held_gateway,
    journal_rows,
    run_in_thread,
    start_bridge,
    wait_for,
    wait_for_rows,
)
from toolkit.gateway import Gateway
from toolkit.live.bridge import LiveSession, StopRequested

SESSION = "stop-test"


@pytest.fixture()
def gw() -> Iterator[Gateway]:
    # Friday 2023-03-10 after the close; the clock barely moves, the tests move it
    with held_gateway() as g:
        yield g


def _exits(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _refs(gw: Gateway) -> list[str]:
    return sorted(o.order_ref for o in gw.state.book.orders.values())


def _cancel_at_the_broker(gw: Gateway, journal: Path) -> None:
    """Another client cancels every working order (as ``toolkit.live cancel-all`` does), so
    the session's next bar wants a new order."""
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=0, timeout=10)
    try:
        ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
        ib.sleep(0.5)
    finally:
        ib.disconnect()
    wait_for_rows(
        journal,
        "SELECT 1 FROM orders WHERE status = 'Cancelled'",
        what="the session to see its order cancelled",
    )


def test_sigterm_during_an_outage_stops_at_once_and_sends_nothing_later(
    live_config, gw, tmp_path
) -> None:
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": 41, "timeout": 2.0},
        session={"id": SESSION, "cancel_on_exit": False, "max_backoff": 4.0},
    )
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log)
    try:
        journal = cfg.session.journal
        wait_for_rows(
            journal,
            "SELECT 1 FROM orders WHERE status = 'Submitted'",
            what="Friday's order to be working",
        )
        _cancel_at_the_broker(gw, journal)  # Monday's bar will call for a new order
        friday = _refs(gw)
        gw.stop()  # the gateway goes away: the bridge retries with backoff
        wait_for(lambda: log.read_text().count("connect failed") >= 2, what="reconnect attempts")
        proc.send_signal(signal.SIGTERM)
        in_outage = _exits(proc, 30.0)  # nothing to wait for: the gateway may never come back
        # the gateway returns with a new bar to trade; a bridge told to stop must not use it
        gw.start()
        gw.advance("3D")
        rc = in_outage if in_outage is not None else _exits(proc, 60.0)
        out = log.read_text()
        assert rc == 0, out
        assert "stopping: no new orders" in out and "Traceback" not in out
        assert "working orders were not cancelled" not in out  # cancel_on_exit is off here
        assert _refs(gw) == friday, "an order was sent after the stop request"
        assert not journal_rows(
            journal, "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-13%'"
        )
        assert in_outage == 0, "SIGTERM was only obeyed once the gateway was back"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_connecting_ends_start_up_cleanly(live_config, tmp_path, sig) -> None:
    hung = HungServer()  # accepts the TCP connection, never answers the API handshake
    try:
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": hung.port, "timeout": 120.0},
            session={"id": SESSION},
        )
        log = tmp_path / "bridge.log"
        proc = start_bridge(cfg.source, log)
        assert hung.accepted.wait(60), "the bridge never tried to connect"
        proc.send_signal(sig)
        rc = _exits(proc, 30.0)
        if rc is None:
            proc.kill()
            proc.wait(10)
        out = log.read_text()
        assert rc == 0, out
        assert "Traceback" not in out and "KeyboardInterrupt" not in out
        lines = [x for x in out.splitlines() if x.startswith("stopped")]
        assert lines == [
            f"stopped: stopped while connecting to 127.0.0.1:{hung.port}; nothing was traded."
        ]
    finally:
        hung.close()


def test_a_stop_during_start_up_places_no_order(live_config, gw) -> None:
    # the log line written once the session is recorded, before contracts, bars and the
    # first decision: a stop requested right there must not let start-up trade
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": 42},
        session={"id": SESSION},
    )
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith(f"session {SESSION} "):
            session.stop()

    session = LiveSession(cfg, echo=echo, install_signals=False)
    t, result = run_in_thread(session)
    t.join(60)
    assert not t.is_alive()
    assert result and not isinstance(result[0], BaseException), result
    assert _refs(gw) == [], "\n".join(lines)
    assert not any(x.startswith("sent ") or "] sent " in x for x in lines)
    assert result[0].orders == 0


def test_a_stop_the_moment_a_reconnect_succeeds_places_no_order(live_config, gw) -> None:
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": 43},
        session={"id": SESSION, "cancel_on_exit": False},
    )
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if "reconnected (#1)" in line:
            session.stop()

    session = LiveSession(cfg, echo=echo, install_signals=False)
    t, result = run_in_thread(session)
    try:
        wait_for(lambda: _refs(gw), what="Friday's order")
        _cancel_at_the_broker(gw, cfg.session.journal)  # Monday's bar calls for a new order
        friday = _refs(gw)
        gw.drop_clients()
        gw.advance("3D")  # Monday's bar is there when it reconnects
        t.join(60)
        assert not t.is_alive()
    finally:
        session.stop()
        t.join(30)
    assert result and not isinstance(result[0], BaseException), result
    assert any("reconnected (#1)" in x for x in lines)
    assert _refs(gw) == friday, "\n".join(lines)


def test_run_raises_stop_requested_when_stopped_before_connecting(live_config) -> None:
    hung = HungServer()
    try:
        cfg = live_config(connection={"host": "127.0.0.1", "port": hung.port, "timeout": 120.0})
        session = LiveSession(cfg, echo=None, install_signals=False)
        t, result = run_in_thread(session)
        assert hung.accepted.wait(60)
        session.stop()
        t.join(30)
        assert not t.is_alive() and result and isinstance(result[0], StopRequested)
    finally:
        hung.close()


def test_sigterm_is_not_held_up_by_a_mail_server_that_never_answers(
    live_config, gw, hung_smtp, tmp_path
) -> None:
    # Friday 21:30 UTC is outside these hours: the first decision fires a guard, hence a mail
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": 44},
        session={"id": SESSION},
        risk={"trading_hours": ["09:30", "16:00"]},
    )
    mail = {
        "TOOLKIT_SMTP_HOST": "127.0.0.1",
        "TOOLKIT_SMTP_PORT": str(hung_smtp.port),
        "TOOLKIT_SMTP_STARTTLS": "0",
        "TOOLKIT_ALERT_TO": "trader@example.test",
        "TOOLKIT_SMTP_TIMEOUT": "120",
    }
    log = tmp_path / "bridge.log"
    proc = start_bridge(cfg.source, log, env_extra=mail)
    try:
        wait_for_rows(
            cfg.session.journal, "SELECT 1 FROM guard_events", what="the trading-hours guard"
        )
        assert hung_smtp.accepted.wait(60), "the guard's alert was never sent"
        proc.send_signal(signal.SIGTERM)
        rc = _exits(proc, 15.0)  # the mail may hang for two minutes; the stop may not
        out = log.read_text()
        assert rc == 0, out
        assert "1 alert mail(s) not sent" in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
