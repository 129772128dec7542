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
   (the engine's rules and the shared risk rules), journal the decision and the order
   *before* sending it;
4. on a dropped connection reconnect with exponential backoff, reconcile, resubscribe;
5. on Ctrl+C / SIGTERM (or the simulator's end) stop new orders, cancel working orders if
   configured, warn about open positions and print the session summary.

Parts: :mod:`toolkit.live._state` (shared state, log, alerts, guard events),
:mod:`toolkit.live._broker_sync` (broker events, restore, reconcile, order placement),
:mod:`toolkit.live._rehearsal` (the embedded simulator and its lockstep clock); this module
connects, decides and runs the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from ib_async import Contract, Stock
from ib_async.objects import BarDataList

from toolkit import strategies
from toolkit.engine.backtest import book_weights
from toolkit.live import bars as livebars
from toolkit.live._broker_sync import BrokerSync
from toolkit.live._lock import SessionLock
from toolkit.live._rehearsal import Rehearsal
from toolkit.live._state import _FINAL, LiveError, StopRequested
from toolkit.live.config import PAPER_PORTS, LiveConfig, StrategySlot
from toolkit.live.journal import Journal
from toolkit.live.orders import OrderSpec, bracket_legs, entry_order, is_bracket_leg, order_ref
from toolkit.live.session_view import SessionView
from toolkit.live.sleeve import Decision, Outcome, Sleeve
from toolkit.live.summary import SessionSummary, format_summary, summarize
from toolkit.notify import SmtpSettings
from toolkit.strategies.latest import latest_targets

__all__ = [
    "LiveError",
    "LiveSession",
    "SessionView",
    "StopRequested",
    "run_session",
    "smtp_from_env",
]


CLIENT_ID_IN_USE = 326  # IB: "Unable to connect as the client id is already in use"


class ClientIdInUse(ConnectionError):
    """The gateway refused the configured client id (IB error 326)."""


class LiveSession(BrokerSync, Rehearsal):
    """One run of ``python -m toolkit.live run`` (see the module docstring)."""

    async def _unless_stopped(self, work: Any) -> bool:
        """Await ``work`` unless a stop request comes first (then cancel it): False if stopped.
        Waits that can last (connecting, backoff) go through here, so a stop is never held up
        by an unreachable gateway."""
        job = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stop_asked.wait())
        try:
            await asyncio.wait({job, stop}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            job.cancel()
            raise
        finally:
            stop.cancel()
        if not job.done():
            # cancel, and again if the first was swallowed (asyncio.wait_for in Python 3.11
            # drops a cancel that lands as its inner wait completes); never wait on it long
            for _ in range(3):
                job.cancel()
                await asyncio.wait({job}, timeout=0.5)
                if job.done():
                    break
            if job.done() and not job.cancelled():
                job.exception()  # retrieved: a late failure of abandoned work is not an error
            return False
        job.result()  # its exception, if any
        return True

    async def _connect(self, first: bool) -> None:
        """Connect, retrying with exponential backoff (first connect: a few tries only); a stop
        request ends the attempt and the retries at once (``connected`` stays False)."""
        assert self.host is not None
        delay, tries = 0.5, 0
        while not self._stop.is_set():
            tries += 1
            try:
                done = await self._unless_stopped(self._connect_once())
                if not done:
                    with contextlib.suppress(Exception):
                        self.ib.disconnect()
                    return
                self.connected = True
                return
            except Exception as exc:  # refused, timed out, client id still held, ...
                with contextlib.suppress(Exception):
                    self.ib.disconnect()
                if first and isinstance(exc, ClientIdInUse):
                    raise LiveError(
                        f"IB Gateway/TWS at {self.host}:{self.port} refused client id "
                        f"{self.cfg.connection.client_id} (IB error 326: {exc}). Another "
                        "program or session is connected with it: stop that one, or set another "
                        f"[connection] client_id in {self.cfg.source}."
                    ) from None
                if first and tries >= 3:
                    raise LiveError(
                        f"cannot connect to IB Gateway/TWS at {self.host}:{self.port} "
                        f"(client id {self.cfg.connection.client_id}): "
                        f"{exc or type(exc).__name__}. "
                        "Is it running with the API enabled on that port, and is the client id "
                        "free?"
                    ) from None
                if self._stop.is_set():
                    return
                self.log(f"connect failed ({exc or type(exc).__name__}); retry in {delay:.1f} s")
                await self._unless_stopped(asyncio.sleep(delay))
                delay = min(delay * 2.0, self.cfg.session.max_backoff)

    async def _connect_once(self) -> None:
        """One ``connectAsync``, cut short when the gateway answers IB's 326 (client id in
        use): the client itself would wait out its whole timeout for a handshake that the
        gateway has already refused."""
        assert self.host is not None
        refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_error(req_id: int, code: int, message: str, contract: object) -> None:
            if code == CLIENT_ID_IN_USE and not refused.done():
                refused.set_result(message)

        self.ib.errorEvent += on_error
        connect = asyncio.ensure_future(
            self.ib.connectAsync(
                self.host,
                self.port,
                clientId=self.cfg.connection.client_id,
                timeout=self.cfg.connection.timeout,
            )
        )
        try:
            await asyncio.wait({connect, refused}, return_when=asyncio.FIRST_COMPLETED)
            if not connect.done():
                connect.cancel()
                await asyncio.wait({connect}, timeout=1.0)
                raise ClientIdInUse(refused.result())
            connect.result()
        finally:
            self.ib.errorEvent -= on_error
            if not connect.done():
                connect.cancel()
            refused.cancel()

    def _check_account(self) -> None:
        accounts = self.ib.managedAccounts()
        want = self.cfg.connection.account
        if want is not None and want not in accounts:
            raise LiveError(
                f"connected to account(s) {', '.join(accounts) or 'none'}, but "
                f"{self.cfg.source} [connection] account = {want!r}; refusing to trade. "
                "Log in to the configured account or fix the config."
            )
        self.account = want or (accounts[0] if accounts else "")
        # the account type is the truth (IB's paper accounts start with "D", e.g. DU1234567;
        # live ones do not), the port only a hint: real money needs --live whatever the port
        paper = self.account.startswith("D")
        if not paper and not self.live and not self.embedded:
            kind = (
                f"{self.account} is a live (real-money) account"
                if self.account
                else "the gateway named no account, so it may be a live (real-money) one"
            )
            raise LiveError(
                f"{kind} on {self.host}:{self.port}; refusing to trade without --live. "
                "Pass --live (and [connection] account) to trade real money, or log the "
                "gateway into your paper account (IDs starting with D)."
            )
        if self.live and paper:
            self.log(f"note: --live given but {self.account} looks like a paper account")
        elif self.live and self.port in PAPER_PORTS:
            self.log(
                f"note: {self.account} is a live account on port {self.port}, usually a paper "
                "port; trading real money as --live says"
            )

    def _open_journal(self) -> None:
        path = self.cfg.session.journal
        path.parent.mkdir(parents=True, exist_ok=True)
        # one writer per session, for the process's life (a second bridge stops here)
        self.session_lock = SessionLock(path, self.sid)
        self.journal = Journal(path)

    def _session_config(self) -> dict[str, Any]:
        return {
            "name": self.cfg.name,
            "source": str(self.cfg.source),
            "strategies": {
                s.label: {
                    "strategy": s.run.strategy,
                    "params": s.run.params,
                    "symbols": list(s.symbols),
                    "bar_size": s.bar_size,
                    "config": str(s.run.source),
                }
                for s in self.cfg.strategies
            },
            "capital": {s.label: s.capital for s in self.cfg.strategies},
            # a resumed session must manage its working orders, and IB lets only the client
            # id that placed an order modify or cancel it
            "client_id": self.cfg.connection.client_id,
        }

    def _build_sleeves(self) -> None:
        for slot in self.cfg.strategies:
            n = len(slot.symbols)
            # a cross-sectional strategy's targets are weights of the whole book (sleeve 1)
            w = book_weights(strategies.get(slot.run.strategy), slot.run.weights, n)
            weights = np.asarray(w, float) if w is not None else np.full(n, 1.0 / n)
            self.sleeves[slot.label] = Sleeve(
                slot.label, slot.symbols, slot.capital, weights, slot.run.engine, slot.risk
            )

    async def _qualify(self) -> None:
        symbols = sorted({s for slot in self.cfg.strategies for s in slot.symbols})
        wanted = [Stock(s, "SMART", "USD") for s in symbols]
        got = await self.ib.qualifyContractsAsync(*wanted)
        missing = [s for s, c in zip(symbols, got, strict=True) if not isinstance(c, Contract)]
        if missing:
            raise LiveError(
                f"unknown symbol(s) at the broker: {', '.join(missing)} (as US stocks on SMART); "
                f"fix [[strategies]] symbols in {self.cfg.source}."
            )
        self.contracts = {
            s: c for s, c in zip(symbols, got, strict=True) if isinstance(c, Contract)
        }

    async def _subscribe(self) -> None:
        for slot in self.cfg.strategies:
            for sym in slot.symbols:
                bars = await self.ib.reqHistoricalDataAsync(
                    self.contracts[sym],
                    endDateTime="",
                    durationStr=slot.history,
                    barSizeSetting=slot.bar_size,
                    whatToShow="TRADES",
                    useRTH=True,
                    formatDate=2,
                    keepUpToDate=True,
                )
                if not bars:
                    raise LiveError(
                        f"no {slot.bar_size} history for {sym} from the broker "
                        f"(duration {slot.history}); check market-data permissions."
                    )
                bars.updateEvent += self._on_bar_update
                self.streams[(slot.label, sym)] = bars

    def _on_bar_update(self, bars: BarDataList, has_new_bar: bool) -> None:
        if not self.stopping and not self.stop_requested:
            task = asyncio.ensure_future(self._process_bars())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _clock(self) -> pd.Timestamp:
        now = await self.ib.reqCurrentTimeAsync()
        self.broker_now = (
            pd.Timestamp(now).tz_convert("UTC")
            if pd.Timestamp(now).tzinfo
            else pd.Timestamp(now, tz="UTC")
        )
        return self.broker_now

    async def _process_bars(self) -> None:
        if self.stopping or self.stop_requested or not self.connected:
            return
        async with self._lock:
            try:
                now = await self._clock()
            except (TimeoutError, ConnectionError, OSError):
                return
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
                done = self.last_decided.get(slot.label)
                if done is not None and latest <= done:
                    continue
                # decided-ness is per strategy x symbol x bar: symbols a crash left decided
                # on this bar (a journal of an older toolkit) are not decided again
                skip = {
                    sym
                    for sym in slot.symbols
                    if (d := self.decided.get((slot.label, sym))) is not None and d >= latest
                }
                if all(latest in f.index for f in frames.values()):
                    self._decide(slot, latest, frames, skip)
                self.last_decided[slot.label] = latest
                for sym in slot.symbols:
                    self.decided[(slot.label, sym)] = latest
            if self.until is not None and now >= self.until:
                if not self._stop.is_set():
                    self.log(f"simulation reached its end ({self.until:%Y-%m-%d %H:%M} UTC)")
                self._stop.set()  # the end of the rehearsal: the clock stays where it is
                return
            await self._release_clock(newest)

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
        with self.j.transaction():
            to_send = self._decide_in_journal(slot, bar, frames, skip or set())
        for spec, legs in to_send:
            self.fault("after-journal")  # the restart tests' kill between the journal and the send
            self._place(spec, legs)

    def _decide_in_journal(
        self,
        slot: StrategySlot,
        bar: pd.Timestamp,
        frames: dict[str, pd.DataFrame],
        skip: set[str],
    ) -> list[tuple[OrderSpec, list[OrderSpec]]]:
        to_send: list[tuple[OrderSpec, list[OrderSpec]]] = []
        sleeve = self.sleeves[slot.label]
        windows = {sym: f.loc[:bar] for sym, f in frames.items()}
        for sym, window in windows.items():
            sleeve.closes[sym] = float(window["close"].iloc[-1])
        # the backtest's signal function: per symbol, or once on the panel (cross-sectional)
        signals = latest_targets(strategies.get(slot.run.strategy), windows, slot.run.params)
        fired = sleeve.check_kill_switch(bar)
        if fired is not None:
            self._kill(slot, fired, sleeve)
        # sized against filled plus still-working quantity: an order the broker is still
        # working (resent after a restart, or partly filled) is not ordered again
        outcomes = [
            o for o in sleeve.plan(signals, self._working(slot.label)) if o.symbol not in skip
        ]
        stamp = bar.isoformat()
        late = self.broker_now is not None and self.broker_now >= livebars.next_open(
            bar, slot.bar_size
        )
        if late and any(o.intent is not None for o in outcomes):
            self.log(
                f"LATE: {slot.label} decided bar {bar:%Y-%m-%d %H:%M} at "
                f"{self.broker_now:%Y-%m-%d %H:%M} UTC, after the next open; its orders fill "
                "later than a backtest's would"
            )
        for o in outcomes:
            did = self.j.record_decision(
                self.sid,
                strategy=slot.label,
                symbol=o.symbol,
                bar_time=stamp,
                signal=o.signal if not math.isnan(o.signal) else 0.0,
                price=o.price,
                target_qty=o.target_qty,
                current_qty=o.current_qty,
                note=o.note + (" (late)" if late and o.intent is not None else ""),
                outcome=o.decision.value,
                guards=o.guards,
                target=sleeve.exposure(o.signal),
            )
            if o.intent is not None:
                self.fault("after-decision")
                for g in o.intent.guards:
                    self._guard(
                        g,
                        f"{slot.label} {o.symbol}: order trimmed from "
                        f"{o.target_qty - o.current_qty:+g} to {o.intent.quantity:+g} shares",
                        slot.label,
                        o.symbol,
                    )
                sent = self._send(slot, sleeve, o, did, bar, queued=len(to_send))
                if sent is not None:
                    to_send.append(sent)
            elif o.decision is Decision.BLOCKED:
                self._guard(
                    o.guards[0],
                    f"{slot.label} {o.symbol}: "
                    f"order of {o.target_qty - o.current_qty:+g} shares blocked",
                    slot.label,
                    o.symbol,
                )
        eq = sleeve.equity()
        self.j.record_equity(
            self.sid,
            net_liquidation=eq,
            cash=sleeve.cash,
            realized_pnl=sleeve.realized,
            unrealized_pnl=sleeve.unrealized(),
            strategy=slot.label,
            ts=stamp,
        )
        for sym, q in sleeve.positions.items():
            self.j.record_position(self.sid, symbol=sym, quantity=q, avg_cost=sleeve.avg_cost[sym])
        sig = ", ".join(f"{s} {v:+.2f}" for s, v in signals.items())
        self.log(f"{slot.label} @ {bar:%Y-%m-%d %H:%M}: signals {sig}; equity {eq:,.2f}")
        return to_send

    def _kill(self, slot: StrategySlot, rule: str, sleeve: Sleeve) -> None:
        detail = (
            f"{slot.label}: equity {sleeve.last_equity:,.2f}, peak {sleeve.peak:,.2f}, "
            f"day start {sleeve.day_start:,.2f}; cancelling orders, flattening, no new trades"
        )
        # safety first: the cancels go out before the guard is journaled and mailed
        self._cancel_working(lambda ref: self.ref_owner.get(ref, ("",))[0] == slot.label)
        self._guard(rule, detail, slot.label, None)

    def _send(
        self,
        slot: StrategySlot,
        sleeve: Sleeve,
        o: Outcome,
        decision_id: int,
        bar: pd.Timestamp,
        queued: int = 0,
    ) -> tuple[OrderSpec, list[OrderSpec]] | None:
        """Journal the order of an outcome; returns what to place once the bar's decisions
        are committed (None: withheld by a guard, a stop request or the journal). ``queued``:
        orders of this bar journaled before it, not placed yet (they count for the rate)."""
        intent = o.intent
        assert intent is not None
        flatten = sleeve.killed is not None
        if self.stopping or self.stop_requested:
            return None
        if o.symbol in self.halted:
            self._guard(
                "position_mismatch",
                f"{slot.label} {o.symbol}: order of {intent.quantity:+g} shares not sent; "
                + self.halted[o.symbol],
                slot.label,
                o.symbol,
            )
            return None
        risk = slot.risk
        if (
            not flatten
            and risk.trading_hours is not None
            and self.broker_now is not None
            and not risk.trading_hours.allows(self.broker_now)
        ):
            self._guard(
                "trading_hours",
                f"{slot.label} {o.symbol}: {self.broker_now:%H:%M} UTC is "
                f"outside {risk.trading_hours.start:%H:%M}-{risk.trading_hours.end:%H:%M} "
                "New York; order not sent",
                slot.label,
                o.symbol,
            )
            return None
        if not flatten and risk.max_orders_per_minute is not None:
            now = time.monotonic()
            while self.sent_times and now - self.sent_times[0] > 60.0:
                self.sent_times.popleft()
            if len(self.sent_times) + queued >= risk.max_orders_per_minute:
                self._guard(
                    "max_orders_per_minute",
                    f"{slot.label} {o.symbol}: "
                    f"{len(self.sent_times) + queued} orders in the last minute; order not sent",
                    slot.label,
                    o.symbol,
                )
                return None
        ref = order_ref(self.sid, slot.label, o.symbol, bar)
        s = slot.run.engine
        spec = entry_order(
            ref, o.symbol, intent.quantity, intent.price, s, daily=slot.bar_size == "1 day"
        )
        after = sleeve.positions[o.symbol] + intent.quantity
        adds = (
            abs(after) > abs(sleeve.positions[o.symbol]) or after * sleeve.positions[o.symbol] < 0
        )
        legs = (
            bracket_legs(spec, after, intent.price, s)
            if slot.bracket and adds and not flatten
            else []
        )
        # protective orders of the old position no longer fit the new one
        self._cancel_working(
            lambda r: self.ref_owner.get(r) == (slot.label, o.symbol) and is_bracket_leg(r)
        )
        with self.j.transaction():
            fresh = [
                self.j.record_order(
                    self.sid,
                    order_ref=x.ref,
                    symbol=x.symbol,
                    action=x.action,
                    quantity=x.quantity,
                    order_type=x.order_type,
                    limit_price=x.limit_price,
                    aux_price=x.aux_price,
                    parent_ref=x.parent_ref,
                    decision_id=decision_id,
                )
                for x in (spec, *legs)
            ]
        for x in (spec, *legs):
            self.ref_owner[x.ref] = (slot.label, o.symbol)
        if not fresh[0]:
            self.log(f"{ref} is already in the journal; not sending it again")
            return None
        sleeve.act_on(o.symbol, intent.target)
        return spec, legs

    async def _after_connect(self) -> None:
        self._install_handlers()
        await self._reconcile()
        self.fault("resume")
        self.streams.clear()
        await self._subscribe()
        async with self._lock:  # no decision before the unsent orders are settled
            with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                await self._resend_unsent(await self._clock())
        await self._process_bars()

    async def _reconnect(self) -> None:
        await self._connect(first=False)
        if self.connected and not self._stop.is_set():
            self.reconnects += 1
            self.log(f"reconnected (#{self.reconnects}); reconciling and resubscribing")
            await self._unless_stopped(self._after_connect())

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
            events=list(self.events)[-8:],
            halted=dict(self.halted),
        )
        for label, s in self.sleeves.items():
            eq = s.equity()
            v.sleeves.append(
                {
                    "strategy": label,
                    "equity": eq,
                    "pnl": eq - s.capital,
                    "realized": s.realized,
                    "commissions": s.commissions,
                }
            )
            for sym, q in s.positions.items():
                v.positions.append(
                    {
                        "strategy": label,
                        "symbol": sym,
                        "quantity": q,
                        "avg_cost": s.avg_cost[sym],
                        "last": s.closes.get(sym, math.nan),
                        "unrealized": q * (s.closes.get(sym, s.avg_cost[sym]) - s.avg_cost[sym]),
                    }
                )
                v.signals.append(
                    {
                        "strategy": label,
                        "symbol": sym,
                        "signal": s.signals.get(sym, math.nan),
                        "bar": self.last_decided.get(label),
                    }
                )
            v.risk.append(
                {
                    "strategy": label,
                    "kill_switch": s.killed or "armed",
                    "drawdown": eq / s.peak - 1.0 if s.peak else 0.0,
                    "day_pnl": eq - s.day_start,
                    "gross": s.gross(),
                }
            )
        if self.journal is not None:
            for jo in self.j.open_orders(self.sid):
                v.orders.append(
                    {
                        "ref": jo.order_ref,
                        "symbol": jo.symbol,
                        "action": jo.action,
                        "quantity": jo.quantity,
                        "type": jo.order_type,
                        "status": jo.status,
                    }
                )
        return v

    async def run(self, on_tick: Callable[[LiveSession], None] | None = None) -> SessionSummary:
        """Run until stopped (signal, :meth:`stop`, the simulator's end, or every strategy
        halted by its kill switch); returns the session summary."""
        logging.getLogger("ib_async").setLevel(logging.CRITICAL)
        loop = asyncio.get_running_loop()
        self._loop = loop
        if self.install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        try:
            if self.embedded:
                self._start_gateway()
            self._open_journal()
            await self._connect(first=True)
            if not self.connected or self._stop.is_set():
                raise StopRequested(
                    f"stopped while connecting to {self.host}:{self.port}; nothing was traded."
                )
            self._check_account()
            self.j.start_session(
                self.sid, mode=self.mode, account=self.account, config=self._session_config()
            )
            self.log(
                f"session {self.sid} ({self.mode}) on {self.host}:{self.port}, "
                f"account {self.account}, journal {self.cfg.session.journal}"
            )
            self._build_sleeves()
            self._restore()
            # a stop during these steps skips to the orderly shutdown (no order goes out)
            if await self._unless_stopped(self._qualify()):
                await self._unless_stopped(self._after_connect())  # then the clock may run
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
                self._unstick_clock()
                if on_tick is not None:
                    on_tick(self)
                if (
                    self.until is not None
                    and self.broker_now is not None
                    and self.broker_now >= self.until
                ):
                    self.log(f"simulation reached its end ({self.until:%Y-%m-%d %H:%M} UTC)")
                    break
                if self.sleeves and all(
                    s.killed and not any(s.positions.values()) for s in self.sleeves.values()
                ):
                    self.log("every strategy is halted by its kill switch and flat; stopping")
                    break
            return await self._shutdown()
        except BaseException:
            await self._teardown()
            raise
        finally:
            if self.install_signals and threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    async def _shutdown(self) -> SessionSummary:
        self.stopping = True
        self.log("stopping: no new orders")
        if not self.connected and self.cfg.session.cancel_on_exit and self.j.open_orders(self.sid):
            self.log(
                "WARNING: not connected, so working orders were not cancelled; check them "
                "(python -m toolkit.live cancel-all) once the gateway is back"
            )
        if self.connected and self.cfg.session.cancel_on_exit:
            cancelled = self._cancel_working(lambda ref: True)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and any(
                t.orderStatus.status not in _FINAL for t in cancelled
            ):
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
        self.j.end_session(self.sid)
        summary = summarize(self.j, self.sid, marks)
        if self.echo is not None:
            self.echo(format_summary(summary))
        await self._teardown()
        return summary

    async def _teardown(self) -> None:
        self.stopping = True
        with contextlib.suppress(Exception):
            self.ib.disconnect()
        await self._close_alerts()
        if self.gateway is not None:
            self.sim_clock = None
            await asyncio.get_running_loop().run_in_executor(None, self.gateway.stop)
            self.gateway = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.session_lock is not None:
            self.session_lock.release()
            self.session_lock = None


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
