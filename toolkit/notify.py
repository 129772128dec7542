"""Notifications: email alerts for failed reports and significant events (drawdown crossed,
kill switch fired), used by live sessions, reports and the report scheduler. A leaf: it imports
nothing of the toolkit but its errors.

SMTP settings come from the environment, read once by :meth:`SmtpSettings.from_env` at the
edge of the program: ``TOOLKIT_SMTP_HOST``, ``TOOLKIT_SMTP_PORT`` (default 587),
``TOOLKIT_SMTP_STARTTLS`` (1/0, default 1), ``TOOLKIT_SMTP_USER``, ``TOOLKIT_SMTP_PASSWORD``,
``TOOLKIT_ALERT_FROM``, ``TOOLKIT_ALERT_TO`` (comma-separated) and ``TOOLKIT_SMTP_TIMEOUT``
(seconds per network step, default 20).

A live session sends through :class:`AlertQueue`, on its own thread: a slow or unreachable
mail server never holds up the trading loop or a shutdown.
"""

from __future__ import annotations

import contextlib
import queue
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING

from toolkit.errors import AlertError, ConfigError

if TYPE_CHECKING:  # pandas only for the drawdown check: sending mail needs none of it
    import pandas as pd

__all__ = [
    "AlertError",
    "AlertQueue",
    "SmtpSettings",
    "drawdown_crossed",
    "first_drawdown_breach",
    "kill_switch_fired",
    "report_failed",
    "send_email",
]


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send alert mail (the password stays out of its repr, hence out of
    logs and tracebacks)."""

    host: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "ibkr-toolkit@localhost"
    recipients: tuple[str, ...] = ()
    timeout: float = 20.0
    tls_context: ssl.SSLContext | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings | None:
        """Settings from environment variables, or None when TOOLKIT_SMTP_HOST is unset."""
        host = env.get("TOOLKIT_SMTP_HOST")
        if not host:
            return None
        try:
            port = int(env.get("TOOLKIT_SMTP_PORT", "587"))
        except ValueError:
            raise ConfigError("TOOLKIT_SMTP_PORT must be a port number, e.g. 587.") from None
        try:
            timeout = float(env.get("TOOLKIT_SMTP_TIMEOUT", "20"))
        except ValueError:
            timeout = -1.0
        if not 0.0 < timeout <= 3600.0:
            raise ConfigError("TOOLKIT_SMTP_TIMEOUT must be seconds between 0 and 3600, e.g. 20.")
        to = tuple(a.strip() for a in env.get("TOOLKIT_ALERT_TO", "").split(",") if a.strip())
        if not to:
            raise ConfigError("TOOLKIT_ALERT_TO is empty: give at least one address for alerts.")
        return cls(
            host=host,
            port=port,
            starttls=env.get("TOOLKIT_SMTP_STARTTLS", "1") != "0",
            user=env.get("TOOLKIT_SMTP_USER") or None,
            password=env.get("TOOLKIT_SMTP_PASSWORD") or None,
            sender=env.get("TOOLKIT_ALERT_FROM", "ibkr-toolkit@localhost"),
            recipients=to,
            timeout=timeout,
        )


def send_email(settings: SmtpSettings, subject: str, body: str) -> EmailMessage:
    """Send one plain-text message; raise AlertError (naming the server) when it fails."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.recipients)
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=settings.tls_context or ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise AlertError(
            f"could not send alert {subject!r} via {settings.host}:{settings.port}: {exc}. "
            "Check TOOLKIT_SMTP_* settings."
        ) from exc
    return msg


class AlertQueue:
    """Alert mail sent in order on a thread of its own: :meth:`put` returns at once, so a mail
    server that is slow, refuses or never answers (each attempt bounded by the settings'
    timeout) cannot delay whoever raises the alert -- a trading loop must cancel and flatten
    now and mail afterwards. Failures go to ``on_error``; at most ``maxsize`` mails wait
    (more are dropped and reported), and :meth:`close` waits a bounded time for the rest."""

    def __init__(
        self,
        settings: SmtpSettings,
        on_error: Callable[[str], None] | None = None,
        maxsize: int = 100,
    ) -> None:
        self.settings = settings
        self.on_error = on_error
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize)
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="toolkit-alerts", daemon=True)
        self._thread.start()

    def put(self, subject: str, body: str) -> bool:
        """Queue one message; False (and reported) when closed or the queue is full."""
        if self._closed:
            self._report(f"alert {subject!r} not sent: the alert queue is closed")
            return False
        try:
            self._queue.put_nowait((subject, body))
        except queue.Full:
            self.dropped += 1
            self._report(
                f"alert {subject!r} dropped: {self._queue.maxsize} alerts already waiting for "
                f"{self.settings.host}:{self.settings.port}"
            )
            return False
        return True

    @property
    def pending(self) -> int:
        """Messages queued or being sent."""
        waiting = sum(1 for item in list(self._queue.queue) if item is not None)
        return waiting + (1 if self._busy else 0)

    def close(self, timeout: float = 5.0) -> int:
        """Send what is queued, waiting at most ``timeout`` seconds; returns how many messages
        were left unsent (the thread is a daemon: it never keeps the process alive)."""
        self._closed = True
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return self.pending

    def _report(self, text: str) -> None:
        if self.on_error is not None:
            with contextlib.suppress(Exception):  # a reporter that is gone (a closed loop)
                self.on_error(text)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._busy = True
            try:
                send_email(self.settings, *item)
                self.sent += 1
            except Exception as exc:  # AlertError, or a message the mail library refuses
                self.failed += 1
                self._report(f"alert not sent: {exc}")
            finally:
                self._busy = False


def report_failed(settings: SmtpSettings, job: str, error: str) -> EmailMessage:
    """Alert: a scheduled report failed."""
    return send_email(
        settings,
        f"[ibkr-toolkit] report failed: {job}",
        f"The scheduled report {job!r} failed.\n\n{error}\n",
    )


def drawdown_crossed(
    settings: SmtpSettings, name: str, drawdown: float, threshold: float, when: pd.Timestamp
) -> EmailMessage:
    """Alert: equity fell more than ``threshold`` below its peak."""
    return send_email(
        settings,
        f"[ibkr-toolkit] drawdown {drawdown:.1%} beyond {threshold:.0%}: {name}",
        f"{name}: drawdown reached {drawdown:.2%} on {when}, "
        f"beyond the {threshold:.0%} threshold.\n",
    )


def kill_switch_fired(settings: SmtpSettings, session: str, reason: str) -> EmailMessage:
    """Alert: a live session's kill switch cancelled orders and flattened positions."""
    return send_email(
        settings,
        f"[ibkr-toolkit] KILL SWITCH: {session}",
        f"The kill switch of session {session!r} fired: {reason}\n",
    )


def first_drawdown_breach(
    equity: pd.Series, threshold: float, since: pd.Timestamp | None = None
) -> tuple[pd.Timestamp, float] | None:
    """When equity first fell ``threshold`` (e.g. 0.2) below its all-time running peak, on or
    after ``since``, and by how much."""
    import pandas as pd

    dd = equity / equity.cummax() - 1.0
    if since is not None:
        dd = dd[dd.index >= since]
    hit = dd[dd <= -threshold]
    if hit.empty:
        return None
    return pd.Timestamp(hit.index[0]), float(hit.iloc[0])
