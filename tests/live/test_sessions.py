"""Several sessions on one journal: each gateway instance starts its execution ids afresh in
the old simulator, and a journal keyed by execId alone silently dropped every fill of the
second session (issue 11, item 1). Real gateway, real ib_async bridge, one SQLite file."""

from __future__ import annotations

from typing import Any

from tests.live._sessions import held_gateway, run_in_thread, wait_for, wait_for_rows
from toolkit.gateway import Gateway
from toolkit.live.bridge import LiveSession
from toolkit.live.journal import Journal


def _run(cfg: Any) -> tuple[str, Gateway]:
    """One embedded session to its end; returns its id and the (stopped) simulator."""
    import asyncio

    seen: list[Gateway] = []

    def grab(s: LiveSession) -> None:
        if s.gateway is not None and not seen:
            seen.append(s.gateway)

    session = LiveSession(cfg, echo=None, install_signals=False)
    summary = asyncio.run(session.run(on_tick=grab))
    assert seen, "the session never ticked"
    return summary.session_id, seen[0]


def test_two_paper_sessions_on_one_journal_keep_every_fill(live_config) -> None:
    cfg = live_config(
        simulator={"start": "2023-01-03 21:30", "end": "2023-04-28", "speed": 8_640_000.0},
    )
    first, gw1 = _run(cfg)
    second_cfg = live_config(
        simulator={"start": "2023-01-03 21:30", "end": "2023-04-28", "speed": 8_640_000.0},
        session={"id": "second"},
    )
    second, gw2 = _run(second_cfg)
    assert first != second
    with Journal(cfg.session.journal) as j:
        for sid, gw in ((first, gw1), (second, gw2)):
            broker = sorted(
                (f.exec_id, f.order.order_ref, f.shares, f.price) for f in gw.state.book.fills
            )
            journaled = sorted(
                (f["exec_id"], f["order_ref"], f["shares"], f["price"])
                for f in j.session_fills(sid)
            )
            assert len(broker) >= 2
            assert journaled == broker, f"session {sid} lost fills"
            # every order the broker reported Filled has its fills journaled
            for o in j.rows("orders", sid):
                got = sum(f[2] for f in journaled if f[1] == o["order_ref"])
                if o["status"] == "Filled":
                    assert got == o["quantity"]
            # reconciled: the session's net position is the broker's
            held = gw.state.book.positions.get("SPY")
            assert j.net_position(sid, "SPY") == (held.quantity if held else 0.0)
        # the two gateway instances never reused an execution id
        ids = [f["exec_id"] for f in j.rows("fills")]
        assert len(ids) == len(set(ids))
        assert not [g for g in j.rows("guard_events") if g["guard"] == "fill_refused"]


def test_a_fill_the_journal_refuses_is_loud(live_config) -> None:
    """An execution the broker reports again with other content is refused -- and said so in
    the log, the journal's guard events and the dashboard (and mailed, as every guard is);
    never dropped in silence."""
    import dataclasses

    from toolkit.live.dashboard import render_text

    with held_gateway() as gw:
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 31},
            session={"id": "loud", "cancel_on_exit": False},
        )
        session = LiveSession(cfg, echo=None, install_signals=False)
        journal = cfg.session.journal
        thread, _ = run_in_thread(session)
        try:
            wait_for(lambda: gw.state.book.orders, what="the first order")
            gw.advance("3D")  # it fills at Monday's open
            wait_for_rows(journal, "SELECT 1 FROM fills", what="the fill")
            # the broker now reports that execution at another price (a reused id)
            gw.state.book.fills[0] = dataclasses.replace(
                gw.state.book.fills[0], price=gw.state.book.fills[0].price + 1.0
            )
            gw.drop_clients()  # the reconnect replays every execution
            wait_for_rows(
                journal,
                "SELECT 1 FROM guard_events WHERE guard = 'fill_refused'",
                what="the refusal",
            )
            line = next(e for e in session.events if "GUARD fill_refused" in e)
            assert "refused" in line and "@" in line  # what the broker said, and what we hold
            assert "GUARD fill_refused" in render_text(_view_events(session))  # the dashboard
        finally:
            session.stop()
            thread.join(30)
        with Journal(cfg.session.journal) as j:
            (fill,) = j.rows("fills", "loud")
            assert fill["price"] == gw.state.book.fills[0].price - 1.0  # the first record kept


def _view_events(session: LiveSession) -> Any:
    from toolkit.live.session_view import SessionView

    return SessionView("loud", "paper", "", "", True, None, events=list(session.events)[-8:])
