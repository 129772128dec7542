"""Email alerts: failed reports and significant events (drawdown crossed, kill switch fired).

SMTP settings come from the environment, read once by :meth:`SmtpSettings.from_env` at the
edge of the program: ``TOOLKIT_SMTP_HOST``, ``TOOLKIT_SMTP_PORT`` (default 587),
``TOOLKIT_SMTP_STARTTLS`` (1/0, default 1), ``TOOLKIT_SMTP_USER``, ``TOOLKIT_SMTP_PASSWORD``,
``TOOLKIT_ALERT_FROM`` and ``TOOLKIT_ALERT_TO`` (comma-separated).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage

import pandas as pd

from toolkit.errors import ConfigError, ToolkitError


class AlertError(ToolkitError):
    """An alert could not be delivered."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send alert mail."""

    host: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = None
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
    dd = equity / equity.cummax() - 1.0
    if since is not None:
        dd = dd[dd.index >= since]
    hit = dd[dd <= -threshold]
    if hit.empty:
        return None
    return pd.Timestamp(hit.index[0]), float(hit.iloc[0])
