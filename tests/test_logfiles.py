"""Log files of the long-running commands (toolkit._logfiles): rotation by size and by day with
a retention count, JSON lines, settings from flags / environment / a config table, and the
gateway and report scheduler commands writing their files beside the terminal."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from toolkit import _logfiles
from toolkit._logfiles import LogFile, LogSettings, SizeAndDayHandler
from toolkit.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _record(msg: str, when: datetime) -> logging.LogRecord:
    rec = logging.LogRecord("toolkit.test", logging.INFO, __file__, 1, msg, None, None)
    rec.created = when.timestamp()
    return rec


def _files(folder: Path, stem: str) -> dict[str, Path]:
    return {p.name: p for p in folder.iterdir() if p.name.startswith(stem) and "lock" not in p.name}


def test_writing_past_the_size_limit_rotates_and_keeps_only_the_retention_count(
    tmp_path: Path,
) -> None:
    settings = LogSettings(directory=tmp_path, max_bytes=2048, backups=3, daily=False)
    with LogFile("svc", settings) as log:
        for i in range(400):  # ~40 kB: about twenty files' worth, only 1 + 3 kept
            log.write(f"line {i:05d} " + "x" * 60)
    files = _files(tmp_path, "svc.log")
    assert sorted(files) == ["svc.log", "svc.log.1", "svc.log.2", "svc.log.3"]
    for p in files.values():
        assert 0 < p.stat().st_size <= 2048  # never past the limit
    newest = files["svc.log"].read_text().splitlines()
    assert "line 00399" in newest[-1]
    kept = [ln for name in ("svc.log.3", "svc.log.2", "svc.log.1", "svc.log")
            for ln in files[name].read_text().splitlines()]  # fmt: skip
    numbers = [int(ln.split("line ")[1][:5]) for ln in kept]
    assert numbers == list(range(numbers[0], 400))  # in order, nothing lost inside the window
    assert numbers[0] > 300  # the oldest lines went with the files past the retention count
    assert kept[0].split()[1] == "INFO" and kept[0].split()[2] == "toolkit.log.svc:"


def test_a_new_utc_day_rolls_the_file_over_even_when_small(tmp_path: Path) -> None:
    path = tmp_path / "day.log"
    h = SizeAndDayHandler(path, max_bytes=1_000_000, backups=2, daily=True)
    h.setFormatter(logging.Formatter("%(message)s"))
    try:
        for day in (1, 1, 2, 3, 4):
            h.handle(_record(f"day {day}", datetime(2026, 3, day, 23, 59, tzinfo=UTC)))
    finally:
        h.close()
    assert path.read_text() == "day 4\n"
    assert (tmp_path / "day.log.1").read_text() == "day 3\n"
    assert (tmp_path / "day.log.2").read_text() == "day 2\n"
    assert not (tmp_path / "day.log.3").exists()  # day 1's file is past the retention count


def test_the_day_of_an_existing_file_is_its_last_write(tmp_path: Path) -> None:
    """A restarted service appending to yesterday's file rolls it at its first record."""
    path = tmp_path / "old.log"
    path.write_text("yesterday\n")
    yesterday = time.time() - 86_400
    os.utime(path, (yesterday, yesterday))
    h = SizeAndDayHandler(path, max_bytes=1_000_000, backups=2, daily=True)
    h.setFormatter(logging.Formatter("%(message)s"))
    try:
        h.handle(_record("today", datetime.now(UTC)))
    finally:
        h.close()
    assert path.read_text() == "today\n"
    assert (tmp_path / "old.log.1").read_text() == "yesterday\n"


def test_json_lines_and_the_package_loggers_go_to_the_file(tmp_path: Path) -> None:
    settings = LogSettings(directory=tmp_path, json=True)
    seen: list[str] = []
    with LogFile("gw", settings, loggers=["toolkit.gateway"]) as log:
        log.tee(seen.append)("session started")
        logging.getLogger("toolkit.gateway").info("client 7 connected")
        log.write("WARNING: open positions remain")
    rows = [json.loads(ln) for ln in (tmp_path / "gw.jsonl").read_text().splitlines()]
    assert [r["msg"] for r in rows] == [
        "session started",
        "client 7 connected",
        "WARNING: open positions remain",
    ]
    assert [r["level"] for r in rows] == ["INFO", "INFO", "WARNING"]
    assert rows[1]["logger"] == "toolkit.gateway" and rows[0]["pid"] == os.getpid()
    assert datetime.fromisoformat(rows[0]["ts"]).tzinfo is not None
    assert seen == ["session started"]  # the terminal still gets its line
    assert not logging.getLogger("toolkit.gateway").handlers  # detached on close


def test_a_second_writer_of_the_same_name_gets_its_own_file(tmp_path: Path) -> None:
    settings = LogSettings(directory=tmp_path)
    with LogFile("live", settings) as a, LogFile("live", settings) as b:
        assert a.path.name == "live.log"
        assert b.path.name == f"live-{os.getpid()}.log"


def test_flags_over_environment_over_the_config_table(tmp_path: Path) -> None:
    cfg = tmp_path / "live.toml"
    table = _logfiles.parse_table(cfg, {"dir": "logs", "backups": 5, "json": True})
    assert table.directory == tmp_path / "logs" and table.backups == 5
    env = {"TOOLKIT_LOG_MAX_BYTES": "4096", "TOOLKIT_LOG_BACKUPS": "7"}
    p = argparse.ArgumentParser()
    _logfiles.add_arguments(p)
    s = _logfiles.settings_from(p.parse_args(["--log-backups", "9"]), env, table)
    assert (s.directory, s.max_bytes, s.backups, s.json) == (tmp_path / "logs", 4096, 9, True)
    assert _logfiles.settings_from(p.parse_args([]), {}).directory is None  # off by default


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        ({"backups": 0}, {}, "[logs] log backups = 0: keep between 1 and 10000 files."),
        ({"max_bytes": "1M"}, {}, "[logs] max_bytes = '1M' must be a int."),
        ({"keep": 3}, {}, "[logs] unknown key(s) keep; allowed: dir, max_bytes, backups"),
        ({}, {"TOOLKIT_LOG_BACKUPS": "ten"}, "TOOLKIT_LOG_BACKUPS='ten' is not a whole number."),
    ],
)
def test_bad_settings_are_one_line_errors(
    tmp_path: Path, raw: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _logfiles.settings_from(None, env, _logfiles.parse_table(tmp_path / "x.toml", raw))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_gateway_and_the_report_scheduler_log_to_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    gw = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "gateway", "--port", "0", "--log-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert gw.stdout is not None
        line = gw.stdout.readline()
        assert line.startswith("gateway simulator on 127.0.0.1:"), line
    finally:
        gw.terminate()
        _, err = gw.communicate(timeout=120)
    assert gw.returncode == 0, err  # SIGTERM stops it in order, as Ctrl+C does
    text = (tmp_path / "gateway.log").read_text()
    assert line.strip() in text and "gateway simulator stopped" in text
    assert f"logging to {tmp_path / 'gateway.log'}" in err

    schedule = tmp_path / "schedule.toml"
    schedule.write_text("")  # no jobs: nothing is due
    out = subprocess.run(
        [sys.executable, "-m", "toolkit", "report", "schedule", "--file", str(schedule),
         "--state", str(tmp_path / "state"), "--reports", str(tmp_path / "reports")],
        cwd=REPO,
        env={**env, "TOOLKIT_LOG_DIR": str(tmp_path), "TOOLKIT_LOG_JSON": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout == "nothing due\n"
    rows = [json.loads(ln) for ln in (tmp_path / "report-schedule.jsonl").read_text().splitlines()]
    assert [r["msg"] for r in rows] == ["nothing due"]


def test_second_writers_files_left_behind_follow_the_retention_count(tmp_path: Path) -> None:
    with LogFile("svc", LogSettings(directory=tmp_path, backups=2)) as first:
        # files of second writers that are gone (their locks free), oldest first
        old = ["svc-111.log", "svc-222.log.1", "svc-222.log", "svc-333-2.log"]
        for age, name in enumerate(reversed(old)):
            (tmp_path / name).write_text("old\n")
            os.utime(tmp_path / name, (time.time() - 3600 * (age + 1),) * 2)
        for lock in ("svc-111.log.lock", "svc-222.log.lock", "svc-333-2.log.lock"):
            (tmp_path / lock).touch()
        (tmp_path / "other-5.log").write_text("not a second writer: no other.log.lock\n")
        with LogFile("svc", LogSettings(directory=tmp_path, backups=2)) as second:
            assert second.path == tmp_path / f"svc-{os.getpid()}.log"
            second.write("hello")
        assert first.path.name == "svc.log"
    names = sorted(p.name for p in tmp_path.iterdir())
    # the newest two old files stay; svc-111's file went and so did its lock
    assert "svc-333-2.log" in names and "svc-222.log" in names
    assert "svc-222.log.1" not in names and "svc-111.log" not in names
    assert "svc-111.log.lock" not in names and "svc-222.log.lock" in names
    assert "other-5.log" in names


def test_a_third_writer_in_one_process_gets_a_file_of_its_own(tmp_path: Path) -> None:
    settings = LogSettings(directory=tmp_path)
    with (
        LogFile("svc", settings) as a,
        LogFile("svc", settings) as b,
        LogFile("svc", settings) as c,
    ):
        assert len({a.path, b.path, c.path}) == 3
        for log in (a, b, c):
            log.write(f"line of {log.path.name}")
        for log in (a, b, c):
            assert log.path.read_text().count("line of") == 1


def test_a_backup_deleted_during_the_rollover_loses_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.log"
    h = SizeAndDayHandler(path, max_bytes=1024, backups=3, daily=False)
    h.setFormatter(logging.Formatter("%(message)s"))
    for i in range(3):
        h.emit(_record(f"{i} " + "x" * 1000, datetime.now(UTC)))
    assert (tmp_path / "r.log.2").exists()
    real = os.path.exists

    def exists_then_cleaned(p: object) -> bool:  # `toolkit clean` deletes it right after a look
        there = real(p)  # type: ignore[arg-type]
        if there and str(p).endswith((".log.1", ".log.2", ".log.3")):
            os.unlink(p)  # type: ignore[arg-type]
        return there

    monkeypatch.setattr(os.path, "exists", exists_then_cleaned)
    h.emit(_record("kept " + "y" * 1000, datetime.now(UTC)))
    monkeypatch.undo()
    h.close()
    assert "Logging error" not in capsys.readouterr().err
    assert "kept" in path.read_text()


def test_two_sessions_in_one_process_each_get_only_their_own_package_lines(
    tmp_path: Path,
) -> None:
    import asyncio
    import socket

    from toolkit.gateway import Gateway

    settings = LogSettings(directory=tmp_path)
    a = LogFile("live", settings, ["toolkit.live", "toolkit.gateway"])
    b = LogFile("live", settings, ["toolkit.live", "toolkit.gateway"])

    async def session(name: str) -> None:
        logging.getLogger("toolkit.live").info("live line of %s", name)
        await asyncio.sleep(0)
        logging.getLogger("toolkit.live").info("second live line of %s", name)

    async def both() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            loop.create_task(session("A"), context=a.context()),
            loop.create_task(session("B"), context=b.context()),
        )

    asyncio.run(both())
    # the simulator a session starts runs on its own thread: its records are that session's
    gw = a.context().run(lambda: Gateway(port=0).start())
    try:
        with socket.create_connection(("127.0.0.1", gw.port)) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")  # no API handshake: the gateway logs, closes
            s.settimeout(5)
            with pytest.raises(OSError):
                while s.recv(1024):
                    pass
                raise ConnectionError
    finally:
        gw.stop()
    a.close()
    b.close()
    text_a, text_b = a.path.read_text(), b.path.read_text()
    assert "live line of A" in text_a and "of B" not in text_a
    assert "live line of B" in text_b and "of A" not in text_b
    assert "toolkit.gateway" in text_a and "toolkit.gateway" not in text_b
