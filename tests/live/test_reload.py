"""Reloading a running session's [risk] limits (issue 19.5, toolkit.live._reload): a bridge
process (``toolkit.live run``) on the gateway simulator, its clock held by the test. An
invalid file through ``toolkit.live reload`` is refused with the usual one-line error and the
old limits stay; a valid one through SIGHUP is put in force and journaled with its values; the
next order is then trimmed at the new limit, and the max_position guard fires."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from tests.live._sessions import (
    held_gateway,
    journal_rows,
    start_bridge,
    stop_bridge,
    up_day_config,
    wait_for_rows,
)
from toolkit.app.live import main
from toolkit.live.journal import SCHEMA_VERSION, Journal

SID = "reload-test"


# the first order is the decision on 03-14's bar (UP_DAY): after the reloads, which happen
# while the clock is held at Friday 03-10's close
def _config(tmp: Path, port: int, risk: dict[str, object]) -> Path:
    return up_day_config(
        tmp,
        port,
        module="reload_strategy",
        client_id=61,
        session_id=SID,
        risk=risk,
        research_extra="[risk]\ndaily_loss = 0.5\n",
    )


def test_reload_refuses_a_bad_file_then_a_sighup_puts_new_limits_in_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "bridge.log"
    journal = tmp_path / "state" / "journal.sqlite"
    with held_gateway() as gw:
        config = _config(tmp_path, gw.port, {"max_position": 1_000_000.0})
        # as systemd runs it: Type=notify with WatchdogSec=1 (deploy/systemd/), logs to files
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(tmp_path / "notify"))
        env = {
            "TOOLKIT_LOG_DIR": str(tmp_path / "logs"),
            "NOTIFY_SOCKET": str(tmp_path / "notify"),
            "WATCHDOG_USEC": "1000000",
        }
        proc = start_bridge(config, log, session=SID, env_extra=env)
        try:
            wait_for_rows(journal, "SELECT 1 FROM decisions", what="Friday's decision")
            # a bad value: the usual one-line error, the old limits stay, all three say so
            config.write_text(config.read_text().replace("1000000.0", "-5.0"))
            code = main(["reload", "--config", str(config), "--timeout", "120"])
            out = capsys.readouterr()
            text = out.out + out.err
            assert code == 1, text
            assert "reload: rejected: risk reload REJECTED (cli):" in text
            assert "max_position = -5.0" in text and "the old limits stay in force" in text
            # a good file, by SIGHUP (systemctl reload): in force and journaled
            _config(tmp_path, gw.port, {"max_position": 30_000.0, "on_mismatch": "adopt"})
            proc.send_signal(signal.SIGHUP)
            (limits, previous, message), *_ = wait_for_rows(
                journal,
                "SELECT limits_json, previous_json, message FROM risk_changes "
                "WHERE status = 'applied' AND strategy IS NOT NULL",
                what="the reload to apply",
            )
            assert json.loads(limits)["max_position"] == 30_000.0
            assert json.loads(previous)["max_position"] == 1_000_000.0
            assert json.loads(limits)["daily_loss"] == 0.5  # the research config's, merged
            assert message == "max_position 1e+06 -> 30,000"
            # the clock moves on to Tuesday's close: the first order, trimmed at the new limit
            gw.advance(pd.Timestamp("2023-03-14 21:30", tz="UTC") - gw.clock.now())
            (qty, close), *_ = wait_for_rows(
                journal,
                "SELECT o.quantity, d.price FROM orders o JOIN decisions d "
                "ON d.decision_id = o.decision_id",
                what="the first order",
            )
            assert 0 < qty * close <= 30_000.0 < 95_000.0  # the whole sleeve would be ~100k
            guards = journal_rows(journal, "SELECT guard, detail FROM guard_events")
            assert [g for g, _ in guards] == ["max_position"]
            assert "order trimmed from" in guards[0][1]
        finally:
            stop_bridge(proc, log)
    notify.settimeout(0)
    messages = []
    with contextlib.suppress(BlockingIOError):
        while True:
            messages.append(notify.recv(4096).decode())
    notify.close()
    assert messages[0] == f"READY=1\nSTATUS=session {SID} trading on 127.0.0.1:{gw.port}"
    assert set(messages[1:-1]) == {"WATCHDOG=1"}  # every 0.5 s while it ran (at once first)
    assert messages[-1] == f"STOPPING=1\nSTATUS=session {SID} stopping"
    with Journal(journal) as j:
        rows = j.rows("risk_changes", SID)
        commands = j.rows("commands", SID)
    assert [(r["source"], r["status"], r["strategy"]) for r in rows] == [
        ("cli", "rejected", None),
        ("sighup", "applied", "up_day"),
        ("sighup", "applied", None),  # on_mismatch halt -> adopt
    ]
    assert "max_position = -5.0" in rows[0]["message"] and rows[0]["limits_json"] == "{}"
    assert [(c["source"], c["action"], c["status"]) for c in commands] == [
        ("cli", "reload", "rejected"),
        ("sighup", "reload", "done"),
    ]
    # status lists them, and the log file (like the dashboard's event lines) says what happened
    assert main(["status", "--journal", str(journal), SID]) == 0
    status = capsys.readouterr().out
    assert "risk reloads (3; the newest 3)" in status
    assert (
        " cli rejected: " in status and " sighup applied up_day: max_position 1e+06 -> " in status
    )
    text = (tmp_path / "logs" / "live-live.log").read_text()
    assert "WARNING toolkit.log.live-live: [" in text and "risk reload REJECTED (cli)" in text
    assert "SIGHUP: reloading [risk] of" in text
    assert "risk limits reloaded from live.toml (sighup): up_day: max_position 1e+06 -> " in text


def test_a_version_9_journal_is_upgraded_with_the_risk_changes_table(tmp_path: Path) -> None:
    from toolkit.live.journal import _MIGRATIONS

    path = tmp_path / "v9.sqlite"
    db = sqlite3.connect(path)
    db.executescript(";".join(_MIGRATIONS[:9]))
    db.execute("INSERT INTO sessions VALUES ('old', '2024', NULL, 'paper', 'DU1', '{}')")
    db.execute("PRAGMA user_version=9")
    db.commit()
    db.close()
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION == 10
        j.record_risk_change(
            "old", source="cli", config="live.toml", status="applied", strategy="a",
            limits={"max_position": 1.0}, previous={"max_position": None}, message="m",
        )  # fmt: skip
        (row,) = j.rows("risk_changes", "old")
        assert json.loads(row["previous_json"]) == {"max_position": None}
        assert [s["session_id"] for s in j.sessions()] == ["old"]
