"""A session whose terminal goes away (an ssh drop, a closed window) trades on
(toolkit.live._terminal): the bridge (``toolkit.live run``, printing its log lines) runs as a
child with stdin, stdout and stderr on a pty; the test closes the pty's master -- the terminal hangs
up, every write to it fails with EIO -- and sends SIGHUP as the kernel would. The session
reloads [risk] (SIGHUP's meaning), goes on deciding bars as the clock moves, says once in its
log file and journal that the terminal is gone, and stops cleanly on SIGTERM (exit 0)."""

from __future__ import annotations

import os
import pty
import select
import signal
import threading
from pathlib import Path

import pandas as pd

from tests.live._sessions import (
    PATIENCE,
    held_gateway,
    journal_rows,
    start_bridge,
    up_day_config,
    wait_for_rows,
)

SID = "hangup-test"


class Screen:
    """The terminal's side of the pty: reads (and keeps) what the session shows until
    :meth:`hang_up` closes it."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.shown = bytearray()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.shown += os.read(self.master, 65536)
                except OSError:
                    return

    def hang_up(self) -> None:
        self._stop.set()
        self._reader.join()
        os.close(self.master)


def test_a_session_whose_terminal_hangs_up_trades_on_and_stops_cleanly(tmp_path: Path) -> None:
    journal = tmp_path / "state" / "journal.sqlite"
    decisions = "SELECT bar_time FROM decisions ORDER BY bar_time"
    screen = Screen()
    with held_gateway() as gw:
        config = up_day_config(
            tmp_path, gw.port, module="hangup_strategy", client_id=63, session_id=SID
        )
        env = {"TOOLKIT_LOG_DIR": str(tmp_path / "logs"), "TERM": "xterm"}
        proc = start_bridge(config, tmp_path / "unused.log", env_extra=env, terminal=screen.slave)
        os.close(screen.slave)  # the child holds it, as a shell's child holds its tty
        try:
            wait_for_rows(journal, decisions, what="Friday's decision")
            assert f"session {SID} (paper)".encode() in screen.shown  # its log on the terminal
            screen.hang_up()  # writes to the pty now fail with EIO
            proc.send_signal(signal.SIGHUP)  # as the kernel tells the terminal's processes
            # SIGHUP's own log line meets the dead terminal in the middle of the session's
            # work: noticed once, journaled, and the reload goes on
            (lost,) = wait_for_rows(
                journal,
                "SELECT detail FROM guard_events WHERE guard = 'terminal_lost'",
                what="the session noticing its terminal is gone",
            )
            assert "the terminal is gone" in lost[0] and "trading goes on" in lost[0]
            wait_for_rows(
                journal,
                "SELECT 1 FROM commands WHERE source = 'sighup' AND status = 'done'",
                what="SIGHUP's reload of [risk]",
            )
            for close in ("2023-03-13 21:30", "2023-03-14 21:30"):  # two more days' bars
                gw.advance(pd.Timestamp(close, tz="UTC") - gw.clock.now())
                wait_for_rows(
                    journal,
                    f"SELECT 1 FROM decisions WHERE bar_time LIKE '{close[:10]}%'",
                    what=f"the decision on {close[:10]}'s bar after the hangup",
                )
            assert proc.poll() is None  # trading on
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(PATIENCE) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    days = {str(t)[:10] for (t,) in journal_rows(journal, decisions)}
    assert {"2023-03-13", "2023-03-14"} <= days
    ((ended,),) = journal_rows(journal, f"SELECT ended_at FROM sessions WHERE session_id='{SID}'")
    assert ended is not None  # the orderly stop closed the session in the journal
    assert len(journal_rows(journal, "SELECT 1 FROM guard_events")) == 1  # that one only
    text = (tmp_path / "logs" / "live-live.log").read_text()
    assert text.count("the terminal is gone") == 1  # said once, in the log file
    assert "SIGHUP: reloading [risk]" in text and "stopping: no new orders" in text
