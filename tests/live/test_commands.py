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

from tests.live._sessions import (
    held_gateway,
    journal_rows,
    run_in_thread,
    wait_for,
    wait_for_rows,
)
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
        # status lists them with their outcomes
        code, text = _cli(capsys, "status", "--journal", str(journal), SID)
        assert code == 0 and "manual commands (7; the newest 7)" in text, text
        assert f"cli modify {ref}: rejected: max_order" in text
        assert "cli cancel_all: expired: queued while the session was not running" in text


def sim_limit(gw: Any, ref: str) -> float:
    return float(next(o for o in gw.state.book.orders.values() if o.order_ref == ref).lmt_price)


def sim_quantity(gw: Any, ref: str) -> float:
    return float(next(o for o in gw.state.book.orders.values() if o.order_ref == ref).quantity)


def test_cli_steers_a_live_twap_parent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The session's own TWAP schedule (issue 17.3) steered from the CLI: paused before its
    window opens, nothing is sent while the clock passes the children's times; resumed, the
    missed children go out; cancelled, the parent ends 'cancelled' in the journal."""
    from tests.live.test_execution_parity import parent_config

    with held_gateway(start="2024-03-19 21:30") as gw:
        cfg = parent_config(
            tmp_path,
            'algo = "twap", end = "+30min", slices = 10',
            end="2024-03-20",
            extra=f'[connection]\nhost = "127.0.0.1"\nport = {gw.port}\nclient_id = 53\n',
        )
        journal = cfg.session.journal
        session = LiveSession(cfg, echo=None, install_signals=False, session_id="twap-cli")
        base = ("--journal", str(journal), "--session", "twap-cli", "--timeout", "60")
        children = "SELECT 1 FROM orders WHERE order_ref LIKE '%/c%'"
        thread, _ = run_in_thread(session)
        try:
            ((pid, qty),) = wait_for_rows(
                journal, "SELECT parent_ref, quantity FROM parents", what="the TWAP parent"
            )
            code, text = _cli(capsys, "pause", *base, "--parent", pid)
            assert code == 0 and f"schedule {pid} paused at 0 of {qty:g}" in text, text
            wait_for_rows(journal, "SELECT 1 FROM parents WHERE status = 'paused'", what="paused")
            assert "paused" in screen_of(session) and f"0/{qty:,.0f}" in screen_of(session)
            # the window opens and three children fall due: none is sent while paused
            gw.advance(pd.Timestamp("2024-03-20 13:38", tz="UTC") - gw.clock.now())
            wait_for(
                lambda: (
                    session.broker_now is not None
                    and session.broker_now >= pd.Timestamp("2024-03-20 13:38", tz="UTC")
                ),
                what="the session at 13:38",
            )
            code, text = _cli(capsys, "pause", *base, "--parent", pid)  # a poll later
            assert code == 1 and "already paused" in text
            assert not journal_rows(journal, children)
            code, text = _cli(capsys, "resume", *base, "--parent", pid)
            assert code == 0 and "resumed" in text, text
            wait_for(
                lambda: len(journal_rows(journal, children)) >= 3, what="the missed children sent"
            )
            gw.advance("1min")  # they fill; the dashboard shows the parent's progress
            fills = "SELECT SUM(shares) FROM fills"
            wait_for(lambda: journal_rows(journal, fills)[0][0], what="child fills")

            def progress() -> bool:
                filled = journal_rows(journal, fills)[0][0]
                return f"{filled:,.0f}/{qty:,.0f}" in screen_of(session)

            if not wait_for(progress, 30, "progress"):
                raise AssertionError(screen_of(session))
            code, text = _cli(capsys, "cancel", *base, "--parent", pid)
            assert code == 0 and f"schedule {pid} cancelled" in text, text
            wait_for_rows(
                journal, "SELECT 1 FROM parents WHERE status = 'cancelled'", what="cancelled"
            )
            sent = journal_rows(journal, children)
            gw.advance("30min")  # the rest of the window: no child after the cancel
            wait_for(
                lambda: (
                    session.broker_now is not None
                    and session.broker_now >= pd.Timestamp("2024-03-20 14:08", tz="UTC")
                ),
                what="the session past the window",
            )
            assert len(journal_rows(journal, children)) == len(sent)
        finally:
            session.stop()
            thread.join(60)


def screen_of(session: LiveSession) -> str:
    """The dashboard's text, rendered on the session's loop (its journal lives there)."""
    from toolkit.live.dashboard import render_text

    async def render() -> str:
        return render_text(session.view())

    loop = session._loop
    assert loop is not None
    return asyncio.run_coroutine_threadsafe(render(), loop).result(30)


def test_a_modify_the_broker_refuses_leaves_the_order_working_unchanged(
    live_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Our risk rules let it through (no max_order), the broker refuses it (IB's 201: margin):
    the command is rejected with IB's reason, and the journal, the local order and the
    strategy's books say the order works on as before -- ib_async took the refusal for the
    order's end, and the journal used to keep the refused quantity."""
    research = limit_research(tmp_path, max_order=1e12)
    with held_gateway() as gw:
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 54},
            strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
            session={"id": "refused", "cancel_on_exit": False},
        )
        journal = cfg.session.journal
        base = ("--journal", str(journal), "--session", "refused", "--timeout", "60")
        session = LiveSession(cfg, echo=None, install_signals=False)
        thread, _ = run_in_thread(session)
        try:
            ((ref, qty),) = wait_for_rows(
                journal,
                "SELECT order_ref, quantity FROM orders WHERE status = 'Submitted'",
                what="Friday's limit order to rest",
            )
            acted = dict(next(iter(session.sleeves.values())).acted)
            code, text = _cli(capsys, "modify", *base, "--order", ref, "--quantity", "100000")
            assert code == 1 and "rejected: IB refused it (201: " in text, text
            assert "the order works unchanged" in text
            assert sim_quantity(gw, ref) == qty
            wait_for_rows(
                journal,
                f"SELECT 1 FROM orders WHERE order_ref = '{ref}' AND quantity = {qty} "
                "AND status = 'Submitted'",
                what="the journal's order as the broker works it",
            )
            assert next(iter(session.sleeves.values())).acted == acted
            # still ours to cancel
            code, text = _cli(capsys, "cancel", *base, "--order", ref)
            assert code == 0, text
            wait_for_rows(
                journal,
                f"SELECT 1 FROM orders WHERE order_ref = '{ref}' AND status = 'Cancelled'",
                what="the cancel",
            )
        finally:
            session.stop()
            thread.join(60)
