"""systemd's notify protocol (``Type=notify`` units, sd_notify(3)) with the stdlib socket.

A service started by systemd with ``NotifyAccess=main`` gets ``$NOTIFY_SOCKET`` (a unix
datagram socket; a leading ``@`` names one in the abstract namespace) and, with
``WatchdogSec=``, ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``). The service sends newline-separated
``KEY=value`` datagrams: ``READY=1`` once it works (systemd then counts the start as done),
``WATCHDOG=1`` at least every ``WATCHDOG_USEC`` (else systemd kills and, with ``Restart=``,
restarts it), ``RELOADING=1``/``READY=1`` around a reload, ``STOPPING=1`` when it shuts down and
``STATUS=...`` as the line ``systemctl status`` shows. Without ``$NOTIFY_SOCKET`` every call does
nothing, so the same code runs in a terminal.

The live session pings from its run loop (every 0.1 s it passes there), so a loop that hangs
-- not only a process that dies -- is restarted. Pings are sent at half the watchdog interval,
as sd_watchdog_enabled(3) recommends. No libsystemd binding: the protocol is one ``sendto``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    """Messages to the service manager; a no-op without ``$NOTIFY_SOCKET``."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.interval = watchdog_usec / 2e6 if watchdog_usec else None  # seconds between pings
        self._last_ping = 0.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        pid = env.get("WATCHDOG_PID")
        if env.get("WATCHDOG_USEC", "").isdigit() and (not pid or pid == str(os.getpid())):
            usec = int(env["WATCHDOG_USEC"])  # meant for this process (not a child it started)
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; False when there is no one to tell (or
        the socket is gone: a notification is never worth failing the service for)."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto("\n".join(fields).encode(), target)
        except OSError:
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def stopping(self, status: str = "stopping") -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def ping(self) -> bool:
        """``WATCHDOG=1`` when half the watchdog interval has passed since the last one."""
        if self.interval is None or self.address is None:
            return False
        now = time.monotonic()
        if now - self._last_ping < self.interval:
            return False
        self._last_ping = now
        return self.notify("WATCHDOG=1")


async def watchdog(notifier: Notifier) -> None:
    """Ping for as long as the event loop runs (a task of the session): a loop blocked by a
    hung call stops the pings and systemd restarts the service; a long reconnect does not."""
    if notifier.interval is None:
        return
    while True:
        notifier.ping()
        await asyncio.sleep(notifier.interval / 2)
