"""What the broker says wins: a cancel that loses the race against a fill is not a rejection,
and a position changed behind the session's back stops (or is adopted by) that symbol."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ib_async import IB, MarketOrder, Stock

from tests._smtp import tls_smtp
from tests.live._sessions import held_gateway, run_in_thread, wait_for, wait_for_rows
from toolkit.errors import ConfigError
from toolkit.gateway import Gateway
from toolkit.gateway.orders import DONE
from toolkit.live.bridge import LiveSession
from toolkit.live.dashboard import render_text
from toolkit.live.journal import Journal

SESSION = "reconcile-test"
FRIDAY_REF = f"{SESSION}/spy_sma_paper/SPY/20230310"


@pytest.fixture()
def gw() -> Iterator[Gateway]:
    # Friday 2023-03-10 after the close; the clock barely moves, the tests move it
    with held_gateway() as g:
        yield g


def _on_loop(session: LiveSession, fn: Callable[[], Any]) -> Any:
    """Call ``fn`` on the session's event loop (its journal belongs to that thread)."""
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def call() -> None:
        try:
            done.set_result(fn())
        except BaseException as exc:
            done.set_exception(exc)

    assert session._loop is not None
    session._loop.call_soon_threadsafe(call)
    return done.result(30)


def _broker_order(gw: Gateway, ref: str) -> Any:
    return next((o for o in gw.state.book.orders.values() if o.order_ref == ref), None)


def test_a_cancel_that_loses_the_race_to_a_fill_is_not_a_rejection(
    live_config, gw, smtp_server
) -> None:
    _, box, _ = smtp_server
    smtp = tls_smtp(smtp_server)
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": 51},
        session={"id": SESSION, "cancel_on_exit": False},
    )
    lines: list[str] = []
    session = LiveSession(cfg, echo=lines.append, install_signals=False, alerts=smtp)
    t, result = run_in_thread(session)
    journal = cfg.session.journal
    try:
        wait_for_rows(
            journal,
            "SELECT 1 FROM orders WHERE status = 'Submitted'",
            what="Friday's market-on-open order to be working",
        )

        def cancel_as_it_fills() -> None:
            # on the session's own loop, so it cannot read the fill before it cancels: the
            # broker fills the order at Monday's open, then the session asks to cancel it
            gw.advance("3D")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                o = _broker_order(gw, FRIDAY_REF)
                if o is not None and o.status in DONE:
                    break
                time.sleep(0.01)
            sent = session._cancel_working(lambda ref: True)
            lines.append(f"test: cancel requested for {len(sent)} order(s)")

        assert session._loop is not None
        session._loop.call_soon_threadsafe(cancel_as_it_fills)
        wait_for_rows(
            journal,
            "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-13%'",
            what="Monday's decision",
        )
        wait_for(lambda: any("10147" in x for x in lines), what="IB's 10147 for the late cancel")
    finally:
        session.stop()
        t.join(30)
    assert result and not isinstance(result[0], BaseException), result
    assert "test: cancel requested for 1 order(s)" in lines
    assert _broker_order(gw, FRIDAY_REF).status == "Filled"
    with Journal(journal) as j:
        order = next(o for o in j.rows("orders", SESSION) if o["order_ref"] == FRIDAY_REF)
        fills = j.session_fills(SESSION)
        statuses = [
            e["status"] for e in j.rows("order_events", SESSION) if e["order_ref"] == FRIDAY_REF
        ]
    assert order["status"] == "Filled", statuses
    assert "Inactive" not in statuses
    assert sum(f["shares"] for f in fills) == order["quantity"]
    assert not any("REJECTED" in x for x in lines)
    assert not any("rejected" in str(m["Subject"]) for m in box.messages)
    # Monday's decision counts the fill: no second order for the same target
    assert len([o for o in gw.state.book.orders.values() if o.order_ref.startswith(SESSION)]) == 1


# in the range of the 1-minute SPY data, so orders fill during the session, not at the close
MISMATCH_START = "2024-04-05 21:30"  # Friday after the close; SPY's 5/20 signal: +1 that day
MONDAY_RTH = "65h"  # to Monday 2024-04-08 14:30 UTC (10:30 New York): Friday's order has filled
MONDAY_CLOSE = "7h"  # to 21:30 UTC: Monday's bar, where the signal turns to -1
MONDAY = "2024-04-08"


@pytest.fixture()
def gw_april() -> Iterator[Gateway]:
    with held_gateway(MISMATCH_START) as g:
        yield g


def _other_client_trades(gw: Gateway, action: str, quantity: float) -> None:
    """A second client (TWS, a phone, another program) trades the same account."""
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=9, timeout=10)
    try:
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        trade = ib.placeOrder(spy, MarketOrder(action, quantity))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and trade.orderStatus.status != "Filled":
            ib.sleep(0.05)
        assert trade.orderStatus.status == "Filled"
    finally:
        ib.disconnect()


def _session_refs(gw: Gateway) -> list[str]:
    return sorted(o.order_ref for o in gw.state.book.orders.values() if o.order_ref)


def _mismatch_run(live_config, gw, smtp, on_mismatch: str | None):  # type: ignore[no-untyped-def]
    """Friday's order fills Monday morning; the other client then buys the position back;
    the session reconnects, then Monday's bar turns the signal around."""
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": 52},
        session={"id": SESSION, "cancel_on_exit": False},
        risk={"on_mismatch": on_mismatch} if on_mismatch else None,
    )
    lines: list[str] = []
    session = LiveSession(cfg, echo=lines.append, install_signals=False, alerts=smtp)
    t, result = run_in_thread(session)
    journal = cfg.session.journal
    try:
        wait_for(lambda: _session_refs(gw), what="Friday's order")
        gw.advance(MONDAY_RTH)
        wait_for_rows(journal, "SELECT 1 FROM fills", what="Friday's order to fill")
        held = gw.state.book.positions["SPY"].quantity
        assert held > 0
        _other_client_trades(gw, "SELL", held)  # the broker is flat; the journal says long
        assert gw.state.book.positions["SPY"].quantity == 0
        gw.drop_clients()
        wait_for(lambda: session.reconnects >= 1 and session.connected, what="the reconnect")
        wait_for(
            lambda: any("GUARD" in x and "journal says" in x for x in lines),
            what="the mismatch to be flagged",
        )
        screen = _on_loop(session, lambda: render_text(session.view()))
        gw.advance(MONDAY_CLOSE)
        wait_for_rows(
            journal,
            f"SELECT 1 FROM decisions WHERE bar_time LIKE '{MONDAY}%'",
            what="Monday's decision",
        )
        time.sleep(0.5)  # let an order that should not exist reach the broker
    finally:
        session.stop()
        t.join(30)
    assert result and not isinstance(result[0], BaseException), result
    with Journal(journal) as j:
        decisions = j.rows("decisions", SESSION)
        orders = j.rows("orders", SESSION)
        guards = j.rows("guard_events", SESSION)
    return session, lines, screen, held, decisions, orders, guards


def test_a_position_changed_behind_the_sessions_back_halts_that_symbol(
    live_config, gw_april, smtp_server
) -> None:
    _, box, _ = smtp_server
    smtp = tls_smtp(smtp_server)
    session, _, screen, held, _, orders, guards = _mismatch_run(live_config, gw_april, smtp, None)
    friday = [f"{SESSION}/spy_sma_paper/SPY/20240405"]
    assert [o["order_ref"] for o in orders] == friday  # Monday's -1 was not traded
    assert _session_refs(gw_april) == friday
    assert gw_april.state.book.positions["SPY"].quantity == 0  # no sale on a stale long
    assert [g["guard"] for g in guards][:1] == ["position_mismatch"]
    assert f"journal says {held:+g} shares, broker says +0" in guards[0]["detail"]
    assert any("not sent" in g["detail"] for g in guards[1:])
    assert "HALTED" in screen and "SPY: journal says" in screen  # on the dashboard
    assert any("position_mismatch" in str(m["Subject"]) for m in box.messages)  # mailed
    assert "SPY" in session.halted


def test_the_halt_lifts_once_the_broker_agrees_again(live_config, gw_april) -> None:
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw_april.port, "client_id": 53},
        session={"id": SESSION, "cancel_on_exit": False},
    )
    lines: list[str] = []
    session = LiveSession(cfg, echo=lines.append, install_signals=False)
    t, _ = run_in_thread(session)
    try:
        wait_for(lambda: _session_refs(gw_april), what="Friday's order")
        gw_april.advance(MONDAY_RTH)
        wait_for_rows(cfg.session.journal, "SELECT 1 FROM fills", what="the fill")
        held = gw_april.state.book.positions["SPY"].quantity
        _other_client_trades(gw_april, "SELL", held)
        gw_april.drop_clients()
        wait_for(lambda: "SPY" in session.halted, what="the halt")
        _other_client_trades(gw_april, "BUY", held)  # the account is back where it was
        wait_for(lambda: "SPY" not in session.halted, what="the halt to lift")
    finally:
        session.stop()
        t.join(30)
    assert any("SPY: positions agree again" in x for x in lines)


def test_adopt_takes_the_brokers_position_and_sizes_from_it(live_config, gw_april) -> None:
    session, _, screen, held, decisions, orders, guards = _mismatch_run(
        live_config, gw_april, None, "adopt"
    )
    assert "adopted the broker's +0" in guards[0]["detail"]
    assert session.halted == {} and "HALTED" not in screen
    monday = [d for d in decisions if d["bar_time"].startswith(MONDAY)]
    assert len(monday) == 1 and monday[0]["current_qty"] == 0  # sized from the broker's 0
    sale = next(o for o in orders if o["order_ref"].endswith("/20240408"))
    assert sale["action"] == "SELL" and sale["quantity"] == -monday[0]["target_qty"]
    assert sale["quantity"] < 2 * held  # not the stale long's sale plus the new short


def test_on_mismatch_is_checked(live_config) -> None:
    with pytest.raises(ConfigError, match=r"on_mismatch"):
        live_config(risk={"on_mismatch": "ignore"})
