"""One writer per session: an OS lock on a file next to the journal, held for as long as the
session runs. Two bridges resuming one session decided the same bars twice and doubled the
position; the second now stops at once, naming the process that holds the session.

``flock`` locks belong to the open file, so the kernel drops them when the process dies,
kill -9 included: a crashed session never leaves a stale lock behind. The holder writes its
pid into the file for the error message (the lock, not the pid, is what counts), and removes
the file when it ends; a process that locked a file just removed tries again on the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from toolkit._logfiles import is_held as is_held  # one check for all lock files (re-export)
from toolkit.errors import ToolkitError


class SessionLocked(ToolkitError):
    """Another process is running this session on this journal."""


def lock_path(journal: Path, session_id: str) -> Path:
    """``<journal>.<session>.lock`` (the id made file-safe, with a hash so ids differing only
    in unsafe characters don't share a lock)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", session_id)[:80]
    digest = hashlib.sha256(session_id.encode()).hexdigest()[:8]
    return journal.with_name(f"{journal.name}.{safe}-{digest}.lock")


GUARD = ".journals.guard"


@contextlib.contextmanager
def journal_guard(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """The journal folder's guard: a session takes its lock under it shared, ``toolkit clean``
    looks at the locks and deletes a journal under it exclusive. So a session either holds its
    lock before clean looks (its journal is kept) or starts after the deletion is complete (it
    opens a new journal) -- never in between, where it would create a journal at a path clean
    is moving."""
    fd = os.open(folder / GUARD, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # drops the flock


class SessionLock:
    """Hold the session's lock until :meth:`release` (or the process ends)."""

    def __init__(self, journal: Path, session_id: str) -> None:
        self.path = lock_path(journal, session_id)
        with journal_guard(journal.parent, exclusive=False):
            self._fd: int | None = self._take(session_id)

    def _take(self, session_id: str) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise SessionLocked(
                    f"session {session_id!r} is already running (pid {holder} holds "
                    f"{self.path}); stop that process first, or start a new session id"
                ) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # locked a file its holder removed as it ended: take the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # still locked: no one can take it in between
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None
