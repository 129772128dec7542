"""The session's event log and its alert mail: lines stamped with the broker's time, kept for
the dashboard and echoed; alerts mailed once per key on a thread of their own."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import pandas as pd

from toolkit.notify import AlertQueue, SmtpSettings

ALERT_GRACE = 5.0  # seconds a shutdown waits for queued alert mail before giving up on it


class SessionLog:
    """What happened, one line each, stamped with the broker's clock as last read."""

    def __init__(self, echo: Callable[[str], None] | None) -> None:
        self.echo = echo
        self.lines: deque[str] = deque(maxlen=200)
        self.now: pd.Timestamp | None = None  # the broker's clock as last read
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, text: str) -> None:
        when = self.now.strftime("%Y-%m-%d %H:%M") if self.now is not None else ""
        line = f"[{when}] {text}" if when else text
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)

    def soon(self, text: str) -> None:
        """Log from another thread (the alert mailer): on the session's loop."""
        loop = self.loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self, text)
        else:
            self(text)


class Alerts:
    """Alert mail, once per key (a guard that keeps firing mails once per session), queued
    for the mail thread: the trading loop never waits for a mail server."""

    def __init__(self, settings: SmtpSettings | None, log: SessionLog) -> None:
        self.settings = settings
        self._log = log
        self._sent: set[str] = set()
        self._mail: AlertQueue | None = None

    def __call__(self, key: str, subject: str, body: str) -> None:
        if self.settings is None or key in self._sent:
            return
        self._sent.add(key)
        if self._mail is None:
            self._mail = AlertQueue(self.settings, on_error=self._log.soon)
        self._mail.put(f"[ibkr-toolkit] {subject}", body)

    async def close(self) -> None:
        """Give queued mail a bounded grace at shutdown, then say what was not sent."""
        mail, self._mail = self._mail, None
        if mail is None:
            return
        left = await asyncio.get_running_loop().run_in_executor(None, mail.close, ALERT_GRACE)
        if left:
            self._log(
                f"{left} alert mail(s) not sent: {mail.settings.host}:{mail.settings.port} "
                f"did not take them within {ALERT_GRACE:g} s"
            )
