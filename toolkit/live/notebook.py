"""A live session from a notebook: :class:`NotebookSession` runs the one session loop of
``python -m toolkit.live run`` (:meth:`toolkit.live.bridge.LiveSession.run`: the same journal,
guards, kill switch, manual commands and, on the embedded simulator, the same lockstep
rehearsal) as a task on the event loop that is already running -- Jupyter's -- and answers
while it trades::

    s = NotebookSession.from_config("live/paper.toml")   # paper by default
    await s.start()              # connected, reconciled, trading (errors raise here)
    s.status()                   # the numbers of `python -m toolkit.live status`
    s.positions(); s.fills(); s.events()
    await s.stop()               # orderly: as Ctrl+C leaves the CLI's session

Nothing runs on a hidden thread and no loop is patched: the session advances whenever the
notebook is idle or awaits (``await s.wait_until("2023-06-20")``, ``await s.wait()``). An
error that ends the session is kept and raised again by :meth:`~NotebookSession.status`,
:meth:`~NotebookSession.wait` and :meth:`~NotebookSession.stop` (and said once on stderr when
it happens), never swallowed. A live-trading port or account needs ``live=True`` and
``[connection] account``, as ``--live`` does on the CLI.
"""

from __future__ import annotations

import asyncio
import html
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from toolkit import _logfiles
from toolkit.live.bridge import LiveError, LiveSession, StopRequested, smtp_from_env
from toolkit.live.config import LiveConfig, load_live_config
from toolkit.live.journal import Journal
from toolkit.live.session_view import SessionView
from toolkit.live.summary import SessionSummary, format_summary, summarize
from toolkit.notify import SmtpSettings

__all__ = ["NotebookSession"]

_POSITION_COLUMNS = [
    "strategy",
    "symbol",
    "quantity",
    "avg_cost",
    "last",
    "unrealized",
    "weight",
    "risk_share",
]


class NotebookSession:
    """A paper (default) or live session running as a task on the current asyncio loop.

    ``cfg``: a live config (:func:`~toolkit.live.config.load_live_config`); the keywords are
    the CLI's options: ``live`` (``--live``), ``host``/``port`` (default: the config's, or the
    embedded simulator), ``session_id`` (``--session``: resume one), ``until`` (stop at this
    broker time; a bare date: its close), ``endpoints`` (``--endpoints``: /healthz, /readyz,
    /metrics). ``echo`` receives each log line (default: kept, see :meth:`log`); ``alerts``:
    mail settings (default: ``TOOLKIT_SMTP_*``, as the CLI).
    A live port without ``live=True`` is refused here with the CLI's ConfigError."""

    def __init__(
        self,
        cfg: LiveConfig,
        *,
        live: bool = False,
        host: str | None = None,
        port: int | None = None,
        session_id: str | None = None,
        until: str | pd.Timestamp | None = None,
        echo: Callable[[str], None] | None = None,
        alerts: SmtpSettings | None = None,
        endpoints: str | None = None,
    ) -> None:
        self.config = cfg
        self.session = LiveSession(
            cfg,
            live=live,
            host=host,
            port=port,
            session_id=session_id,
            alerts=alerts if alerts is not None else smtp_from_env(),
            echo=echo,
            install_signals=False,  # the kernel's Ctrl+C / interrupt stays the kernel's
            until=until,
            endpoints=endpoints,
        )
        self._task: asyncio.Task[SessionSummary] | None = None
        self._trading: asyncio.Future[NotebookSession] | None = None
        self._summary: SessionSummary | None = None
        self._error: BaseException | None = None
        self._stop_called = False
        self._logfile: _logfiles.LogFile | None = None

    @classmethod
    def from_config(
        cls,
        path: str | Path,
        *,
        live: bool = False,
        host: str | None = None,
        port: int | None = None,
        session_id: str | None = None,
        until: str | pd.Timestamp | None = None,
        echo: Callable[[str], None] | None = None,
        alerts: SmtpSettings | None = None,
        endpoints: str | None = None,
    ) -> NotebookSession:
        """The session of the live config at ``path`` (``live/paper.toml``), with the CLI's
        overrides; ConfigError names what is wrong in the file."""
        return cls(
            load_live_config(path),
            live=live,
            host=host,
            port=port,
            session_id=session_id,
            until=until,
            echo=echo,
            alerts=alerts,
            endpoints=endpoints,
        )

    # -- identity and state --------------------------------------------------------------
    @property
    def session_id(self) -> str:
        return self.session.sid

    @property
    def mode(self) -> str:
        """``simulated`` (the embedded simulator), ``paper`` or ``live``."""
        return self.session.mode

    @property
    def journal_path(self) -> Path:
        return self.config.session.journal

    @property
    def broker_time(self) -> pd.Timestamp | None:
        """The broker's clock as the session last read it."""
        return self.session.broker_now

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def trading(self) -> bool:
        """Started and past start-up (connected, reconciled, deciding bars)."""
        return self._trading is not None and self._trading.done() and self.running

    @property
    def state(self) -> str:
        """``not started``, ``starting``, ``running``, ``stopping``, ``ended``, ``stopped``
        or ``failed``."""
        if self._task is None:
            return "not started"
        if not self._task.done():
            if self.session.stop_requested or self.session.stopping:
                return "stopping"
            return "running" if self.trading else "starting"
        if self._error is not None:
            return "stopped" if isinstance(self._error, StopRequested) else "failed"
        return "stopped" if self._stop_called else "ended"

    @property
    def summary(self) -> SessionSummary | None:
        """The summary the session printed when it ended (None until then)."""
        return self._summary

    @property
    def error(self) -> BaseException | None:
        """What ended the session, if it did not end in order."""
        return self._error

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> asyncio.Future[NotebookSession]:
        """Schedule the session on the running loop and return at once; the returned future
        completes when it trades (``await s.start()``), or raises what stopped start-up
        (connection, account, contracts: the CLI's one-line errors). Once only."""
        if self._task is not None:
            raise LiveError(
                f"session {self.session_id} was already started ({self.state}); a session "
                "runs once: make a new NotebookSession (session_id= resumes this one's journal)"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise LiveError(
                "NotebookSession.start() needs a running asyncio event loop (a Jupyter cell, "
                "or a coroutine run by asyncio.run); from a script use `python -m toolkit.live "
                "run` or toolkit.live.run_session."
            ) from None
        # the CLI's log file: [logs] of the config or TOOLKIT_LOG_* (toolkit._logfiles)
        self._logfile = _logfiles.open_log(
            f"live-{self.config.source.stem}",
            _logfiles.settings_from(None, table=self.config.logs),
            ["toolkit.live", "toolkit.gateway"],
        )
        if self._logfile is not None:
            self.session.log.echo = self._logfile.tee(self.session.log.echo)
        self._trading = loop.create_future()
        self._task = loop.create_task(
            self.session.run(on_tick=self._tick),
            name=f"toolkit-live {self.session_id}",
            # its package loggers' records (its simulator's too) reach its own file only,
            # not the file of another session in this kernel
            context=None if self._logfile is None else self._logfile.context(),
        )
        self._task.add_done_callback(self._finished)
        return self._trading

    def _tick(self, session: LiveSession) -> None:
        """Each pass of the session's loop: the first one means start-up is over."""
        if self._trading is not None and not self._trading.done():
            self._trading.set_result(self)

    @property
    def log_file(self) -> Path | None:
        """The rotated log file the session writes (``[logs] dir``), None without one."""
        return None if self._logfile is None else self._logfile.path

    def _finished(self, task: asyncio.Task[SessionSummary]) -> None:
        if self._logfile is not None:
            self._logfile.close()  # keeps its path for log_file
        if task.cancelled():
            self._error = LiveError(
                f"session {self.session_id} was cancelled (its task, not stop()); it shut "
                "down without its summary: check its orders (python -m toolkit.live status)"
            )
        elif (exc := task.exception()) is not None:  # retrieved: raised again on demand
            if isinstance(exc, KeyboardInterrupt):  # a kernel interrupt inside a session step
                exc = LiveError(
                    f"session {self.session_id} was interrupted (kernel interrupt) in the middle "
                    "of a step and shut down without its orderly stop: working orders were not "
                    "cancelled; check them (python -m toolkit.live status, cancel-all). "
                    "Use `await s.stop()` to stop a session."
                )
            self._error = exc
            if not (self._stop_called and isinstance(exc, StopRequested)):
                print(
                    f"session {self.session_id} ended with an error: {exc} "
                    "(status(), wait() and stop() raise it)",
                    file=sys.stderr,
                )
        else:
            self._summary = task.result()
        trading = self._trading
        if trading is not None and not trading.done():
            # start-up was over (the session took commands) before its first pass ended in
            # the error: start() resolves, and wait()/stop()/status() raise the error
            started = getattr(self.session, "command_desk", None) is not None
            if self._error is not None and not started:
                trading.set_exception(self._error)
                trading.exception()  # retrieved here; status() and wait() raise it too
            else:
                trading.set_result(self)  # ended before its first pass, or failed after start-up

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    async def wait(self, timeout: float | None = None) -> SessionSummary | None:
        """Wait until the session ends (the rehearsal's end, ``until``, :meth:`stop`, every
        strategy halted by its kill switch) and return its summary; raises what ended it
        otherwise. ``timeout`` (seconds): TimeoutError after it, the session running on."""
        task = self._started()
        if not self._stop_called:
            self._hold(None)  # a rehearsal held by wait_until runs on (a stop stops there)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            raise TimeoutError(
                f"session {self.session_id} still running after {timeout:g} s "
                f"(broker time {self.broker_time})"
            )
        if self._stop_called and isinstance(self._error, StopRequested):
            return None  # stopped before it traded: nothing to sum up
        self._raise_error()
        return self._summary

    async def stop(self, timeout: float | None = None) -> SessionSummary | None:
        """Stop in order, as Ctrl+C stops ``python -m toolkit.live run``: no new order,
        working orders cancelled when ``[session] cancel_on_exit`` says so, the journal
        closed, the summary returned (None when stopped before it traded)."""
        self._started()
        self._stop_called = True
        self.session.stop()
        return await self.wait(timeout)

    def _hold(self, when: pd.Timestamp | None) -> bool:
        """A rehearsal's clock kept at the first instant at or after ``when`` (None: run
        on); whether the clock is held there now (always True outside a rehearsal)."""
        lockstep = self.session.lockstep
        if lockstep is None:
            return True
        lockstep.hold(when)
        return lockstep.holding is not None

    async def wait_until(self, when: str | pd.Timestamp, timeout: float | None = None) -> bool:
        """Let the session run until the broker's clock reaches ``when`` (UTC when naive);
        False if it ended first. In a rehearsal the clock moves bar by bar with the session
        and then stays at the first bar's release at or after ``when``, the session having
        acted on that bar, until the next ``wait_until``, :meth:`wait` or :meth:`stop`: what
        a look shows is that instant's, the same on every run."""
        task = self._started()
        target = pd.Timestamp(when)
        target = target.tz_localize("UTC") if target.tzinfo is None else target.tz_convert("UTC")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not task.done():
            now = self.broker_time
            held = self._hold(target)  # (again each poll: the rehearsal may start late)
            if now is not None and now >= target and self.trading and held:
                return True
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"session {self.session_id}: broker time {now} has not reached "
                    f"{target} after {timeout:g} s"
                )
            await asyncio.sleep(0.02)
        self._raise_error()
        return False

    def _started(self) -> asyncio.Task[SessionSummary]:
        if self._task is None:
            raise LiveError(f"session {self.session_id} has not been started; call start()")
        return self._task

    # -- what it did ---------------------------------------------------------------------
    def status(self) -> SessionSummary:
        """The session's summary from its journal -- exactly what ``python -m toolkit.live
        status`` prints for it, while it runs and after; raises what ended the session if it
        did not end in order."""
        self._started()
        self._raise_error()
        if not (self._trading is not None and self._trading.done()):
            raise LiveError(
                f"session {self.session_id} is still starting (connecting, reconciling); "
                "`await s.start()` waits until it trades"
            )
        with Journal(self.journal_path) as j:
            return summarize(j, self.session_id)

    def view(self) -> SessionView:
        """The dashboard's snapshot: books, positions, signals, risk, working orders."""
        return self.session.view()

    def positions(self) -> pd.DataFrame:
        """Each strategy's positions as booked from its fills, marked at its last close."""
        return pd.DataFrame(self.view().positions, columns=_POSITION_COLUMNS)

    def orders(self, working: bool = False) -> pd.DataFrame:
        """The session's journaled orders (``working=True``: those still working)."""
        if working:
            return pd.DataFrame(self.view().orders)
        return self._rows("orders")

    def fills(self) -> pd.DataFrame:
        """The session's fills from its journal, with the signal price they are judged by."""
        with self._journal() as j:
            return pd.DataFrame(j.session_fills(self.session_id))

    def events(self) -> pd.DataFrame:
        """The session's guard events (kill switch, risk rules, halts, manual commands)."""
        return self._rows("guard_events")

    def decisions(self) -> pd.DataFrame:
        """Every decision: bar, symbol, signal, price, target and current quantity."""
        return self._rows("decisions")

    def log(self, last: int = 20) -> list[str]:
        """The session's newest log lines (the CLI's ``--no-dashboard`` output)."""
        return self.session.events[-last:]

    def _journal(self) -> Journal:
        if not self.journal_path.is_file():
            raise LiveError(f"{self.journal_path}: no journal yet; start() the session first")
        return Journal(self.journal_path)

    def _rows(self, table: str) -> pd.DataFrame:
        with self._journal() as j:
            return pd.DataFrame(j.rows(table, self.session_id))

    # -- display -------------------------------------------------------------------------
    def __repr__(self) -> str:
        when = self.broker_time
        at = f", broker time {when:%Y-%m-%d %H:%M}" if when is not None else ""
        return f"<NotebookSession {self.session_id} ({self.mode}) {self.state}{at}>"

    def __str__(self) -> str:
        if self._summary is not None:
            return format_summary(self._summary)
        return repr(self)

    def _repr_html_(self) -> str:
        """A compact card for Jupyter: state, books, positions, working orders, last lines."""
        v = self.view()
        esc = html.escape
        head = (
            f"<b>{esc(self.session_id)}</b> ({esc(self.mode)}"
            + (f", account {esc(v.account)}" if v.account else "")
            + f") &mdash; <b>{esc(self.state)}</b>"
            + (f", broker time {v.broker_time:%Y-%m-%d %H:%M} UTC" if v.broker_time else "")
        )
        if self._error is not None:
            head += f"<br><span style='color:#b00'>{esc(str(self._error))}</span>"
        parts = [f"<div>{head}</div>"]
        for title, rows in (("books", v.sleeves), ("positions", v.positions), ("working orders",
                            v.orders)):  # fmt: skip
            if rows:
                table = pd.DataFrame(rows).to_html(index=False, float_format="{:,.2f}".format)
                parts.append(f"<div><i>{title}</i>{table}</div>")
        if v.events:
            lines = "\n".join(esc(x) for x in v.events[-5:])
            parts.append(f"<pre style='font-size:85%'>{lines}</pre>")
        return "\n".join(parts)
