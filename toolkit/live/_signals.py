"""The signals a session handles on its event loop, one code path for every session kind:
SIGINT and SIGTERM stop it in order; SIGHUP calls the session's ``hangup`` (the stock session
reloads ``[risk]``: :func:`toolkit.live._reload.hangup`; the option session, which has no
reload, stops in order and says why). Only the main thread may install handlers; a session
run on another thread (Jupyter, tests) leaves signals to its host."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def install_session_signals(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None], hangup: Callable[[], None]
) -> bool:
    """Handle SIGINT/SIGTERM with ``stop`` and SIGHUP with ``hangup`` on ``loop``; False (and
    nothing installed) off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    loop.add_signal_handler(signal.SIGHUP, hangup)
    return True


def remove_session_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in SIGNALS:
        loop.remove_signal_handler(sig)
