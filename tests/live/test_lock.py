"""One writer per session (issue 12, item 4): the session lock next to the journal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toolkit.live._lock import SessionLock, SessionLocked, lock_path


def test_a_held_session_is_refused_naming_the_holder_and_freed_on_release(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    held = SessionLock(journal, "paper/one")
    assert oct(held.path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(SessionLocked, match=rf"'paper/one' is already running \(pid {os.getpid()}"):
        SessionLock(journal, "paper/one")
    other = SessionLock(journal, "paper/two")  # another session on the same journal is fine
    other.release()
    held.release()
    assert not held.path.exists()
    SessionLock(journal, "paper/one").release()


def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from toolkit.live._lock import SessionLock
        lock = SessionLock(Path({str(journal)!r}), "s")
        print("locked", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    with pytest.raises(SessionLocked, match=f"pid {proc.pid} holds"):
        SessionLock(journal, "s")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert lock_path(journal, "s").exists()  # left behind by kill -9, but not locked
    SessionLock(journal, "s").release()
