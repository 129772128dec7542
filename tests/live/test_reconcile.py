"""What the broker says wins: a cancel that loses the race against a fill is not a rejection,
and a position changed behind the session's back stops (or is adopted by) that symbol."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.report.conftest import PASSWORD, USER
from toolkit.engine.commissions import ibkr_fixed
from toolkit.gateway import Gateway
from toolkit.gateway.orders import DONE
from toolkit.live.bridge import LiveSession
from toolkit.live.journal import Journal
from toolkit.report.alerts import SmtpSettings

SESSION = "reconcile-test"
FRIDAY_REF = f"{SESSION}/spy_sma_paper/SPY/20230310"


@pytest.fixture()
def gw() -> Iterator[Gateway]:
    # Friday 2023-03-10 after the close; the clock barely moves, the tests move it
    g = Gateway(
        port=0, start="2023-03-10 21:30", speed=1.0, participation=0.0, commission=ibkr_fixed()
    ).start()
    try:
        yield g
    finally:
        g.stop()


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def _wait(cond: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _run(session: LiveSession) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def work() -> None:
        try:
            result.append(asyncio.run(session.run()))
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=work)
    t.start()
    return t, result


def _broker_order(gw: Gateway, ref: str) -> Any:
    return next((o for o in gw.state.book.orders.values() if o.order_ref == ref), None)


def test_a_cancel_that_loses_the_race_to_a_fill_is_not_a_rejection(
    live_config, gw, smtp_server
) -> None:
    port, box, tls = smtp_server
    smtp = SmtpSettings(
        "127.0.0.1",
        port,
        True,
        USER,
        PASSWORD,
        "t@example.test",
        ("x@example.test",),
        tls_context=tls,
    )
    cfg = live_config(
        connection={"host": "127.0.0.1", "port": gw.port, "client_id": 51},
        session={"id": SESSION, "cancel_on_exit": False},
    )
    lines: list[str] = []
    session = LiveSession(cfg, echo=lines.append, install_signals=False, alerts=smtp)
    t, result = _run(session)
    journal = cfg.session.journal
    try:
        _wait(
            lambda: _query(journal, "SELECT 1 FROM orders WHERE status = 'Submitted'"),
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
        _wait(
            lambda: _query(journal, "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-13%'"),
            what="Monday's decision",
        )
        _wait(lambda: any("10147" in x for x in lines), what="IB's 10147 for the late cancel")
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
