"""Alerts over real SMTP (STARTTLS + login) to a server on 127.0.0.1."""

from __future__ import annotations

import pandas as pd
import pytest

from tests._smtp import PASSWORD, USER, HungServer, _free_port
from toolkit.errors import ConfigError
from toolkit.notify import (
    AlertError,
    AlertQueue,
    SmtpSettings,
    drawdown_crossed,
    first_drawdown_breach,
    kill_switch_fired,
    report_failed,
)


def _settings(port: int, tls, **kw) -> SmtpSettings:
    base = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": True,
        "user": USER,
        "password": PASSWORD,
        "sender": "toolkit@example.test",
        "recipients": ("trader@example.test",),
        "tls_context": tls,
    }
    return SmtpSettings(**{**base, **kw})


def test_report_failure_alert_is_received_over_starttls(smtp_server) -> None:
    port, box, tls = smtp_server
    report_failed(_settings(port, tls), "daily-performance", "KeyError: 'close'")
    assert box.logins == [USER]
    msg = box.messages[0]
    assert msg["Subject"] == "[ibkr-toolkit] report failed: daily-performance"
    assert msg["From"] == "toolkit@example.test" and msg["To"] == "trader@example.test"
    assert "KeyError: 'close'" in msg.get_payload()
    assert box.envelopes[0].rcpt_tos == ["trader@example.test"]


def test_drawdown_and_kill_switch_alerts(smtp_server) -> None:
    port, box, tls = smtp_server
    when = pd.Timestamp("2024-03-01", tz="UTC")
    drawdown_crossed(_settings(port, tls), "spy_sma_cross", -0.2134, 0.2, when)
    kill_switch_fired(_settings(port, tls), "paper-1", "daily loss limit 2% reached")
    subjects = [m["Subject"] for m in box.messages]
    assert subjects == [
        "[ibkr-toolkit] drawdown -21.3% beyond 20%: spy_sma_cross",
        "[ibkr-toolkit] KILL SWITCH: paper-1",
    ]
    assert "2024-03-01" in box.messages[0].get_payload()


def test_wrong_password_and_no_server_raise_clear_errors(smtp_server) -> None:
    port, box, tls = smtp_server
    with pytest.raises(AlertError, match=rf"via 127.0.0.1:{port}: .*Check TOOLKIT_SMTP"):
        report_failed(_settings(port, tls, password="nope", timeout=2.0), "job", "x")
    assert box.messages == []
    with pytest.raises(AlertError, match=r"127\.0\.0\.1:9"):
        report_failed(_settings(9, tls, timeout=2.0), "job", "x")


def test_settings_from_environment() -> None:
    assert SmtpSettings.from_env({}) is None
    s = SmtpSettings.from_env(
        {
            "TOOLKIT_SMTP_HOST": "mail.example",
            "TOOLKIT_SMTP_PORT": "2525",
            "TOOLKIT_SMTP_STARTTLS": "0",
            "TOOLKIT_ALERT_TO": "a@x, b@y",
            "TOOLKIT_SMTP_USER": "u",
            "TOOLKIT_SMTP_PASSWORD": "p",
        }
    )
    assert s is not None and (s.host, s.port, s.starttls, s.recipients) == (
        "mail.example",
        2525,
        False,
        ("a@x", "b@y"),
    )
    assert s.timeout == 20.0
    slow = SmtpSettings.from_env(
        {"TOOLKIT_SMTP_HOST": "h", "TOOLKIT_ALERT_TO": "a@b", "TOOLKIT_SMTP_TIMEOUT": "2.5"}
    )
    assert slow is not None and slow.timeout == 2.5
    with pytest.raises(ConfigError, match="TOOLKIT_SMTP_TIMEOUT"):
        SmtpSettings.from_env(
            {"TOOLKIT_SMTP_HOST": "h", "TOOLKIT_ALERT_TO": "a@b", "TOOLKIT_SMTP_TIMEOUT": "0"}
        )
    with pytest.raises(ConfigError, match="TOOLKIT_ALERT_TO is empty"):
        SmtpSettings.from_env({"TOOLKIT_SMTP_HOST": "mail.example"})
    with pytest.raises(ConfigError, match="TOOLKIT_SMTP_PORT"):
        SmtpSettings.from_env(
            {"TOOLKIT_SMTP_HOST": "h", "TOOLKIT_SMTP_PORT": "x", "TOOLKIT_ALERT_TO": "a@b"}
        )


def test_first_drawdown_breach() -> None:
    idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    equity = pd.Series([100, 110, 99, 95, 120, 100], index=idx, dtype=float)
    when, depth = first_drawdown_breach(equity, 0.12)
    assert when == idx[3] and depth == pytest.approx(95 / 110 - 1)
    assert first_drawdown_breach(equity, 0.2) is None


def test_breach_since_uses_the_all_time_peak() -> None:
    idx = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    equity = pd.Series([100, 80, 85, 84, 90], index=idx, dtype=float)
    # from day 3 on the drawdown is still -15% against the peak of 100, though the window's
    # own peak (85) is only 1% above day 4
    when, depth = first_drawdown_breach(equity, 0.1, since=idx[2])
    assert when == idx[2] and depth == pytest.approx(-0.15)


def test_settings_repr_hides_the_password() -> None:
    s = SmtpSettings("mail.example", 587, True, "alerts", "hunter2-secret", recipients=("a@b",))
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert "hunter2-secret" not in text
        assert "mail.example" in text and "alerts" in text  # the rest is still there to debug
    assert s.password == "hunter2-secret"
    env = SmtpSettings.from_env(
        {"TOOLKIT_SMTP_HOST": "h", "TOOLKIT_ALERT_TO": "a@b", "TOOLKIT_SMTP_PASSWORD": "pw-9x7"}
    )
    assert env is not None and "pw-9x7" not in repr(env)


def test_alert_queue_sends_in_order_off_the_caller_thread(smtp_server) -> None:
    port, box, tls = smtp_server
    q = AlertQueue(_settings(port, tls))
    assert q.put("first", "1\n") and q.put("second", "2\n")
    assert q.close(timeout=30.0) == 0
    assert [m["Subject"] for m in box.messages] == ["first", "second"]
    assert (q.sent, q.failed) == (2, 0)
    assert not q.put("late", "x")  # closed: refused, not silently lost


def test_alert_queue_does_not_wait_for_a_server_that_never_answers(hung_smtp: HungServer) -> None:
    errors: list[str] = []
    # ten minutes per network step: a caller that waited for this mail would hang the test
    q = AlertQueue(
        SmtpSettings("127.0.0.1", hung_smtp.port, False, recipients=("a@b",), timeout=600.0),
        on_error=errors.append,
    )
    assert q.put("kill switch", "x") and q.put("second", "y")
    assert hung_smtp.accepted.wait(30), "the alert thread never connected"
    assert q.pending == 2  # still waiting for the greeting
    assert q.close(timeout=0.2) == 2  # shutdown gives up on them, bounded
    assert not hung_smtp.client_closed.is_set()  # the send was still stuck when we moved on
    assert errors == []


def test_alert_queue_reports_a_refused_server() -> None:
    errors: list[str] = []
    port = _free_port()  # nothing listens there: connection refused
    q = AlertQueue(
        SmtpSettings("127.0.0.1", port, False, recipients=("a@b",), timeout=5.0),
        on_error=errors.append,
    )
    assert q.put("one", "x")
    assert q.close(timeout=30.0) == 0
    assert q.failed == 1 and len(errors) == 1
    assert errors[0].startswith("alert not sent: ") and f"127.0.0.1:{port}" in errors[0]


def test_alert_queue_is_bounded(hung_smtp: HungServer) -> None:
    errors: list[str] = []
    q = AlertQueue(
        SmtpSettings("127.0.0.1", hung_smtp.port, False, recipients=("a@b",), timeout=600.0),
        on_error=errors.append,
        maxsize=1,
    )
    assert q.put("stuck", "x")
    assert hung_smtp.accepted.wait(30)  # the worker holds the first one
    assert q.put("waiting", "y")
    assert not q.put("third", "z")
    assert q.dropped == 1 and errors and "'third' dropped" in errors[0]
    assert q.close(timeout=0.2) == 2
