"""A parent order survives a crash (issue 17.3): the bridge is killed -9 between journaling a
child and sending it, mid-parent; the restarted bridge sends that child once, the ones sent
before never again, and the rest at their times -- every child reaches the broker exactly
once. Also: the orderRef of a child names its parent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.live._sessions import (
    PATIENCE,
    held_gateway,
    journal_rows,
    start_bridge,
    stop_bridge,
    wait_for,
    wait_for_rows,
)
from tests.live.test_execution_parity import parent_config
from toolkit.live.journal import Journal
from toolkit.live.orders import OrderRef, is_bracket_leg

SESSION = "parent-restart"


def test_child_refs_name_their_parent() -> None:
    parent = OrderRef("s/1", "sma", "SPY", pd.Timestamp("2024-03-19", tz="UTC"))
    child = parent.sliced(7)
    assert str(child) == "s/1/sma/SPY/20240319/c7"
    assert OrderRef.parse(str(child)) == child and child.parent == parent
    assert child.slice == 7 and parent.slice is None and not is_bracket_leg(str(child))
    # a session id may end in something that looks like a child number: read from the right
    assert OrderRef.parse("a/c3/sma/SPY/20240319").session == "a/c3"


def test_kill_between_a_childs_journal_and_send_sends_every_child_once(tmp_path: Path) -> None:
    with held_gateway(start="2024-03-19 21:30") as gw:
        cfg = parent_config(
            tmp_path,
            'algo = "twap", end = "+30min", slices = 10',
            end="2024-03-20",
            extra=f"""[connection]
host = "127.0.0.1"
port = {gw.port}
client_id = 31
""",
        )
        journal = cfg.session.journal
        log = tmp_path / "bridge.log"
        # dies right after the third child is journaled, before placeOrder
        proc = start_bridge(cfg.source, log, fault="after-journal@3", session=SESSION)
        wait_for_rows(journal, "SELECT 1 FROM parents", what="the parent of Tuesday's decision")
        gw.advance(pd.Timestamp("2024-03-20 13:30", tz="UTC") - gw.clock.now())
        for k in range(1, 3):  # the clock to each child's minute: c1 at 13:33, c2 at 13:36
            wait_for_rows(
                journal,
                f"SELECT 1 FROM fills WHERE order_ref LIKE '%/c{k - 1}'",
                what=f"child {k - 1} filled",
            )
            gw.advance("3min")
        assert proc.wait(PATIENCE) == 137, log.read_text()
        rows = journal_rows(journal, "SELECT order_ref, status FROM orders ORDER BY order_ref")
        assert [(r.rsplit("/", 1)[1], s) for r, s in rows] == [
            ("c0", "Filled"),
            ("c1", "Filled"),
            ("c2", "PendingSubmit"),
        ]
        assert sorted(o.order_ref.rsplit("/", 1)[1] for o in gw.state.book.orders.values()) == [
            "c0",
            "c1",
        ]

        proc = start_bridge(cfg.source, log, session=SESSION)
        wait_for_rows(
            journal,
            "SELECT 1 FROM fills WHERE order_ref LIKE '%/c2'",
            what="the journaled child sent after the restart",
        )
        for _ in range(7):  # c3 .. c9, one every 3 minutes
            gw.advance("3min")
            n = len(journal_rows(journal, "SELECT 1 FROM fills"))
            wait_for(
                lambda n=n: len(journal_rows(journal, "SELECT 1 FROM fills")) > n,
                what="the next child's fill",
            )
        wait_for_rows(
            journal, "SELECT 1 FROM parents WHERE status = 'done'", what="the parent done"
        )
        stop_bridge(proc, log)
        out = log.read_text()
        assert "resumed parent orders" in out and "resending" in out

        refs = [o.order_ref for o in gw.state.book.orders.values()]
        assert len(refs) == len(set(refs)) == 10  # every child once, none lost
        with Journal(journal) as j:
            children = j.rows("parent_children")
            parent = j.rows("parents", SESSION)[0]
            fills = j.rows("fills", SESSION)
        assert sorted(refs) == sorted(c["order_ref"] for c in children)
        assert (
            sum(f["shares"] for f in fills)
            == parent["quantity"]
            == sum(c["quantity"] for c in children)
        )
        # each child filled in its own minute, before and after the crash
        assert [
            pd.Timestamp(f["ts"]).floor("min") for f in sorted(fills, key=lambda f: f["ts"])
        ] == [pd.Timestamp(c["ts"]) for c in children]


def test_pause_holds_the_children_resume_sends_the_missed_ones_cancel_stops(
    tmp_path: Path,
) -> None:
    """In a rehearsal, steered as the dashboard and the CLI do: a 60-child VWAP paused after
    its third fill sends nothing while paused; resumed ten minutes later it sends the children
    it missed at the next minute, then the others at their minutes; cancelled five minutes
    after that it sends no more. The states are journaled and the parent ends cancelled with
    what it filled. (The steering runs between the session's passes, whenever its loop gets
    to it: the checks are relative to the broker time each step was taken at.)"""
    import asyncio

    from toolkit.live.bridge import LiveSession

    cfg = parent_config(
        tmp_path, 'algo = "vwap", end = "+60min", lookback = 5', end="2024-03-20 14:35"
    )
    marks: dict[str, pd.Timestamp] = {}
    seen: list[str] = []

    def steer(s: LiveSession) -> None:
        if not s.parents or s.broker_now is None:
            return
        p = next(iter(s.parents.values()))
        now = s.broker_now
        if "paused" not in marks and sum(c.filled > 0 for c in p.children) >= 3:
            p.pause()
            marks["paused"] = now
            seen.append(p.status)
        elif "paused" in marks and "resumed" not in marks and now >= marks["paused"] + TEN:
            p.resume()
            marks["resumed"] = now
            seen.append(p.status)
        elif "resumed" in marks and "cancelled" not in marks and now >= marks["resumed"] + FIVE:
            p.cancel()
            marks["cancelled"] = now
            seen.append(p.status)

    session = LiveSession(cfg, echo=None, install_signals=False)
    summary = asyncio.run(session.run(on_tick=steer))
    assert seen == ["paused", "working", "cancelled"]
    with Journal(cfg.session.journal) as j:
        parent = j.rows("parents", summary.session_id)[0]
        children = pd.DataFrame(j.rows("parent_children"))
        orders = {o["order_ref"] for o in j.rows("orders", summary.session_id)}
        fills = pd.DataFrame(j.session_fills(summary.session_id))
    assert parent["status"] == "cancelled"
    p = session.parents[parent["parent_ref"]]
    assert p.status == "cancelled" and p.progress == (fills["shares"].sum(), parent["quantity"])
    assert 0 < fills["shares"].sum() < parent["quantity"]
    filled_at = dict(zip(fills["order_ref"], pd.to_datetime(fills["ts"]), strict=True))
    paused, resumed, cancelled = marks["paused"], marks["resumed"], marks["cancelled"]
    assert pd.Timestamp("2024-03-20 13:32", tz="UTC") <= paused < resumed < cancelled
    assert cancelled < pd.Timestamp(parent["window_end"]) - FIVE
    missed = []
    for ref, t in zip(children["order_ref"], pd.to_datetime(children["ts"]), strict=True):
        if t > cancelled:
            assert ref not in orders  # never sent after the cancel
        elif paused < t <= resumed:
            missed.append(filled_at[ref])  # held while paused
        else:
            assert filled_at[ref] == t  # at its minute
    assert len(missed) >= 5 and len(set(missed)) == 1  # all at once, after the resume
    assert resumed.floor("min") <= missed[0] <= resumed.floor("min") + pd.Timedelta("1min")


TEN, FIVE = pd.Timedelta("10min"), pd.Timedelta("5min")


def test_a_window_over_before_its_children_went_out_sends_none_late(tmp_path: Path) -> None:
    """The desk on a real journal and ledger, its clock moved by hand: children go at their
    minutes; after a gap past the window's end (the session was down), what was not sent is
    not sent late -- the parent ends cancelled with what it filled, and the strategy may
    order the rest at its next decision. A decision after the window is not worked at all."""
    import math

    from toolkit.live._fault import Faults
    from toolkit.live._ledger import Ledger
    from toolkit.live._parent_desk import ParentDesk
    from toolkit.live._startup import books
    from toolkit.live.sleeve import Decision, Intent, Outcome

    cfg = parent_config(tmp_path, 'algo = "twap", start = "09:30", end = "10:00", slices = 10')
    slot = cfg.strategies[0]
    lines: list[str] = []
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.start_session("s", mode="simulated", account="DU1", config={})
        ledger = Ledger(journal, "s", books(cfg), Faults())
        desk = ParentDesk(cfg, ledger, {}, lines.append, lambda refs: refs)
        bar = pd.Timestamp("2024-03-19", tz="UTC")
        o = Outcome(
            "SPY", 1.0, 500.0, 100.0, 0.0, Decision.ORDER, (), Intent("SPY", 100.0, 1.0, 500.0)
        )
        did = ledger.journal_decision(slot.label, o, bar, False)
        ref = OrderRef("s", slot.label, "SPY", bar)
        p = desk.open_parent(slot, o, ref, did, pd.Timestamp("2024-03-19 21:30", tz="UTC"))
        assert (
            p is not None and len(p.children) == 10 and desk.pending(slot.label) == {"SPY": 100.0}
        )
        assert desk.work(pd.Timestamp("2024-03-20 13:29", tz="UTC")) == []
        first = desk.work(pd.Timestamp("2024-03-20 13:30", tz="UTC"))
        assert [s.ref for s in first] == [f"{ref}/c0"] and first[0].tif == "DAY"
        assert desk.pending(slot.label) == {"SPY": 90.0}  # c0 is a working order now
        # the session was down from 13:31 to 14:05: nothing goes out after the window
        assert desk.work(pd.Timestamp("2024-03-20 14:05", tz="UTC")) == []
        assert p.status == "cancelled" and p.pending == 0 and desk.pending(slot.label) == {}
        assert any("window is over; 90 shares not sent" in x for x in lines)
        assert [r["status"] for r in journal.rows("parents")] == ["cancelled"]
        assert [r["order_ref"] for r in journal.rows("orders")] == [f"{ref}/c0"]
        assert ledger.sleeves[slot.label].acted["SPY"] == 1.0  # c0 may still fill
        # c0 fills (as the ledger journals a broker's fill): the parent is over, 10 of 100
        c0 = f"{ref}/c0"
        journal.record_fill(exec_id="e1", order_ref=c0, symbol="SPY", side="BOT", shares=10.0,
                            price=500.0)  # fmt: skip
        journal.record_order_status(c0, status="Filled", filled=10.0, remaining=0.0,
                                    avg_fill_price=500.0)  # fmt: skip
        assert desk.work(pd.Timestamp("2024-03-20 14:06", tz="UTC")) == []
        assert p.progress == (10.0, 100) and "cancelled: 10/100 SPY" in lines[-1]
        assert math.isnan(ledger.sleeves[slot.label].acted["SPY"])  # decided again next bar
        # a decision at 10:30 with a 09:30-10:00 window: not worked, decided again
        late = desk.open_parent(
            slot, o, OrderRef("s", slot.label, "SPY", bar + pd.Timedelta("1D")), did,
            pd.Timestamp("2024-03-20 14:30", tz="UTC"),
        )  # fmt: skip
        assert late is None and "is over" in lines[-1]
