"""The SQLite journal: idempotent keys, atomic transactions, migrations, survival of kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.live.conftest import PAPER
from toolkit.live import SCHEMA_VERSION, Journal, JournalError

SESSION = "paper-20240314"


def _journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "state" / "journal.sqlite")
    j.start_session(SESSION, mode="paper", account="DU123", config={"symbols": ["SPY"]})
    return j


def _order(j: Journal, ref: str, qty: float = 10.0) -> bool:
    return j.record_order(
        SESSION, order_ref=ref, symbol="SPY", action="BUY", quantity=qty, order_type="MKT"
    )


def test_new_file_is_created_at_current_schema(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        assert j.schema_version == SCHEMA_VERSION >= 1
        assert (tmp_path / "state" / "journal.sqlite").exists()


def test_order_ref_is_recorded_once(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        assert _order(j, "sma-SPY-2024-03-14T15:59")
        assert not _order(j, "sma-SPY-2024-03-14T15:59", qty=99.0)
        order = j.order("sma-SPY-2024-03-14T15:59")
        assert order is not None and order.quantity == 10.0 and order.status == "PendingSubmit"
        assert len(j.rows("orders", SESSION)) == 1


def test_status_events_and_open_orders(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        _order(j, "a")
        _order(j, "b")
        j.record_order_status(
            "a", status="Submitted", filled=0, remaining=10, avg_fill_price=0, broker_order_id=7
        )
        j.record_order_status("b", status="Filled", filled=10, remaining=0, avg_fill_price=500.0)
        assert [o.order_ref for o in j.open_orders(SESSION)] == ["a"]
        a = j.order("a")
        assert a is not None and a.broker_order_id == 7 and a.status == "Submitted"
        assert [e["status"] for e in j.rows("order_events", SESSION)] == ["Submitted", "Filled"]


def test_fills_are_idempotent_and_commissions_attach(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        _order(j, "a")
        fill = dict(
            exec_id="0001.01", order_ref="a", symbol="SPY", side="BOT", shares=10.0, price=512.25
        )
        assert j.record_fill(**fill)  # type: ignore[arg-type]
        assert not j.record_fill(**fill)  # type: ignore[arg-type]
        j.record_commission("0001.01", 1.0)
        (row,) = j.rows("fills", SESSION)
        assert row["commission"] == 1.0 and row["price"] == 512.25
        assert j.net_position(SESSION, "SPY") == 10.0
        with pytest.raises(JournalError, match="unknown execution 'nope'"):
            j.record_commission("nope", 1.0)


def test_fill_for_unknown_order_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with _journal(tmp_path) as j, pytest.raises(JournalError, match="refused to record"):
        j.record_fill(
            exec_id="x", order_ref="never-sent", symbol="SPY", side="BOT", shares=1.0, price=1.0
        )
    with Journal(tmp_path / "state" / "journal.sqlite") as j:
        assert j.rows("fills") == []


def test_transaction_rolls_back_every_row_on_error(tmp_path: Path) -> None:
    with _journal(tmp_path) as j:
        with pytest.raises(RuntimeError), j.transaction():
            _order(j, "a")
            j.record_order_status("a", status="Submitted", filled=0, remaining=10, avg_fill_price=0)
            raise RuntimeError("crash between writes")
        assert j.rows("orders") == [] and j.rows("order_events") == []
        _order(j, "a")  # the journal is still usable
        assert len(j.rows("orders")) == 1


def test_resuming_a_session_needs_the_same_config(tmp_path: Path) -> None:
    _journal(tmp_path).close()
    with Journal(tmp_path / "state" / "journal.sqlite") as j:
        j.start_session(SESSION, mode="paper", account="DU123", config={"symbols": ["SPY"]})
        with pytest.raises(JournalError, match="different config"):
            j.start_session(SESSION, mode="paper", account="DU123", config={"symbols": ["QQQ"]})


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError, match="newer than this toolkit"):
        Journal(path)


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="not a readable journal"):
        Journal(path)


def test_processes_opening_a_new_journal_together_all_get_it(tmp_path: Path) -> None:
    """Two sessions started at once on one config's journal: each open waits for the other's
    migration (it read the schema version before the other wrote it) and for the switch to
    WAL, which sqlite refuses at once while another connection holds the file; before, most
    opens in a race failed with "table sessions already exists" or "database is locked" and
    the advice to move the journal aside."""
    script = textwrap.dedent("""
        import sys
        from toolkit.live import Journal
        print("ready", flush=True)
        sys.stdin.readline()  # released together
        with Journal(sys.argv[1]) as j:
            print(j.schema_version, flush=True)
    """)
    for round_ in range(3):
        path = tmp_path / f"round{round_}" / "journal.sqlite"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            assert out.strip() == str(SCHEMA_VERSION)


def test_a_journal_locked_too_long_is_named_as_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding a new journal's lock past the wait: the message says so and
    that the file is fine (never "move it aside", which would orphan that process's rows)."""
    import toolkit.live.journal as journal_module

    monkeypatch.setattr(journal_module, "LOCK_WAIT", 0.3)
    path = tmp_path / "journal.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(JournalError, match="held the journal's lock") as caught:
            Journal(path)
        assert "move it aside" not in str(caught.value)
        assert str(path) in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Journal(path) as j:  # released: it opens
        assert j.schema_version == SCHEMA_VERSION


def test_unknown_table_is_named(tmp_path: Path) -> None:
    with _journal(tmp_path) as j, pytest.raises(JournalError, match="'trades'"):
        j.rows("trades")


def test_rows_survive_kill_9(tmp_path: Path) -> None:
    """A writer killed with SIGKILL loses nothing it had committed."""
    path = tmp_path / "j.sqlite"
    script = textwrap.dedent(f"""
        import os, sys
        from toolkit.live import Journal
        j = Journal({str(path)!r})
        j.start_session("s", mode="paper", account="DU1", config={{}})
        for i in range(200):
            j.record_order("s", order_ref=f"o{{i}}", symbol="SPY", action="BUY",
                           quantity=1.0, order_type="MKT")
            j.record_fill(exec_id=f"e{{i}}", order_ref=f"o{{i}}", symbol="SPY", side="BOT",
                          shares=1.0, price=100.0 + i)
        print("written", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with Journal(path) as j:
        assert len(j.rows("orders", "s")) == 200
        assert len(j.rows("fills", "s")) == 200
        assert j.net_position("s", "SPY") == 200.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BOT", "SLD"]), st.integers(1, 500)), max_size=30))
def test_replayed_executions_never_double_count(
    tmp_path_factory: pytest.TempPathFactory, fills: list[tuple[str, int]]
) -> None:
    path = tmp_path_factory.mktemp("j") / "j.sqlite"
    with Journal(path) as j:
        j.start_session("s", mode="paper", account="DU1", config={})
        j.record_order(
            "s", order_ref="o", symbol="SPY", action="BUY", quantity=1.0, order_type="MKT"
        )
        for replay in range(2):  # the second pass is IB re-sending executions after a restart
            for i, (side, shares) in enumerate(fills):
                new = j.record_fill(
                    exec_id=f"e{i}",
                    order_ref="o",
                    symbol="SPY",
                    side=side,
                    shares=float(shares),
                    price=100.0,
                )
                assert new == (replay == 0)
        expected = sum(s if side == "BOT" else -s for side, s in fills)
        assert j.net_position("s", "SPY") == expected


def test_a_version_1_journal_is_upgraded_in_place(tmp_path: Path) -> None:
    from toolkit.live.journal import _MIGRATIONS

    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[0])
    db.execute(
        "INSERT INTO sessions VALUES ('old', '2024-01-01T00:00:00', NULL, 'paper', 'DU1', '{}')"
    )
    db.execute(
        "INSERT INTO equity (session_id, ts, net_liquidation, cash, realized_pnl, "
        "unrealized_pnl) VALUES ('old', '2024-01-01', 1.0, 1.0, 0.0, 0.0)"
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION
        assert j.rows("equity", "old")[0]["strategy"] is None  # old rows kept, new column empty
        j.record_equity(
            "old", net_liquidation=2.0, cash=2.0, realized_pnl=0.0, unrealized_pnl=0.0, strategy="a"
        )
        j.record_guard("old", guard="max_order", detail="x", strategy="a")
        assert [e["strategy"] for e in j.rows("equity", "old")] == [None, "a"]
        assert j.rows("guard_events", "old")[0]["strategy"] == "a"


def test_a_version_2_journal_keeps_its_fills_under_the_new_key(tmp_path: Path) -> None:
    from toolkit.live.journal import _MIGRATIONS

    path = tmp_path / "v2.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[0] + _MIGRATIONS[1])
    db.execute("INSERT INTO sessions VALUES ('old', '2024', NULL, 'paper', 'DU1', '{}')")
    db.execute(
        "INSERT INTO orders (order_ref, session_id, ts, symbol, action, quantity, order_type) "
        "VALUES ('o', 'old', '2024', 'SPY', 'BUY', 10, 'MKT')"
    )
    db.execute(
        "INSERT INTO fills VALUES ('000100000001.01', 'o', '2024', 'SPY', 'BOT', 10, 5.0, 1.0)"
    )
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION
        (row,) = j.rows("fills", "old")
        assert (row["exec_id"], row["shares"], row["commission"]) == ("000100000001.01", 10, 1.0)
        assert not j.record_fill(
            exec_id="000100000001.01", order_ref="o", symbol="SPY", side="BOT", shares=10,
            price=5.0,
        )  # fmt: skip


def test_an_execution_id_reused_by_another_session_is_kept(tmp_path: Path) -> None:
    """Issue 11, item 1: a restarted simulator reused execution ids and the second session's
    fills were dropped as replays of the first's."""
    with _journal(tmp_path) as j:
        j.start_session("second", mode="paper", account="DU123", config={"symbols": ["SPY"]})
        _order(j, "first-order")
        j.record_order(
            "second", order_ref="second-order", symbol="SPY", action="BUY", quantity=10.0,
            order_type="MKT",
        )  # fmt: skip
        fill = dict(exec_id="000100000001.01", symbol="SPY", side="BOT", shares=10.0, price=5.0)
        assert j.record_fill(order_ref="first-order", **fill)  # type: ignore[arg-type]
        assert j.record_fill(order_ref="second-order", **fill)  # type: ignore[arg-type]
        assert not j.record_fill(order_ref="second-order", **fill)  # type: ignore[arg-type]
        assert j.net_position(SESSION, "SPY") == j.net_position("second", "SPY") == 10.0
        j.record_commission("000100000001.01", 1.5, order_ref="second-order")
        assert j.fill_commission("000100000001.01", "second-order") == 1.5
        assert j.fill_commission("000100000001.01", "first-order") is None
        with pytest.raises(JournalError, match="ambiguous execution"):
            j.record_commission("000100000001.01", 1.0)


def test_an_execution_that_changes_content_is_refused_loudly(tmp_path: Path) -> None:
    from toolkit.live import FillConflict

    with _journal(tmp_path) as j:
        _order(j, "a")
        fill = dict(exec_id="e1", order_ref="a", symbol="SPY", side="BOT", shares=10.0)
        assert j.record_fill(price=5.0, **fill)  # type: ignore[arg-type]
        with pytest.raises(FillConflict, match=r"e1.*'a'.*BOT 10 SPY @ 5.*@ 6"):
            j.record_fill(price=6.0, **fill)  # type: ignore[arg-type]
        assert len(j.rows("fills")) == 1


def test_the_journal_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Issue 12, item 15: it holds the account id and every trade."""
    old = os.umask(0o022)
    try:
        with _journal(tmp_path) as j:
            _order(j, "a")
            files = [j.path, Path(f"{j.path}-wal"), Path(f"{j.path}-shm")]
            assert all(f.exists() for f in files)
            assert [oct(f.stat().st_mode & 0o777) for f in files] == ["0o600"] * 3
        # a journal an older toolkit left world-readable is tightened when opened
        legacy = tmp_path / "legacy.sqlite"
        Journal(legacy).close()
        legacy.chmod(0o644)
        Journal(legacy).close()
        assert oct(legacy.stat().st_mode & 0o777) == "0o600"
    finally:
        os.umask(old)


def test_resuming_names_what_changed_and_ignores_keys_it_never_recorded(tmp_path: Path) -> None:
    _journal(tmp_path).close()  # recorded {"symbols": [...]}, as a toolkit before client_id
    with Journal(tmp_path / "state" / "journal.sqlite") as j:
        j.start_session(
            SESSION, mode="paper", account="DU123", config={"symbols": ["SPY"], "client_id": 5}
        )
        j.start_session("new", mode="paper", account="DU1", config={"client_id": 5, "a": 1})
        with pytest.raises(JournalError, match=r"\(a, client_id changed\)"):
            j.start_session("new", mode="paper", account="DU1", config={"client_id": 6})


def test_a_version_3_journal_gains_structured_outcomes_and_restores_from_them(
    tmp_path: Path,
) -> None:
    """Issue 14, item 1: a restart read a decision's outcome and guards out of its free-text
    note. Version 4 stores them (outcome code, guards, target); a version-3 file is upgraded
    in place -- every row kept, the codes read once from the old notes -- and a session
    restores its book from it."""
    import math

    from tests.live.conftest import write_live_config
    from toolkit.live.bridge import LiveSession
    from toolkit.live.journal import _MIGRATIONS
    from toolkit.live.sleeve import Decision

    path = tmp_path / "state" / "journal.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.executescript("".join(_MIGRATIONS[:3]))
    db.execute("INSERT INTO sessions VALUES ('old', '2024', NULL, 'paper', 'DU1', '{}')")
    decisions = [  # (bar, signal, note), as a version-3 toolkit wrote them
        ("2024-03-11T00:00:00+00:00", 1.0, "order"),
        ("2024-03-12T00:00:00+00:00", -0.5, "order trimmed: max_position (late)"),
        ("2024-03-13T00:00:00+00:00", 0.5, "blocked: buying_power, max_position"),
    ]
    for i, (bar, sig, note) in enumerate(decisions, 1):
        db.execute(
            "INSERT INTO decisions (decision_id, session_id, ts, strategy, symbol, bar_time, "
            "signal, price, target_qty, current_qty, note) "
            "VALUES (?, 'old', '2024', 'sma', 'SPY', ?, ?, 400.0, 0, 0, ?)",
            (i, bar, sig, note),
        )
    for ref, did, status in (("r1", 1, "Filled"), ("r2", 2, "Cancelled")):
        db.execute(
            "INSERT INTO orders (order_ref, session_id, decision_id, ts, symbol, action, "
            "quantity, order_type, status) VALUES (?, 'old', ?, '2024', 'SPY', 'BUY', 237, "
            "'MKT', ?)",
            (ref, did, status),
        )
    db.execute(
        "INSERT INTO fills (exec_id, order_ref, ts, symbol, side, shares, price, commission) "
        "VALUES ('e1', 'r1', '2024', 'SPY', 'BOT', 237, 400.0, 1.25)"
    )
    db.execute("PRAGMA user_version=3")
    db.commit()
    db.close()

    cfg = write_live_config(
        tmp_path,
        strategies=[{"config": str(PAPER), "capital": 100_000, "history": "1 Y", "label": "sma"}],
    )
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION
        rows = j.rows("decisions", "old")
        assert [r["note"] for r in rows] == [n for _, _, n in decisions]  # no row lost
        assert [(r["outcome"], r["guards"], r["target"]) for r in rows] == [
            ("order", "", None),
            ("order_trimmed", "max_position", None),
            ("blocked", "buying_power,max_position", None),
        ]
        assert len(j.rows("orders", "old")) == 2 and len(j.rows("fills", "old")) == 1
        session = LiveSession(cfg, session_id="old", echo=None, install_signals=False)
        session.journal = j
        session._build_sleeves()
        session._restore()
        book = session.sleeves["sma"]
        assert book.positions["SPY"] == 237.0 and book.commissions == 1.25
        assert book.acted["SPY"] == 0.5  # the blocked decision's target was acted on
        assert session.last_decided["sma"] == pd.Timestamp("2024-03-13", tz="UTC")

        # a decision the new toolkit writes: restored from its code and target, not its note
        j.record_decision(
            "old", strategy="sma", symbol="SPY", bar_time="2024-03-14T00:00:00+00:00",
            signal=0.3, price=401.0, target_qty=0.0, current_qty=237.0, note="free text",
            outcome=Decision.AT_TARGET.value, target=0.25,
        )  # fmt: skip
        again = LiveSession(cfg, session_id="old", echo=None, install_signals=False)
        again.journal = j
        again._build_sleeves()
        again._restore()
        assert again.sleeves["sma"].acted["SPY"] == 0.25
        assert again.sleeves["sma"].positions["SPY"] == 237.0
        assert not math.isnan(again.sleeves["sma"].closes["SPY"])
