"""The live session: IBKR (or the embedded gateway) in, the same signal functions, orders out.

One asyncio task runs the session with ``ib_async``:

1. start the embedded gateway simulator when no host is configured; refuse a live-trading
   port without ``--live``; connect, and refuse to trade unless the connected account is the
   configured one;
2. restore each strategy's book from the journal, then reconcile with the broker: replay its
   executions (idempotent by execId), match its open orders to ours by orderRef, resend an
   order that was journaled but never reached the broker, compare positions;
3. for each strategy x symbol load history and subscribe to bars (keepUpToDate); when a bar
   completes for all of a strategy's symbols, call the strategy's signal function on the
   window, turn target minus actual into orders through :class:`~toolkit.live.sleeve.Sleeve`
   (the engine's close-of-bar step and the shared risk rules), pass them through the guards
   and journal the decision and the order *before* sending it;
4. on a dropped connection reconnect with exponential backoff, reconcile, resubscribe;
5. on Ctrl+C / SIGTERM (or the simulator's end) stop new orders, cancel working orders if
   configured, warn about open positions and print the session summary.

:class:`LiveSession` orchestrates parts it is composed of, each owning its state:
:class:`~toolkit.live._broker.Broker` (ib_async: connection, orders, typed events),
:class:`~toolkit.live._ledger.Ledger` (the journal and the books, changed only through its
named methods), :class:`~toolkit.live._guards.Guards` (pre-send checks, halted symbols, guard
events), :class:`~toolkit.live._booking.Booking` (the broker's events booked into the ledger),
:mod:`toolkit.live._reconcile` (after a connect), and for a rehearsal
:class:`~toolkit.live._rehearsal.Lockstep` (the simulator's clock through its port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pandas as pd
from ib_async.objects import BarDataList

from toolkit import strategies
from toolkit.engine._risk_inputs import risk_context
from toolkit.gateway import Gateway
from toolkit.live import _reconcile
from toolkit.live import bars as livebars
from toolkit.live._alerts import Alerts
from toolkit.live._book_panel import book_views
from toolkit.live._booking import Booking
from toolkit.live._broker import Broker
from toolkit.live._connect import connect, unless_stopped
from toolkit.live._fault import Faults
from toolkit.live._guards import Guards
from toolkit.live._ledger import Ledger
from toolkit.live._lock import SessionLock
from toolkit.live._metrics import SessionMetrics
from toolkit.live._parent import ParentOrder
from toolkit.live._parent_desk import ParentDesk
from toolkit.live._parent_exits import due_exits
from toolkit.live._rehearsal import Lockstep, all_acted, rehearsal_end, start_simulator
from toolkit.live._reload import hangup
from toolkit.live._sdnotify import Notifier, watchdog
from toolkit.live._signals import install_session_signals, remove_session_signals
from toolkit.live._startup import (
    LiveError,
    StopRequested,
    books,
    session_record,
    session_target,
    stopped_while_connecting,
    trading_account,
)
from toolkit.live.brackets import exit_orders
from toolkit.live.commands import CommandDesk
from toolkit.live.config import LiveConfig, StrategySlot
from toolkit.live.endpoints import SessionEndpoints, endpoints_for
from toolkit.live.ib_algos import with_ib_algo, worked_by_broker
from toolkit.live.journal import Journal
from toolkit.live.orders import OrderRef, OrderSpec, entry_order
from toolkit.live.session_view import SessionView, add_books, parent_rows
from toolkit.live.sleeve import Outcome, Sleeve
from toolkit.live.summary import SessionSummary, format_summary, summarize
from toolkit.notify import SmtpSettings
from toolkit.risk.portfolio import RiskContext
from toolkit.strategies.latest import latest_targets

__all__ = [
    "LiveError",
    "LiveSession",
    "SessionView",
    "StopRequested",
    "run_session",
    "smtp_from_env",
]


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


class LiveSession:
    """One run of ``python -m toolkit.live run`` (see the module docstring)."""

    # built with the journal (_build_sleeves), before the broker's events are listened to
    ledger: Ledger  # the journal and the books
    guards: Guards
    booking: Booking  # the broker's events, booked
    _desk: ParentDesk  # parent orders worked by our schedules
    command_desk: CommandDesk  # manual commands, keys and CLI (toolkit.live.commands)

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
        endpoints: str | None = None,
    ) -> None:
        self.cfg = cfg
        # /healthz, /readyz, /metrics (toolkit.live.endpoints): --endpoints over [endpoints]
        self.endpoints_at = endpoints_for(endpoints, cfg.endpoints)
        self.endpoints: SessionEndpoints | None = None
        self.metrics = SessionMetrics()  # its own registry, never the process's global one
        self.synced = False  # reconciled and resubscribed since the last connect (/readyz)
        # the crash tests' kill point (toolkit.live._fault): given, or TOOLKIT_LIVE_FAULT as
        # it is now -- read here once, never on the send path
        self.fault = faults if faults is not None else Faults.from_env(os.environ)
        self.live = live
        target = session_target(
            cfg, cfg.name, live=live, host=host, port=port, session_id=session_id
        )
        self.host, self.port, self.embedded = target.host, target.port, target.embedded
        self.mode, self.sid = target.mode, target.sid
        self.install_signals = install_signals
        self.log = SessionLog(echo)
        self.alert = Alerts(alerts, self.log, self.log.soon)
        self.broker = Broker(self.sid, self.fault)
        self.journal: Journal | None = None
        self.gateway: Gateway | None = None  # the embedded simulator (its lifecycle only)
        self.lockstep: Lockstep | None = None  # its clock, through the port
        self.session_lock: SessionLock | None = None
        self.account = ""
        self.stopping = False
        self.stop_requested = False  # set by stop(): from then on no order is ever placed
        self._stop = asyncio.Event()  # leave the run loop (a stop request, the rehearsal's end)
        self._stop_asked = asyncio.Event()  # a stop request only: interrupts long waits
        self._lock = asyncio.Lock()  # one bar's decisions (or a resend) at a time
        self.streams: dict[tuple[str, str], BarDataList] = {}
        self.broker_checked = True  # reconcile could ask the broker about every order
        self.until: pd.Timestamp | None = None if until is None else _utc(until)
        self._tasks: set[asyncio.Future[None]] = set()
        self._failed: BaseException | None = None  # a look that raised in its own task
        self._loop: asyncio.AbstractEventLoop | None = None
        # parent orders worked by our schedules, by parent id (toolkit.live._parent_desk)
        self._parents: dict[str, ParentOrder] = {}

    # -- what the dashboard, the CLI and the tests read ----------------------------------
    @property
    def connected(self) -> bool:
        return self.broker.connected

    @property
    def reconnects(self) -> int:
        return self.broker.reconnects

    @property
    def events(self) -> list[str]:
        return list(self.log.lines)

    @property
    def broker_now(self) -> pd.Timestamp | None:
        return self.log.now

    @property
    def sleeves(self) -> dict[str, Sleeve]:
        ledger: Ledger | None = getattr(self, "ledger", None)
        return {} if ledger is None else ledger.sleeves

    @property
    def last_decided(self) -> dict[str, pd.Timestamp]:
        ledger: Ledger | None = getattr(self, "ledger", None)
        return {} if ledger is None else dict(ledger.last_decided)

    @property
    def halted(self) -> dict[str, str]:
        guards: Guards | None = getattr(self, "guards", None)
        return {} if guards is None else guards.halted

    @property
    def parents(self) -> dict[str, ParentOrder]:
        """Parent orders worked child by child by a schedule (``[strategies.execution]``), by
        parent id: progress, pause / resume / cancel (:class:`toolkit.live._parent.ParentOrder`)."""
        return self._parents

    @property
    def unstuck(self) -> int:
        return 0 if self.lockstep is None else self.lockstep.unstuck

    # -- start-up ------------------------------------------------------------------------
    async def _unless_stopped(self, work: Any) -> bool:
        """Await ``work`` unless a stop request comes first: False if stopped."""
        return await unless_stopped(work, self._stop_asked)

    async def _connect(self, first: bool) -> None:
        assert self.host is not None
        await connect(
            self.broker,
            self.cfg,
            self.host,
            self.port,
            first=first,
            stop=self._stop,
            stop_asked=self._stop_asked,
            log=self.log,
        )

    def _check_account(self) -> None:
        self.account = trading_account(
            self.cfg,
            self.broker.accounts(),
            live=self.live,
            embedded=self.embedded,
            endpoint=f"{self.host}:{self.port}",
            port=self.port,
            log=self.log,
        )

    def _start_simulator(self) -> None:
        """A rehearsal: the embedded gateway, its clock handed to the lockstep as a port."""
        self.gateway = start_simulator(self.cfg, self.sid)
        self.lockstep = Lockstep(self.gateway)
        self.host, self.port = "127.0.0.1", self.gateway.port
        self.until = rehearsal_end(self.cfg) or self.until
        self.log(
            f"embedded gateway simulator on 127.0.0.1:{self.port} "
            f"(replaying data/ from {self.lockstep.clock.clock.start:%Y-%m-%d %H:%M} UTC "
            f"at {self.cfg.simulator.speed:g}x)"
        )

    def _open_journal(self) -> None:
        path = self.cfg.session.journal
        path.parent.mkdir(parents=True, exist_ok=True)
        # one writer per session, for the process's life (a second bridge stops here)
        self.session_lock = SessionLock(path, self.sid)
        self.journal = Journal(path)

    def _build_sleeves(self) -> None:
        """Each strategy's book, the ledger over them and the journal, and the guards."""
        assert self.journal is not None
        sleeves = books(self.cfg)
        self.ledger = Ledger(self.journal, self.sid, sleeves, self.fault)
        self.guards = Guards(self.ledger, self.log, self.alert)
        self.booking = Booking(self.ledger, self.guards, self.log, self.alert, self.account)
        self._desk = ParentDesk(self.cfg, self.ledger, self._parents, self.log, self.broker.cancel)

    def _restore(self) -> None:
        """Rebuild every book from the journal of a resumed session."""
        n = self.ledger.restore(self.cfg.strategies)
        resumed = self._desk.restore()
        if resumed:
            self.log(f"resumed parent orders: {', '.join(resumed)}")
        if n:
            held = {k: v for s in self.sleeves.values() for k, v in s.positions.items() if v}
            self.log(
                f"resumed session {self.sid}: {n} journaled orders, positions {held or 'flat'}"
            )

    async def _qualify(self) -> None:
        symbols = sorted({s for slot in self.cfg.strategies for s in slot.symbols})
        missing = await self.broker.qualify(symbols)
        if missing:
            raise LiveError(
                f"unknown symbol(s) at the broker: {', '.join(missing)} (as US stocks on SMART); "
                f"fix [[strategies]] symbols in {self.cfg.source}."
            )

    async def _subscribe(self) -> None:
        for slot in self.cfg.strategies:
            for sym in slot.symbols:
                bars = await self.broker.bars(sym, slot.bar_size, slot.history, self._on_bar_update)
                if not bars:
                    raise LiveError(
                        f"no {slot.bar_size} history for {sym} from the broker "
                        f"(duration {slot.history}); check market-data permissions."
                    )
                self.streams[(slot.label, sym)] = bars
        await self._desk.subscribe(self.broker, self._on_bar_update)
        if self.cfg.session.depth_levels:  # the dashboard's order book panel
            symbols = sorted({s for slot in self.cfg.strategies for s in slot.symbols})
            self.depth_books = self.broker.depth(symbols, self.cfg.session.depth_levels)

    # -- after every (re)connect ---------------------------------------------------------
    async def _reconcile(self) -> None:
        """Replay the broker's executions (idempotent by execId), then settle the journal's
        open orders and compare positions (:mod:`toolkit.live._reconcile`)."""
        for ex in await self.broker.executions():
            self.booking.executed(ex)
            if ex.commission is not None and self.ledger.has_fill(ex.exec_id, ex.ref):
                self.ledger.book_commission(ex.ref, ex.exec_id, ex.commission)
        self.broker_checked = await _reconcile.settle_orders(
            self.broker, self.ledger, self.guards, self.log, self.cfg, self.account
        )

    async def _resend_unsent(self, now: pd.Timestamp) -> None:
        """Send again the orders journaled but never sent while their bar is the latest."""
        again = _reconcile.unsent(
            self.broker,
            self.ledger,
            self.cfg,
            self.broker_checked,
            lambda label: self._latest_bar(label, now),
        )
        for spec, legs in again:
            self.log(f"resending {spec.ref}: journaled, never reached the broker")
            self._place(spec, legs)

    def _latest_bar(self, label: str, now: pd.Timestamp) -> pd.Timestamp | None:
        """The strategy's latest complete bar (all its symbols) in the subscribed streams."""
        slot = next(x for x in self.cfg.strategies if x.label == label)
        ends = []
        for sym in slot.symbols:
            stream = self.streams.get((label, sym))
            if stream is None:
                return None
            f = livebars.completed(livebars.frame(stream), now, slot.bar_size)
            if f.empty:
                return None
            ends.append(pd.Timestamp(f.index[-1]))
        return min(ends)

    async def _after_connect(self) -> None:
        self.broker.listen(self.booking)
        await self._reconcile()
        self.fault("resume")
        self.streams.clear()
        await self._subscribe()
        async with self._lock:  # no decision before the unsent orders are settled
            with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                await self._resend_unsent(await self._clock())
                now = await self._clock()
                for spec in self._desk.resend(now, self.broker, self.broker_checked):
                    self.log(f"resending {spec.ref}: journaled, never reached the broker")
                    self._place(spec, [])
        await self._process_bars()
        self.synced = True

    async def _reconnect(self) -> None:
        self.synced = False
        lost = time.monotonic()
        await self._connect(first=False)
        if (
            self.connected
            and not self._stop.is_set()
            and await self._unless_stopped(self._after_connect())
        ):
            self.log(
                f"back in sync after {time.monotonic() - lost:.1f} s offline "
                f"(reconnect #{self.reconnects}): executions replayed, orders reconciled, "
                "bars resubscribed"
            )

    # -- bar -> decide -> guards -> journal -> place -------------------------------------
    def _on_bar_update(self, bars: BarDataList, has_new_bar: bool) -> None:
        if not self.stopping and not self.stop_requested:
            task = asyncio.ensure_future(self._process_bars())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(self._look_failed)

    def _look_failed(self, task: asyncio.Future[None]) -> None:
        """A look at the bars started by a bar update that raised (a strategy's bug, the
        journal) ends the session as the run loop's own look does -- run() raises it --
        instead of dying unseen in its task while the session trades on."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._failed = self._failed or exc
            self._stop.set()

    async def _clock(self) -> pd.Timestamp:
        """The broker's clock, which stamps the log too."""
        self.log.now = now = await self.broker.now()
        return now

    async def _process_bars(self) -> None:
        if self.stopping or self.stop_requested or not self.connected:
            return
        async with self._lock:
            try:
                now = await self._clock()
            except (TimeoutError, ConnectionError, OSError):
                return
            ledger = self.ledger
            newest: dict[str, set[pd.Timestamp]] = {}  # last complete bar per symbol
            for slot in self.cfg.strategies:
                frames: dict[str, pd.DataFrame] = {}
                for sym in slot.symbols:
                    stream = self.streams.get((slot.label, sym))
                    if stream is None:
                        break
                    frames[sym] = livebars.completed(livebars.frame(stream), now, slot.bar_size)
                newest[slot.label] = {
                    pd.Timestamp(f.index[-1]) for f in frames.values() if not f.empty
                }
                if len(frames) != len(slot.symbols) or any(f.empty for f in frames.values()):
                    continue
                latest = min(pd.Timestamp(f.index[-1]) for f in frames.values())
                if self.until is not None and livebars.bar_end(latest, slot.bar_size) > self.until:
                    continue  # past the session's end: not traded
                done = ledger.last_decided.get(slot.label)
                if done is not None and latest <= done:
                    continue
                # decided-ness is per strategy x symbol x bar: symbols a crash left decided
                # on this bar (a journal of an older toolkit) are not decided again
                skip = {
                    sym
                    for sym in slot.symbols
                    if (d := ledger.decided.get((slot.label, sym))) is not None and d >= latest
                }
                if all(latest in f.index for f in frames.values()):
                    t0 = time.perf_counter()
                    self._decide(slot, latest, frames, skip)
                    self.metrics.decided(slot.label, time.perf_counter() - t0)
                ledger.mark_decided(slot.label, slot.symbols, latest)
            # the minutes parents are worked on, journaled for their TCA (tca_history)
            minutes = {s: livebars.frame(st[-64:]) for s, st in self._desk.streams.items() if st}
            ledger.journal_bars(
                "1 min", {s: livebars.completed(m, now, "1 min") for s, m in minutes.items()}
            )
            await self._desk.sync()  # the minute bars of the symbols a parent works in
            for spec in self._desk.work(now):  # parents' children due now: journaled, then sent
                self.fault("after-journal")
                self._place(spec, [])
            exits = due_exits(self.parents.values(), self.cfg.strategies, ledger, self.broker,
                              self.broker_checked)  # fmt: skip
            for spec in exits:  # exits of the parents done (toolkit.live._parent_exits)
                self.fault("after-journal")
                self._place(spec, [])
            if self.until is not None and now >= self.until:
                # the end of the rehearsal, once the bars released there are acted on: the
                # clock stays where it is
                if self.lockstep is None or self.lockstep.may_end(
                    self.until, lambda held: self._acted_on(newest, held)
                ):
                    if not self._stop.is_set():
                        self.log(f"simulation reached its end ({self.until:%Y-%m-%d %H:%M} UTC)")
                    self._stop.set()
                return
            if self.lockstep is not None:
                await self.lockstep.release(
                    lambda held: self._acted_on(newest, held),
                    self.broker.unacknowledged,
                    looked_at=now,
                )

    def _acted_on(self, newest: dict[str, set[pd.Timestamp]], held: pd.Timestamp | None) -> bool:
        """Whether every strategy has acted on the newest bars (``newest``: each strategy's
        last complete bar per symbol), the bar the clock holds for among them."""
        if len(self.streams) < sum(len(slot.symbols) for slot in self.cfg.strategies):
            return False  # still subscribing
        if (
            held is not None
            and not any(
                len(st) and livebars.bar_label(st[-1].date) >= held for st in self.streams.values()
            )
            and not any(label >= held for label in self._desk.newest())
        ):
            return False  # the bar it holds for is still on its way to us
        return all_acted(newest, self.ledger.last_decided)

    def _decide(
        self,
        slot: StrategySlot,
        bar: pd.Timestamp,
        frames: dict[str, pd.DataFrame],
        skip: set[str] | None = None,
    ) -> None:
        """The strategy's signal on every symbol's window ending at ``bar``, then orders.

        The bar's decisions, their orders, the equity and position snapshots are one journal
        transaction, committed before any order is sent: a crash leaves the bar either wholly
        decided (orders journaled, maybe unsent: the restart asks the broker, then resends
        only while the bar is the latest) or not decided at all (the restart decides it).
        ``skip``: symbols already decided on this bar (their outcomes are not recorded)."""
        ledger = self.ledger
        with ledger.transaction():
            windows = {sym: f.loc[:bar] for sym, f in frames.items()}
            closes = {sym: float(w["close"].iloc[-1]) for sym, w in windows.items()}
            ledger.journal_bars(slot.bar_size, windows)
            # the backtest's signal function: per symbol, or once on the panel (cross-sectional)
            signals = latest_targets(strategies.get(slot.run.strategy), windows, slot.run.params)
            fired, planned = ledger.plan_orders(
                slot.label,
                bar,
                closes,
                signals,
                _risk_history(slot, windows),
                self._desk.pending(slot.label),
            )
            if fired is not None:
                self._kill(slot, fired)
            outcomes = [o for o in planned if o.symbol not in (skip or set())]
            now = self.log.now
            late = now is not None and now >= livebars.next_open(bar, slot.bar_size)
            if late and any(o.intent is not None for o in outcomes):
                self.log(
                    f"LATE: {slot.label} decided bar {bar:%Y-%m-%d %H:%M} at "
                    f"{now:%Y-%m-%d %H:%M} UTC, after the next open; its orders fill "
                    "later than a backtest's would"
                )
            to_send: list[tuple[OrderSpec, list[OrderSpec]]] = []
            for o in outcomes:
                did = ledger.journal_decision(slot.label, o, bar, late)
                if o.intent is not None:
                    self.fault("after-decision")
                if o.guards:
                    self.guards.decided(slot.label, o)
                if o.intent is not None:
                    sent = self._journal_order(slot, o, did, bar, queued=len(to_send))
                    if sent is not None:
                        to_send.append(sent)
            eq = ledger.journal_snapshot(slot.label, bar)
        sig = ", ".join(f"{s} {v:+.2f}" for s, v in signals.items())
        self.log(f"{slot.label} @ {bar:%Y-%m-%d %H:%M}: signals {sig}; equity {eq:,.2f}")
        for spec, legs in to_send:
            self.fault("after-journal")  # the restart tests' kill between the journal and the send
            self._place(spec, legs)

    def _kill(self, slot: StrategySlot, rule: str) -> None:
        sleeve = self.sleeves[slot.label]
        detail = (
            f"{slot.label}: equity {sleeve.last_equity:,.2f}, peak {sleeve.peak:,.2f}, "
            f"day start {sleeve.day_start:,.2f}; cancelling orders, flattening, no new trades"
        )
        # safety first: the cancels go out before the guard is journaled and mailed
        self.broker.cancel(self.ledger.open_refs(strategy=slot.label))
        self.guards.fire(rule, detail, slot.label, None)

    def _journal_order(
        self, slot: StrategySlot, o: Outcome, decision_id: int, bar: pd.Timestamp, queued: int
    ) -> tuple[OrderSpec, list[OrderSpec]] | None:
        """Journal the order of an outcome once the guards allow it; returns what to place
        once the bar's decisions are committed (None: withheld by a guard, a stop request or
        the journal). ``queued``: orders of this bar journaled before it, not placed yet."""
        intent = o.intent
        assert intent is not None
        sleeve = self.ledger.sleeves[slot.label]
        flatten = sleeve.killed is not None
        if self.stopping or self.stop_requested:
            return None
        if not self.guards.allows(slot, o.symbol, intent.quantity, self.log.now, queued, flatten):
            return None
        ref = OrderRef(self.sid, slot.label, o.symbol, bar)
        # protective orders of the old position no longer fit the new one
        self.broker.cancel(self.ledger.open_refs(slot.label, o.symbol, legs=True))
        if ParentDesk.worked(slot):  # a parent, worked child by child by the schedule
            self._desk.open_parent(slot, o, ref, decision_id, self.log.now or bar)
            return None
        s = slot.run.engine
        spec = entry_order(
            str(ref), o.symbol, intent.quantity, intent.price, s, daily=slot.bar_size == "1 day"
        )
        spec = with_ib_algo(spec, slot.execution, self.log.now or bar)  # IB algo / iceberg
        held = sleeve.positions[o.symbol]
        after = held + intent.quantity
        adds = abs(after) > abs(held) or after * held < 0
        legs = (
            exit_orders(spec, slot.exits, after, intent.price, s)
            if slot.exits is not None and adds and not flatten and not worked_by_broker(spec)
            else []  # a broker-worked entry's exits wait until it is done (_parent_exits)
        )
        if not self.ledger.journal_orders(ref, [spec, *legs], decision_id, intent.target):
            self.log(f"{ref} is already in the journal; not sending it again")
            return None
        return spec, legs

    def _place(self, spec: OrderSpec, legs: list[OrderSpec]) -> None:
        """Send an entry and its bracket legs -- never after a stop request, nor for a
        halted symbol (e.g. a resend after a reconnect found a mismatch)."""
        if self.stop_requested:
            self.log(f"not sent {spec.ref}: the session is stopping")
            return
        halted = self.guards.halted
        if spec.symbol in halted:
            self.ledger.withdraw(
                [spec, *legs], f"not sent: {spec.symbol} is halted (position mismatch)"
            )
            self.log(f"not sent {spec.ref}: {halted[spec.symbol]}")
            return
        self.broker.place(spec, legs, self.account)
        self.guards.sent()
        kind = spec.order_type + ("" if spec.tif == "DAY" else f" {spec.tif}")
        kind += f" {spec.algo_strategy}" if spec.algo_strategy else ""
        kind += f" iceberg {spec.display_size}" if spec.display_size else ""
        self.log(
            f"sent {spec.ref}: {spec.action} {spec.quantity:g} {spec.symbol} {kind}"
            + (f" + {len(legs)} bracket legs" if legs else "")
        )

    def _cancel_working(self, which: Callable[[str], bool]) -> list[str]:
        """Cancel the session's working orders whose ref ``which`` selects; returns them."""
        return self.broker.cancel([r for r in self.ledger.open_refs() if which(r)])

    # -- stop, view, run -----------------------------------------------------------------
    def stop(self) -> None:
        """Ask the session to shut down; safe from signal handlers and other threads. From
        this call on no order is placed, and a reconnect in progress gives up at once."""
        self.stop_requested = True
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._stop_asked.set)
            loop.call_soon_threadsafe(self._stop.set)
        else:
            self._stop_asked.set()
            self._stop.set()

    def view(self) -> SessionView:
        """Snapshot for the dashboard."""
        v = SessionView(
            self.sid,
            self.mode,
            self.account,
            f"{self.host}:{self.port}",
            self.connected,
            self.broker_now,
            events=self.events,  # the dashboard keeps fills and guards above routine lines
            halted=dict(self.halted),
            parents=parent_rows(getattr(self, "parents", {})),
        )
        ledger: Ledger | None = getattr(self, "ledger", None)
        orders = [] if ledger is None or self.journal is None else ledger.open_orders()
        v.books = book_views(getattr(self, "depth_books", {}), self.cfg.session.depth_levels)
        return add_books(v, self.sleeves, self.last_decided, orders)

    async def run(self, on_tick: Callable[[LiveSession], None] | None = None) -> SessionSummary:
        """Run until stopped (signal, :meth:`stop`, the simulator's end, or every strategy
        halted by its kill switch); returns the session summary."""
        logging.getLogger("ib_async").setLevel(logging.CRITICAL)
        loop = asyncio.get_running_loop()
        self._loop = self.log.loop = loop
        # SIGINT/SIGTERM stop, SIGHUP reloads [risk] (_reload): toolkit.live._signals
        signals = self.install_signals and install_session_signals(
            loop, self.stop, lambda: hangup(self)
        )
        try:
            if self.endpoints_at is not None:
                # published once listening: a caller reading session.endpoints.url before
                # start() got port 0 and a refused connection
                probes = SessionEndpoints(self, self.metrics, loop, self.endpoints_at).start()
                self.endpoints = probes
                self.log(f"endpoints on {probes.url} (/healthz /readyz /metrics)")
            if self.embedded:
                self._start_simulator()
            self._open_journal()
            await self._connect(first=True)
            if not self.connected or self._stop.is_set():
                raise stopped_while_connecting(self.host, self.port)
            self._check_account()
            self._build_sleeves()
            self.ledger.start(self.mode, self.account, session_record(self.cfg))
            self.log(
                f"session {self.sid} ({self.mode}) on {self.host}:{self.port}, "
                f"account {self.account}, journal {self.cfg.session.journal}"
            )
            self._restore()
            self.command_desk = CommandDesk(self)
            self.booking.modify_refused = self.command_desk.refused
            # a stop during these steps skips to the orderly shutdown (no order goes out)
            if await self._unless_stopped(self._qualify()):
                await self._unless_stopped(self._after_connect())  # then the clock may run
            sd = Notifier.from_env()  # systemd Type=notify: ready, watchdog, stopping
            sd.ready(f"session {self.sid} trading on {self.host}:{self.port}")
            pinger = asyncio.ensure_future(watchdog(sd))
            last_poll = 0.0
            while not self._stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.1)
                if self._stop.is_set():
                    break
                if not self.connected:
                    await self._reconnect()
                    continue
                if time.monotonic() - last_poll > 1.0:
                    last_poll = time.monotonic()
                    await self._process_bars()
                if self.lockstep is not None:
                    self.lockstep.unstick(busy=self._lock.locked())
                if not self._lock.locked():  # between bars, never inside one's decisions
                    self.command_desk.poll()
                if on_tick is not None:
                    on_tick(self)
                if (
                    self.until is not None
                    and self.broker_now is not None
                    and self.broker_now >= self.until
                ):
                    await self._process_bars()  # the last looks: the end's bars, then stop
                if self.ledger.halted_and_flat():
                    self.log("every strategy is halted by its kill switch and flat; stopping")
                    break
            sd.stopping(f"session {self.sid} stopping")
            pinger.cancel()
            return await self._shutdown()
        except BaseException:
            await self._teardown()
            raise
        finally:
            if signals:
                remove_session_signals(loop)

    def _no_new_orders(self) -> None:
        """From now on the session is stopping: no order, and a lost connection is no news."""
        self.stopping = True
        booking: Booking | None = getattr(self, "booking", None)
        if booking is not None:
            booking.stopping = True

    async def _shutdown(self) -> SessionSummary:
        if self._failed is not None:
            raise self._failed  # run() tears down and raises it (_look_failed)
        self._no_new_orders()
        self.log("stopping: no new orders")
        ledger = self.ledger
        if not self.connected and self.cfg.session.cancel_on_exit and ledger.open_orders():
            self.log(
                "WARNING: not connected, so working orders were not cancelled; check them "
                "(python -m toolkit.live cancel-all) once the gateway is back"
            )
        if self.connected and self.cfg.session.cancel_on_exit:
            cancelled = self._cancel_working(lambda ref: True)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and not self.broker.ended(cancelled):
                await asyncio.sleep(0.05)
            if cancelled:
                self.log(f"cancelled {len(cancelled)} working order(s)")
        held = {
            f"{label}:{sym}": q
            for label, s in self.sleeves.items()
            for sym, q in s.positions.items()
            if q
        }
        if held:
            self.log(
                "WARNING: open positions remain: "
                + ", ".join(f"{k} {v:+g}" for k, v in held.items())
            )
        marks = {sym: px for s in self.sleeves.values() for sym, px in s.closes.items()}
        ledger.end()
        summary = summarize(ledger.journal, self.sid, marks)
        if self.log.echo is not None:
            self.log.echo(format_summary(summary))
        await self._teardown()
        return summary

    async def _teardown(self) -> None:
        self._no_new_orders()
        with contextlib.suppress(Exception):
            self.broker.disconnect()
        if self.endpoints is not None:
            self.endpoints.stop()
            self.endpoints = None
        await self.alert.close()
        if self.gateway is not None:
            self.lockstep = None
            await asyncio.get_running_loop().run_in_executor(None, self.gateway.stop)
            self.gateway = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.session_lock is not None:
            self.session_lock.release()
            self.session_lock = None


def _utc(when: str | pd.Timestamp) -> pd.Timestamp:
    """A stop time in UTC; a bare date means that day's New York close."""
    ts = pd.Timestamp(when)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return livebars.bar_end(ts, "1 day") if ts == ts.normalize() else ts


def run_session(cfg: LiveConfig, **kwargs: Any) -> SessionSummary:
    """Run a session to its end from plain Python or a notebook (a running event loop, as in
    Jupyter, is left alone: the session gets its own loop on a worker thread)."""
    result: list[SessionSummary] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            kwargs.setdefault("install_signals", False)
            result.append(asyncio.run(LiveSession(cfg, **kwargs).run()))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    if running:
        t = threading.Thread(target=work, name="toolkit-live")
        t.start()
        t.join()
    else:
        work()
    if errors:
        raise errors[0]
    return result[0]


def smtp_from_env() -> SmtpSettings | None:
    """Alert mail settings from TOOLKIT_SMTP_* variables (None when unset)."""
    return SmtpSettings.from_env(os.environ)


def _risk_history(slot: StrategySlot, windows: dict[str, pd.DataFrame]) -> RiskContext | None:
    """What a strategy's portfolio rules estimate from at this bar: its symbols' closes on
    their common dates up to the bar, the last ``risk_window`` + 1 of them (the backtest's
    estimate at the same bar uses the same returns); None without portfolio rules."""
    risk = slot.risk
    if not risk.portfolio:
        return None
    panel = pd.concat({s: windows[s]["close"] for s in slot.symbols}, axis=1).dropna()
    panel = panel.iloc[-(risk.risk_window + 1) :]
    index = pd.DatetimeIndex(panel.index)
    return risk_context(panel.to_numpy(dtype="float64"), index, list(slot.symbols), risk)
