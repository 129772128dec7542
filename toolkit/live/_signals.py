"""The signals a session handles on its event loop, one code path for every session kind:
SIGINT and SIGTERM stop it in order; SIGHUP calls the session's ``hangup`` (the stock session
reloads ``[risk]``: :func:`toolkit.live._reload.hangup`; the option session, which has no
reload, stops in order and says why). Only the main thread may install handlers; a session
run on another thread (Jupyter, tests) leaves signals to its host.

Before a session's handlers are in place, a Ctrl+C is Python's KeyboardInterrupt, raised
wherever the main thread happens to be -- mostly inside the imports of pandas, numpy, pyarrow,
numba and ib_async. Native code there that clears a pending error swallows it silently (seen
about once in 40 start-up Ctrl+Cs under load, then the session traded on for its whole
rehearsal). :func:`watch_start_up` makes such a signal impossible to lose: the interpreter
writes every handled signal's number to a wakeup descriptor before any Python code runs, and
:func:`install_session_signals` reads what came in and stops the session at once, before it
connects. A KeyboardInterrupt that lands in a finalizer or weakref callback meanwhile is
"unraisable": CPython would print it with a traceback, so the watch drops those quietly (the
pipe has the signal)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOPS = frozenset({signal.SIGINT, signal.SIGTERM})


class _StartUp:
    """The pipe the interpreter writes start-up signals to (None outside :func:`watch_start_up`)."""

    fds: tuple[int, int] | None = None


@contextlib.contextmanager
def watch_start_up() -> Iterator[None]:
    """Note every handled signal from here until a session installs its own handlers (or the
    block ends), at the C level; main thread only (elsewhere it notes nothing)."""
    if threading.current_thread() is not threading.main_thread() or _StartUp.fds is not None:
        yield
        return
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    previous = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    _StartUp.fds = (r, w)
    hook = sys.unraisablehook

    def quiet_interrupts(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    sys.unraisablehook = quiet_interrupts
    try:
        yield
    finally:
        if sys.unraisablehook is quiet_interrupts:
            sys.unraisablehook = hook
        _StartUp.fds = None
        current = signal.set_wakeup_fd(-1)
        back = previous if current == w else current  # an event loop's own stays
        if back != -1:
            signal.set_wakeup_fd(back)
        os.close(r)
        os.close(w)


def stops_during_start_up() -> bool:
    """True once: a SIGINT or SIGTERM arrived since :func:`watch_start_up` began, whatever
    the Python code it interrupted did with the KeyboardInterrupt."""
    fds = _StartUp.fds
    if fds is None:
        return False
    seen = bytearray()
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fds[0], 512):
            seen += chunk
    return any(b in STOPS for b in seen)


def install_session_signals(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None], hangup: Callable[[], None]
) -> bool:
    """Handle SIGINT/SIGTERM with ``stop`` and SIGHUP with ``hangup`` on ``loop``; False (and
    nothing installed) off the main thread. A stop that arrived during start-up (see
    :func:`watch_start_up`) calls ``stop`` now, before the session connects."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    loop.add_signal_handler(signal.SIGHUP, hangup)
    # the loop's handlers now own the wakeup descriptor: nothing more reaches the pipe
    if stops_during_start_up():
        stop()
    return True


def remove_session_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in SIGNALS:
        loop.remove_signal_handler(sig)
