"""A session's alert mail: once per key, queued for a thread of its own, so the trading loop
never waits for a mail server; what could not be sent is reported."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from toolkit.notify import AlertQueue, SmtpSettings

ALERT_GRACE = 5.0  # seconds a shutdown waits for queued alert mail before giving up on it


class Alerts:
    """Alert mail, once per key (a guard that keeps firing mails once per session), queued
    for the mail thread: the trading loop never waits for a mail server."""

    def __init__(
        self,
        settings: SmtpSettings | None,
        log: Callable[[str], None],
        log_soon: Callable[[str], None],
    ) -> None:
        """``log``: the session's log; ``log_soon``: the same from the mail thread."""
        self.settings = settings
        self._log = log
        self._log_soon = log_soon
        self._sent: set[str] = set()
        self._mail: AlertQueue | None = None

    def __call__(self, key: str, subject: str, body: str) -> None:
        if self.settings is None or key in self._sent:
            return
        self._sent.add(key)
        if self._mail is None:
            self._mail = AlertQueue(self.settings, on_error=self._log_soon)
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
