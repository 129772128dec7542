"""``toolkit clean`` (toolkit.app.clean): old journals, report runs and rotated logs go by the
retention policy (older than the limit AND not among the newest N), and a journal a running
session holds (its toolkit.live._lock lock) is never deleted."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from toolkit.app import clean
from toolkit.errors import ToolkitError
from toolkit.live._lock import SessionLock
from toolkit.live.journal import Journal

DAY = 86_400.0


def _age(path: Path, days: float) -> None:
    """Date every file under ``path`` ``days`` back."""
    when = time.time() - days * DAY
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        os.utime(f, (when, when))


def _run(path: Path, days: float, size: int = 100) -> Path:
    path.mkdir(parents=True)
    (path / "report.html").write_bytes(b"x" * size)
    _age(path, days)
    return path


def _journal(folder: Path, name: str, days: float) -> Path:
    path = folder / name
    with Journal(path) as j:
        j.start_session("s1", mode="simulated", account="DU1", config={})
    for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if extra.exists():
            _age(extra, days)
    return path


def test_the_policy_deletes_only_old_items_beyond_the_newest_n(tmp_path: Path) -> None:
    reports, state, logs = tmp_path / "reports", tmp_path / "state", tmp_path / "logs"
    old_run = _run(reports / "spy-20240101T000000Z", 90)
    kept_old = _run(reports / "qqq-20240201T000000Z", 60)  # old, but among the newest 2
    fresh = _run(reports / "efa-20260101T000000Z", 1)
    note_old = _run(reports / "2024-01-05" / "10_strategy_tearsheet-0900", 80)
    (reports / ".schedule").mkdir()  # the scheduler's state: never a report
    old_j = _journal(state, "old.sqlite", 45)
    new_j = _journal(state, "new.sqlite", 2)
    logs.mkdir()
    (logs / "live.log").write_text("current\n")
    for n in (1, 2):
        (logs / f"live.log.{n}").write_text("rotated\n")
    _age(logs, 40)

    dry = clean.main(["--older-than", "30d", "--keep", "2", "--dry-run",
                      "--reports", str(reports), "--state", str(state), "--logs", str(logs)])  # fmt: skip
    assert dry == 0 and old_run.exists() and old_j.exists()  # a dry run deletes nothing

    items = clean.plan(reports=[reports], states=[state], logs=[logs], older_than=30 * DAY, keep=2)
    decided = {Path(i.path).name: i.action for i in items}
    assert decided == {
        "efa-20260101T000000Z": "keep",
        "qqq-20240201T000000Z": "keep",
        "10_strategy_tearsheet-0900": "delete",
        "spy-20240101T000000Z": "delete",
        "new.sqlite": "keep",
        "old.sqlite": "keep",  # only two journals: both among the newest 2
        "live.log.1": "keep",
        "live.log.2": "keep",
    }
    assert clean.main(["--older-than", "30d", "--keep", "1", "--reports", str(reports),
                       "--state", str(state), "--logs", str(logs)]) == 0  # fmt: skip
    assert fresh.exists() and not old_run.exists() and not kept_old.exists()
    assert not note_old.parent.exists()  # the emptied date folder goes too
    assert (reports / ".schedule").exists()
    assert new_j.exists() and not old_j.exists()
    assert not old_j.with_name("old.sqlite-wal").exists()
    assert (logs / "live.log").exists()  # the file being written is never a candidate
    assert sorted(p.name for p in logs.iterdir()) == ["live.log", "live.log.1"]


def test_an_open_sessions_journal_survives_and_goes_once_it_ended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    journal = _journal(state, "journal.sqlite", 400)
    lock = SessionLock(journal, "running-session")  # what a running LiveSession holds
    args = ["--older-than", "1d", "--keep", "0", "--state", str(state),
            "--reports", str(tmp_path / "none"), "--logs", str(tmp_path / "none")]  # fmt: skip
    try:
        assert clean.main(args) == 0
        assert journal.exists()
        out = capsys.readouterr().out
        assert f"kept journal {journal}: in use: a running session holds {lock.path.name}" in out
        # a session that starts between the plan and the deletion keeps its journal too
        lock.release()
        [item] = clean.plan(reports=[], states=[state], logs=[], older_than=DAY, keep=0)
        assert item.action == "delete"
        lock = SessionLock(journal, "started-meanwhile")
        assert clean.apply(item).action == "keep" and journal.exists()
        with Journal(journal) as j:  # intact, readable by its session
            assert [s["session_id"] for s in j.sessions()] == ["s1"]
    finally:
        lock.release()
    _age(journal, 400)
    assert clean.main([*args, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["action"] == "delete" and not journal.exists()
    assert not list(state.glob("journal.sqlite*"))  # -wal, -shm and stale locks too


def test_trained_models_under_reports_are_never_report_runs(tmp_path: Path) -> None:
    """``toolkit ml train`` writes its artefacts to ``reports/models/<name>`` and a live
    config's ``model = ...`` loads them: clean took the folder for one report run and deleted
    every trained model once they were all a month old."""
    reports = tmp_path / "reports"
    model = _run(reports / "models" / "ml_spy", 400)
    old_run = _run(reports / "spy-20240101T000000Z", 400)
    args = ["--older-than", "30d", "--keep", "0", "--reports", str(reports),
            "--state", str(tmp_path / "none"), "--logs", str(tmp_path / "none")]  # fmt: skip
    assert clean.main(args) == 0
    assert not old_run.exists()
    assert (model / "report.html").exists()


def test_an_item_that_cannot_be_deleted_is_reported_kept_and_fails_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report folder the OS refuses to delete (a volume written by another user): before,
    rmtree's errors were ignored and clean said "deleted" with its size, exit 0."""
    reports = tmp_path / "reports"
    run = _run(reports / "spy-20240101T000000Z", 400)
    real = clean.shutil.rmtree

    def refused(path: Path, ignore_errors: bool = False, **kw: object) -> None:
        if Path(path) == run:  # what rmtree meets in a folder it may not change
            if ignore_errors:
                return
            raise PermissionError(13, "Permission denied", str(run / "report.html"))
        real(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(clean.shutil, "rmtree", refused)
    args = ["--older-than", "30d", "--keep", "0", "--reports", str(reports),
            "--state", str(tmp_path / "none"), "--logs", str(tmp_path / "none")]  # fmt: skip
    assert clean.main(args) == 1
    out = capsys.readouterr().out
    assert f"could not delete report {run}: Permission denied" in out, out
    assert "deleted 0 item(s)" in out and run.exists()


def test_a_session_starting_while_its_journal_is_deleted_keeps_what_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session takes its lock, then opens its journal (LiveSession._open_journal). Started
    in the middle of a deletion it must end up writing the file at the journal's path: before,
    clean renamed the journal aside, the session created a fresh one at the path, and the
    rename back replaced that file: the kept journal lost its sessions to the fresh file's
    write-ahead log, and the session wrote on into an unlinked inode."""
    state = tmp_path / "state"
    journal = _journal(state, "journal.sqlite", 400)
    [item] = clean.plan(reports=[], states=[state], logs=[], older_than=DAY, keep=0)
    assert item.action == "delete"
    cleaned = threading.Event()

    def session() -> None:
        lock = SessionLock(journal, "starting")
        try:
            with Journal(journal) as j:
                j.start_session("s2", mode="simulated", account="DU1", config={})
                cleaned.wait(timeout=60)
                j.end_session("s2")
        finally:
            lock.release()

    real = clean._held_locks
    thread = threading.Thread(target=session)

    def racing(path: Path) -> list[Path]:  # the session starts inside apply()
        thread.start()
        thread.join(timeout=2.0)
        return real(path)

    monkeypatch.setattr(clean, "_held_locks", racing)
    try:
        done = clean.apply(item)
    finally:
        cleaned.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    with Journal(journal) as reader:  # what the session wrote is at the journal's path
        ended = {s["session_id"]: s["ended_at"] for s in reader.sessions()}
        [[check]] = reader._db.execute("PRAGMA integrity_check").fetchall()
    assert check == "ok"
    # kept: the session wrote into the old journal; deleted: it began a new one -- either
    # way nothing it wrote is lost and the old sessions are there exactly when it was kept
    assert set(ended) == ({"s1", "s2"} if done.action == "keep" else {"s2"}), done
    assert ended["s2"] is not None


@pytest.mark.parametrize("text", ["30", "thirty days", "5y", "-3d"])
def test_a_bad_age_is_a_one_line_error(text: str) -> None:
    with pytest.raises(ToolkitError, match="give a number and a unit"):
        clean.parse_age(text)
    assert clean.parse_age("2w") == 14 * DAY and clean.parse_age("12h") == 12 * 3600


def _trade(journal: Path, *sides: tuple[str, float]) -> None:
    with Journal(journal) as j:
        for n, (side, shares) in enumerate(sides):
            ref = f"o{n}"
            action = "BUY" if side == "BOT" else "SELL"
            j.record_order("s1", order_ref=ref, symbol="SPY", action=action,
                           quantity=shares, order_type="MKT")  # fmt: skip
            j.record_fill(exec_id=f"e{n}", order_ref=ref, symbol="SPY", side=side,
                          shares=shares, price=500.0)  # fmt: skip


def test_a_journal_whose_session_still_holds_a_position_is_kept(tmp_path: Path) -> None:
    """A stopped session with a position is resumed from its journal (--session): deleting
    the journal would start it blind, so an old journal goes only once its books are flat."""
    state = tmp_path / "state"
    holding = _journal(state, "holding.sqlite", 0)
    flat = _journal(state, "flat.sqlite", 0)
    _trade(holding, ("BOT", 10.0), ("SLD", 4.0))
    _trade(flat, ("BOT", 10.0), ("SLD", 10.0))
    for j in (holding, flat):
        _age(j, 90)
        for extra in (j.with_name(j.name + "-wal"), j.with_name(j.name + "-shm")):
            if extra.exists():
                _age(extra, 90)
    items = {Path(i.path).name: i for i in clean.plan(
        reports=[], states=[state], logs=[], older_than=30 * DAY, keep=0)}  # fmt: skip
    assert items["holding.sqlite"].action == "keep"
    assert items["holding.sqlite"].why == "in use: its sessions still hold SPY 6 (s1)"
    assert items["flat.sqlite"].action == "delete"


def test_tax_exports_are_never_deleted(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    tax = _run(reports / "spy_sma_cross-tax-20240101T000000Z", 400)
    run = _run(reports / "spy_sma_cross-20240101T000000Z", 400)
    items = {Path(i.path).name: i for i in clean.plan(
        reports=[reports], states=[], logs=[], older_than=30 * DAY, keep=0)}  # fmt: skip
    assert items[tax.name].action == "keep" and items[tax.name].why.startswith("tax records")
    assert items[run.name].action == "delete"


def test_a_lock_that_cannot_be_opened_counts_as_held(tmp_path: Path) -> None:
    """Unopenable (another user's, or a loop of links) is not free: clean keeps the journal."""
    state = tmp_path / "state"
    journal = _journal(state, "theirs.sqlite", 90)
    _age(journal, 90)
    lock = state / "theirs.sqlite.s1-0000.lock"
    lock.symlink_to(lock.name)  # a link to itself: open() fails with ELOOP, not "not found"
    (item,) = clean.plan(reports=[], states=[state], logs=[], older_than=30 * DAY, keep=0)
    assert item.action == "keep" and item.why.startswith("in use: a running session holds")
    from toolkit.live._lock import is_held

    assert not is_held(state / "gone.lock")


def test_a_gone_second_writers_log_is_an_old_log_and_a_running_writers_files_stay(
    tmp_path: Path,
) -> None:
    from toolkit._logfiles import LogFile, LogSettings

    logs = tmp_path / "logs"
    settings = LogSettings(directory=logs, backups=5)
    with LogFile("gw", settings) as primary, LogFile("gw", settings) as second:
        primary.write("primary")
        second.write("second")
        (logs / "gw.log.1").write_text("the running primary's backup\n")
        (logs / "gw-999.log").write_text("a second writer that is gone\n")
        (logs / "gw-999.log.1").write_text("its backup\n")
        (logs / "gw-999.log.lock").touch()
        (logs / "run-7.log").write_text("no run.log.lock: a name ending in digits\n")
        _age(logs, 40)
        items = clean.plan(reports=[], states=[], logs=[logs], older_than=30 * DAY, keep=0)
        decided = {Path(i.path).name: (i.action, i.why) for i in items}
        assert decided[second.path.name] == ("keep", f"in use: a running writer holds "
                                             f"{second.path.name}.lock")  # fmt: skip
        assert decided["gw.log.1"][1] == "in use: a running writer holds gw.log.lock"
        assert decided["gw-999.log"][0] == decided["gw-999.log.1"][0] == "delete"
        assert "run-7.log" not in decided and "gw.log" not in decided
        assert clean.main(["--older-than", "30d", "--keep", "0", "--reports", str(tmp_path / "r"),
                           "--state", str(tmp_path / "s"), "--logs", str(logs)]) == 0  # fmt: skip
        left = sorted(p.name for p in logs.iterdir())
        assert "gw-999.log" not in left and "gw-999.log.1" not in left
        assert "gw-999.log.lock" not in left  # its lock went with its files
        assert second.path.exists() and (logs / "gw.log.1").exists() and "run-7.log" in left
    # once its writer is gone the second writer's file is an old log like any other
    _age(logs, 40)
    items = clean.plan(reports=[], states=[], logs=[logs], older_than=30 * DAY, keep=0)
    decided = {Path(i.path).name: i.action for i in items}
    assert decided[second.path.name] == "delete" and decided["gw.log.1"] == "delete"


def test_a_log_writer_starting_after_the_plan_keeps_its_file(tmp_path: Path) -> None:
    from toolkit._logfiles import LogFile, LogSettings

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "gw.log.1").write_text("old\n")
    _age(logs, 40)
    (item,) = clean.plan(reports=[], states=[], logs=[logs], older_than=30 * DAY, keep=0)
    assert item.action == "delete"
    with LogFile("gw", LogSettings(directory=logs)):
        done = clean.apply(item)
    assert done.action == "keep" and done.why.startswith("in use")
    assert (logs / "gw.log.1").exists()
