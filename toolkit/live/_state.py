"""The state every part of a live session shares, and the helpers all of them use (log,
journal, alerts, guard events). :class:`toolkit.live.bridge.LiveSession` puts the parts together.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
from ib_async import IB, Contract, Trade
from ib_async.objects import BarDataList

from toolkit.errors import ConfigError, ToolkitError
from toolkit.gateway import Gateway
from toolkit.live import bars as livebars
from toolkit.live._clock import ClockPort
from toolkit.live._fault import Faults
from toolkit.live._lock import SessionLock
from toolkit.live.config import LIVE_PORTS, LiveConfig
from toolkit.live.journal import Journal
from toolkit.live.sleeve import Sleeve
from toolkit.notify import AlertQueue, SmtpSettings

_FINAL = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
ALERT_GRACE = 5.0  # seconds a shutdown waits for queued alert mail before giving up on it


class LiveError(ToolkitError):
    """The session cannot start or continue safely (connection, account, contracts)."""


class StopRequested(LiveError):
    """A stop (Ctrl+C, SIGTERM, :meth:`stop`) came before the session had started trading."""


class SessionState:
    """Configuration, connections, books and bookkeeping of one session."""

    def __init__(
        self,
        cfg: LiveConfig,
        *,
        live: bool = False,
        host: str | None = None,
        port: int | None = None,
        session_id: str | None = None,
        alerts: SmtpSettings | None = None,
        echo: Callable[[str], None] | None = print,
        install_signals: bool = True,
        until: str | pd.Timestamp | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.cfg = cfg
        # the crash tests' kill point (toolkit.live._fault): given, or TOOLKIT_LIVE_FAULT as
        # it is now -- read here once, never on the send path
        self.fault = faults if faults is not None else Faults.from_env(os.environ)
        self.live = live
        self.host = host if host is not None else cfg.connection.host
        self.port = port if port is not None else cfg.connection.port
        self.embedded = self.host is None
        if self.port in LIVE_PORTS and not self.embedded and not live:
            raise ConfigError(
                f"port {self.port} is a live-trading port of IB Gateway/TWS; pass --live to "
                "trade real money, or use the paper ports 4002 (Gateway) / 7497 (TWS)."
            )
        if live and not cfg.connection.account:
            raise ConfigError(
                f"{cfg.source}: [connection] account is required with --live, so the session "
                "can refuse any account but yours."
            )
        self.mode = "simulated" if self.embedded else ("live" if live else "paper")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.sid = (
            session_id
            or cfg.session.session_id
            or (f"{cfg.name}-{stamp}" if self.embedded else cfg.name)
        )
        self.alerts = alerts
        self.echo = echo
        self.install_signals = install_signals
        self.ib = IB()
        self.gateway: Gateway | None = None  # the embedded simulator (its lifecycle only)
        self.sim_clock: ClockPort | None = None  # its lockstep clock, through the port
        self.journal: Journal | None = None
        self.session_lock: SessionLock | None = None
        self.account = ""
        self.connected = False
        self.stopping = False
        self.stop_requested = False  # set by stop(): from then on no order is ever placed
        self._stop = asyncio.Event()  # leave the run loop (a stop request, the rehearsal's end)
        self._stop_asked = asyncio.Event()  # a stop request only: interrupts long waits
        self._lock = asyncio.Lock()
        self.sleeves: dict[str, Sleeve] = {}
        self._engines = {s.label: s.run.engine for s in cfg.strategies}
        self.contracts: dict[str, Contract] = {}
        self.streams: dict[tuple[str, str], BarDataList] = {}
        self.last_decided: dict[str, pd.Timestamp] = {}  # bar decided for all its symbols
        self.decided: dict[tuple[str, str], pd.Timestamp] = {}  # per strategy x symbol
        self.broker_checked = True  # reconcile could ask the broker about every order
        self.ref_owner: dict[str, tuple[str, str]] = {}
        self.ref_bar: dict[str, pd.Timestamp] = {}
        self.order_ids: dict[int, str] = {}
        self.trades: dict[str, Trade] = {}
        self.sent_times: deque[float] = deque()
        self.events: deque[str] = deque(maxlen=200)
        self.broker_now: pd.Timestamp | None = None
        self.until: pd.Timestamp | None = None if until is None else _utc(until)
        self._alerted: set[str] = set()
        self._mail: AlertQueue | None = None
        # symbols whose broker position disagrees with the journal ([risk] on_mismatch =
        # "halt"): no order for them until the positions agree again; value: why
        self.halted: dict[str, str] = {}
        self._statuses: dict[str, tuple[str, float]] = {}
        self.reconnects = 0
        self._handlers_installed = False
        self._tasks: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: tuple[pd.Timestamp | None, float] | None = None
        self.unstuck = 0  # times the rehearsal clock had to be released by the fallback

    # -- small helpers -------------------------------------------------------------------
    def log(self, text: str) -> None:
        when = self.broker_now.strftime("%Y-%m-%d %H:%M") if self.broker_now is not None else ""
        line = f"[{when}] {text}" if when else text
        self.events.append(line)
        if self.echo is not None:
            self.echo(line)

    @property
    def j(self) -> Journal:
        assert self.journal is not None
        return self.journal

    def _log_soon(self, text: str) -> None:
        """:meth:`log` from another thread (the alert mailer): run it on the session's loop."""
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self.log, text)
        else:
            self.log(text)

    def _alert(self, key: str, subject: str, body: str) -> None:
        """Mail an alert once per key (a guard that keeps firing mails once per session). The
        mail is queued for the alert thread: the trading loop never waits for a mail server."""
        if self.alerts is None or key in self._alerted:
            return
        self._alerted.add(key)
        if self._mail is None:
            self._mail = AlertQueue(self.alerts, on_error=self._log_soon)
        self._mail.put(f"[ibkr-toolkit] {subject}", body)

    async def _close_alerts(self) -> None:
        """Give queued alert mail a bounded grace at shutdown, then say what was not sent."""
        mail, self._mail = self._mail, None
        if mail is None:
            return
        left = await asyncio.get_running_loop().run_in_executor(None, mail.close, ALERT_GRACE)
        if left:
            self.log(
                f"{left} alert mail(s) not sent: {mail.settings.host}:{mail.settings.port} "
                f"did not take them within {ALERT_GRACE:g} s"
            )

    def _guard(self, guard: str, detail: str, slot: str | None, symbol: str | None) -> None:
        """A guard fired: journal, log, alert."""
        self.j.record_guard(self.sid, guard=guard, detail=detail, symbol=symbol, strategy=slot)
        self.log(f"GUARD {guard}: {detail}")
        self._alert(
            f"{guard}/{slot}/{symbol}",
            f"guard {guard} fired: {self.sid}",
            f"Session {self.sid}, strategy {slot}, symbol {symbol}: {detail}\n",
        )


def _utc(when: str | pd.Timestamp) -> pd.Timestamp:
    """A stop time in UTC; a bare date means that day's New York close."""
    ts = pd.Timestamp(when)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return livebars.bar_end(ts, "1 day") if ts == ts.normalize() else ts
