"""Manual commands to a running session (issue 17, item 5) through the real CLI code path:
modify a resting limit order (and a modify the max_order rule refuses), cancel it, refuse an
unknown schedule, trigger the kill switch; every outcome journaled; a command queued while
the session was down is expired with its reason when it resumes, never executed. Real
gateway (its clock held at a Friday close, so the limit orders rest), real ib_async bridge,
real SQLite journal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.live._sessions import held_gateway, run_in_thread, wait_for, wait_for_rows
from tests.live.conftest import PAPER
from toolkit.app.live import main
from toolkit.live.bridge import LiveSession
from toolkit.live.commands import session_running, submit
from toolkit.live.journal import Journal

SID = "cmd-test"


def limit_research(tmp: Path, max_order: float = 200_000.0) -> Path:
    """The paper strategy with limit orders 50 bp from the close and a max_order limit."""
    research = tmp / "limit.toml"
    research.write_text(
        PAPER.read_text()
        .replace('order_type = "market"', 'order_type = "limit"\norder_offset_bps = 50.0')
        .replace("[risk]\n", f"[risk]\nmax_order = {max_order}\n")
    )
    return research


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cli_commands_modify_cancel_kill_and_expire_after_restart(
    live_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    research = limit_research(tmp_path)
    with held_gateway() as gw:
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 51},
            strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
            session={"id": SID, "cancel_on_exit": False},
        )
        journal = cfg.session.journal
        base = ("--journal", str(journal), "--session", SID, "--timeout", "60")
        session = LiveSession(cfg, echo=None, install_signals=False)
        thread, _ = run_in_thread(session)
        try:
            (ref, qty, px), *_ = wait_for_rows(
                journal,
                "SELECT order_ref, quantity, limit_price FROM orders WHERE status = 'Submitted'",
                what="Friday's limit order to rest",
            )
            assert session_running(journal, SID)
            # a new limit price: journaled, and the broker works the order at it
            new_px = round(px - 1.0, 2)
            code, text = _cli(capsys, "modify", *base, "--order", ref, "--price", str(new_px))
            assert code == 0, text
            assert "done: modify sent" in text and f"limit {px:g} -> {new_px:g}" in text
            with Journal(journal) as j:
                order = j.order(ref)
                assert order is not None and order.limit_price == new_px
                events = [e["message"] for e in j.rows("order_events", SID)]
            assert any("modified by command #" in m and "(cli)" in m for m in events)
            sim = next(o for o in gw.state.book.orders.values() if o.order_ref == ref)
            wait_for(lambda: sim_limit(gw, ref) == new_px, 30, "the broker's new limit")
            # a quantity the max_order rule refuses (as it would a new order): not sent
            code, text = _cli(capsys, "modify", *base, "--order", ref, "--quantity", str(qty * 4))
            assert code == 1 and "rejected: max_order" in text, text
            assert sim_quantity(gw, ref) == qty
            with Journal(journal) as j:
                order = j.order(ref)
                assert order is not None and order.quantity == qty
                guards = [g["guard"] for g in j.rows("guard_events", SID)]
            assert "max_order" in guards
            # a schedule that does not exist, an order that is not ours: a reason, exit 1
            code, text = _cli(capsys, "pause", *base, "--parent", "nope")
            assert code == 1 and "not a schedule parent" in text, text
            code, text = _cli(capsys, "cancel", *base, "--order", "XYZ")
            assert code == 1 and "not a working order" in text, text
            # cancel it, by its broker order id
            code, text = _cli(capsys, "cancel", *base, "--order", str(sim.order_id))
            assert code == 0 and f"cancel sent for {ref}" in text, text
            wait_for_rows(
                journal,
                f"SELECT 1 FROM orders WHERE order_ref = '{ref}' AND status = 'Cancelled'",
                what="the cancel",
            )
            # the kill switch: confirmed by --yes, journaled as a guard event; every strategy
            # is then halted and flat, so the session ends by itself
            code, text = _cli(capsys, "kill", *base, "--yes")
            assert code == 0 and "kill switch fired for" in text, text
            assert all(s.killed == "manual_kill" for s in session.sleeves.values())
            thread.join(60)
            assert any("halted by its kill switch and flat" in e for e in session.events)
        finally:
            session.stop()
            thread.join(60)
        assert not session_running(journal, SID)
        # the session is down: the CLI refuses, naming why; a row queued anyway is expired
        with pytest.raises(SystemExit) as down:
            raise SystemExit(main(["cancel", "--all", *base]))
        assert down.value.code == 2
        assert "is not running" in capsys.readouterr().err
        with Journal(journal) as j:
            stale = submit(j, SID, "cancel_all")
        again = LiveSession(cfg, echo=None, install_signals=False)
        thread, _ = run_in_thread(again)
        try:
            wait_for_rows(
                journal,
                f"SELECT 1 FROM commands WHERE command_id = {stale} AND status = 'expired'",
                what="the stale command to expire",
            )
            # the kill switch survived the restart
            wait_for(lambda: again.sleeves, 60, "the books")
            assert all(s.killed == "manual_kill" for s in again.sleeves.values())
        finally:
            again.stop()
            thread.join(60)
        with Journal(journal) as j:
            rows = {c["command_id"]: c for c in j.rows("commands", SID)}
        assert "not running" in rows[stale]["outcome"]
        statuses = [c["status"] for c in rows.values()]
        assert statuses == ["done", "rejected", "rejected", "rejected", "done", "done", "expired"]
        assert all(c["source"] == "cli" for c in rows.values())


def sim_limit(gw: Any, ref: str) -> float:
    return float(next(o for o in gw.state.book.orders.values() if o.order_ref == ref).lmt_price)


def sim_quantity(gw: Any, ref: str) -> float:
    return float(next(o for o in gw.state.book.orders.values() if o.order_ref == ref).quantity)


def test_cli_pauses_resumes_and_cancels_a_schedule_parent(
    live_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A schedule parent in ``LiveSession.parents`` (the dict the session's schedules fill):
    pause, a second pause refused, resume, cancel; the dashboard shows its progress."""
    from toolkit.live._parent import Child, ParentOrder

    research = limit_research(tmp_path)
    with held_gateway() as gw:
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 52},
            strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
            session={"id": "parents", "cancel_on_exit": False},
        )
        journal = cfg.session.journal
        base = ("--journal", str(journal), "--session", "parents", "--timeout", "60")
        session = LiveSession(cfg, echo=None, install_signals=False)
        thread, _ = run_in_thread(session)
        try:
            wait_for_rows(journal, "SELECT 1 FROM orders", what="the session to trade")
            t0 = pd.Timestamp("2023-03-13 14:30", tz="UTC")
            pid = "parents/spy_sma_paper/SPY/20230310"
            parent = ParentOrder(
                pid, "spy_sma_paper", "SPY", "BUY", 300, "twap", t0, t0,
                t0 + pd.Timedelta("30min"),
                [Child(k, f"{pid}/c{k}", t0 + pd.Timedelta(minutes=10 * k), 100, "MKT")
                 for k in range(3)],
            )  # fmt: skip
            parent.children[0].journaled, parent.children[0].filled = True, 100.0
            loop = session._loop
            assert loop is not None
            loop.call_soon_threadsafe(session.parents.__setitem__, pid, parent)
            screen = wait_for(lambda: "100/300" in (x := screen_of(session)) and x, 30, "it shown")
            assert "Schedules" in screen and "100/300" in screen and "working" in screen
            code, text = _cli(capsys, "pause", *base, "--parent", pid)
            assert code == 0 and f"schedule {pid} paused at 100 of 300" in text, text
            assert parent.paused and parent.due(t0 + pd.Timedelta("1h")) == []
            assert "paused" in screen_of(session)
            code, text = _cli(capsys, "pause", *base, "--parent", pid)
            assert code == 1 and "already paused" in text, text
            code, text = _cli(capsys, "resume", *base, "--parent", pid)
            assert code == 0 and "resumed at 100 of 300" in text, text
            assert not parent.paused
            code, text = _cli(capsys, "cancel", *base, "--parent", pid)
            assert code == 0 and "cancelled at 100 of 300" in text, text
            assert parent.cancelled and parent.pending == 0
            code, text = _cli(capsys, "resume", *base, "--parent", pid)
            assert code == 1 and "is cancelled" in text, text
        finally:
            session.stop()
            thread.join(60)
        with Journal(journal) as j:
            rows = j.rows("commands", "parents")
        assert [(c["action"], c["status"]) for c in rows] == [
            ("pause", "done"),
            ("pause", "rejected"),
            ("resume", "done"),
            ("cancel", "done"),
            ("resume", "rejected"),
        ]


def screen_of(session: LiveSession) -> str:
    """The dashboard's text, rendered on the session's loop (its journal lives there)."""
    from toolkit.live.dashboard import render_text

    async def render() -> str:
        return render_text(session.view())

    loop = session._loop
    assert loop is not None
    return asyncio.run_coroutine_threadsafe(render(), loop).result(30)
