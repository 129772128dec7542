"""A session's terminal output that survives the terminal going away (an ssh drop, a closed
window). SIGHUP reloads a stock session's ``[risk]`` rather than ending it (a trading session
should outlive its ssh connection), but every write to the dead terminal then fails with
OSError (EIO on a hung-up tty, EPIPE on a closed pipe) -- from a log line in the middle of a
bar's step, the dashboard's refresh thread, or the interpreter's last flush at exit.

:class:`Terminal` wraps ``sys.stdout`` and ``sys.stderr`` while a session runs. On the first
OSError writing to either, it points that stream's file descriptor at ``/dev/null``
(``dup2``: every writer of the descriptor -- print, rich's refresh thread, logging's stream
handler, the exit flush -- then succeeds and goes nowhere), drops the line, and calls its
listeners once (:func:`noting`: the session logs it, which the log file keeps, and journals
it as a ``terminal_lost`` guard event). Trading goes on; the log file goes on.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Callable
from typing import TextIO, cast


class _Guarded(io.TextIOBase):
    """One standard stream that never raises OSError on write or flush."""

    def __init__(self, inner: TextIO, terminal: Terminal) -> None:
        super().__init__()
        self.inner = inner
        self._terminal = terminal
        self.dead = False

    def write(self, text: str) -> int:
        if not self.dead:
            try:
                self.inner.write(text)
            except OSError as exc:
                self._terminal.lost(self, exc)
        return len(text)

    def flush(self) -> None:
        if not self.dead:
            try:
                self.inner.flush()
            except OSError as exc:
                self._terminal.lost(self, exc)

    def isatty(self) -> bool:
        if self.dead:
            return False
        try:
            return self.inner.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.inner.errors


class Terminal:
    """``sys.stdout`` and ``sys.stderr`` guarded from :meth:`install` to :meth:`restore`."""

    def __init__(self) -> None:
        self.why: str | None = None  # set once the terminal is gone
        self._listeners: list[Callable[[str], None]] = []
        self._saved: tuple[TextIO, TextIO] | None = None

    def install(self) -> Terminal:
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = cast(TextIO, _Guarded(sys.stdout, self))
        sys.stderr = cast(TextIO, _Guarded(sys.stderr, self))
        return self

    def restore(self) -> None:
        if self._saved is not None:
            for guarded in (sys.stdout, sys.stderr):
                if isinstance(guarded, _Guarded) and not guarded.dead:
                    guarded.flush()
            sys.stdout, sys.stderr = self._saved
            self._saved = None

    def on_lost(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(why)`` once, when the terminal is found gone (from any thread)."""
        self._listeners.append(listener)

    def lost(self, stream: _Guarded, exc: OSError) -> None:
        """``stream``'s write failed: silence it (and its descriptor), tell the listeners."""
        stream.dead = True
        with_fd = _to_devnull(stream.inner)
        first = self.why is None
        if first:
            name = "stdout" if self._saved is not None and stream is sys.stdout else "stderr"
            self.why = (
                f"the terminal is gone ({name}: {exc.strerror or exc}); no more terminal "
                f"output{'' if with_fd else ' from this stream'}, trading goes on"
            )
        if first:
            for listener in self._listeners:
                listener(self.why or "")


def _to_devnull(stream: TextIO) -> bool:
    """Point ``stream``'s descriptor at /dev/null (True), when it has one."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)
    return True


def noting(
    say: Callable[[str], None],
    record: Callable[[str], None],
    loop: Callable[[], asyncio.AbstractEventLoop | None],
) -> Callable[[str], None]:
    """A :meth:`Terminal.on_lost` listener for a session: on its loop (the journal's
    connection is that thread's), ``say`` the reason (the session's log: the log file and the
    dashboard's events) and ``record`` it (the session's ledger journals a ``terminal_lost``
    guard event: only the ledgers write journal rows)."""

    def note(why: str) -> None:
        say(f"WARNING: {why}")
        record(why)

    def listener(why: str) -> None:
        running = loop()
        if running is not None and running.is_running() and not running.is_closed():
            try:
                on_loop = asyncio.get_running_loop() is running
            except RuntimeError:
                on_loop = False
            if on_loop:
                running.call_soon(note, why)  # not inside the failed write's caller
            else:
                running.call_soon_threadsafe(note, why)
        else:
            note(why)

    return listener
