"""The option session: one strategy template traded on one underlying through ib_async, as
combo (BAG) orders with a net limit price, with the option risk rules as guards.

1. start the embedded gateway simulator when no host is configured; refuse a live-trading
   port without ``--live`` and any account but the configured one (paper by default: the
   stock session's checks, :func:`toolkit.live._startup.trading_account`);
2. restore the option book from the journal, then reconcile: replay the broker's executions
   (per leg, idempotent by execId), match its open orders to the journal's by orderRef (an
   open combo is recognised and worked on, never sent again), settle the rest, resend a
   combo journaled but never sent while its day lasts, compare positions per contract;
3. once per trading day at ``[strategy.entry] decide_at`` (New York), when flat with no
   working order: pick the expiry and legs from the chain, price the combo (mid, then
   ``step`` toward the touch every ``interval``), judge it by the option rules
   (:mod:`toolkit.risk.options`: max loss per spread, max short delta and vega of the book,
   max contracts) -- trimmed or blocked orders are journaled guard events -- and journal the
   decision, the order and its legs *before* placing it;
4. while holding a spread: close it as one combo when the exit rules say so;
5. on a stop: cancel working orders if configured, journal the book, print a summary.

The parts are the stock session's: :class:`~toolkit.live._broker.Broker` (ib_async, typed
events), a ledger (:class:`~toolkit.live._option_ledger.OptionLedger`, the only writer of the
journal and the book), the connect and account checks; plus
:class:`~toolkit.live._option_market.OptionMarket` (the chain) and the pure spread planning
of :mod:`toolkit.live._option_plan`.
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
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from toolkit.data import calendar
from toolkit.gateway import Gateway
from toolkit.live._alerts import Alerts
from toolkit.live._broker import Broker
from toolkit.live._broker_events import (
    FINAL,
    BrokerEvent,
    CancelNotDone,
    CommissionReported,
    ConnectivityNotice,
    Disconnected,
    Executed,
    Rejected,
    StatusChanged,
)
from toolkit.live._connect import connect
from toolkit.live._fault import Faults
from toolkit.live._lock import SessionLock
from toolkit.live._metrics import SessionMetrics
from toolkit.live._option_book import OptionBook
from toolkit.live._option_ledger import BLOCKED, CLOSE, NO_TRADE, OPEN, TRIMMED, OptionLedger
from toolkit.live._option_market import (
    Combo,
    OptionMarket,
    combo_contract,
    underlying_contract,
)
from toolkit.live._option_plan import (
    Spread,
    SpreadLeg,
    days_to_expiry,
    expiries_by_preference,
    quoted_strikes,
    select_spread,
)
from toolkit.live._option_probes import option_endpoints
from toolkit.live._signals import install_session_signals, remove_session_signals
from toolkit.live._startup import (
    LiveError,
    session_target,
    stopped_while_connecting,
    trading_account,
)
from toolkit.live.endpoints import ProbeEndpoints, endpoints_for
from toolkit.live.journal import FillConflict, Journal, JournalOrder
from toolkit.live.options_config import OptionLiveConfig
from toolkit.live.orders import OrderRef, OrderSpec
from toolkit.notify import SmtpSettings
from toolkit.risk.options import allowed_spreads


class HeldClock(Protocol):
    """The embedded simulator's clock as a rehearsal holds it (the gateway implements it):
    stopped while the session works a tick, so a decision is made at the simulated instant
    it was due however long quoting the chain takes on a loaded machine."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


@dataclass(frozen=True)
class OptionSummary:
    """What an option session did (from its journal)."""

    session_id: str
    orders: int
    fills: int
    positions: dict[str, float]  # contracts per option (local symbol)
    equity: float
    realized: float
    commissions: float
    guards: tuple[tuple[str, str], ...]  # (rule, detail)


class OptionSession:
    """One run of an option session (see the module docstring)."""

    def __init__(
        self,
        cfg: OptionLiveConfig,
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
        poll: float = 0.2,
        endpoints: str | None = None,
    ) -> None:
        self.cfg = cfg
        # /healthz /readyz /metrics (toolkit.live._option_probes): --endpoints over [endpoints]
        self.endpoints_at = endpoints_for(endpoints, cfg.endpoints)
        self.endpoints: ProbeEndpoints | None = None
        self.metrics = SessionMetrics()  # its own registry: the entry decision latency
        self.synced = False  # reconciled since the last connect (/readyz)
        self.working = False  # a combo order was working at the last tick (/readyz)
        self.reconnects = 0
        self.fault = faults if faults is not None else Faults.from_env(os.environ)
        self.live = live
        target = session_target(
            cfg, cfg.name, live=live, host=host, port=port, session_id=session_id
        )
        self.host, self.port, self.embedded = target.host, target.port, target.embedded
        self.mode, self.sid = target.mode, target.sid
        self.echo = echo
        self.lines: deque[str] = deque(maxlen=400)
        self.install_signals = install_signals
        self.alert = Alerts(alerts, self._log, self._log)
        self.broker = Broker(self.sid, self.fault)
        self.until = None if until is None else _utc(until)
        self.poll = poll
        self.gateway: Gateway | None = None  # the embedded simulator (its lifecycle only)
        self.clock: HeldClock | None = None  # its clock, held during each tick
        self.journal: Journal | None = None
        self.session_lock: SessionLock | None = None
        self.ledger: OptionLedger | None = None
        self.market: OptionMarket | None = None
        self.account = ""
        self.now: pd.Timestamp | None = None
        self.halted: str | None = None  # why no new order goes out (position mismatch)
        self.stop_requested = False
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._steps: dict[str, tuple[int, pd.Timestamp]] = {}  # ref -> (step, when moved)
        self._exit_checked: pd.Timestamp | None = None
        self._sent: deque[float] = deque()

    # -- log and guards --------------------------------------------------------------------
    def _log(self, text: str) -> None:
        line = f"[{self.now:%Y-%m-%d %H:%M}] {text}" if self.now is not None else text
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)

    def fire(self, guard: str, detail: str, symbol: str | None = None) -> None:
        """A guard fired: journal, log, alert (once per guard and symbol)."""
        assert self.ledger is not None
        self.ledger.journal_guard(guard, detail, symbol)
        self._log(f"GUARD {guard}: {detail}")
        self.alert(
            f"{guard}/{self.cfg.strategy.label}/{symbol}",
            f"guard {guard} fired: {self.sid}",
            f"Session {self.sid}, strategy {self.cfg.strategy.label}: {detail}\n",
        )

    def _rate_allows(self, what: str) -> bool:
        limit = self.cfg.risk.max_orders_per_minute
        if limit is None:
            return True
        t = time.monotonic()
        while self._sent and t - self._sent[0] > 60.0:
            self._sent.popleft()
        if len(self._sent) >= limit:
            self.fire(
                "max_orders_per_minute",
                f"{self.cfg.strategy.label}: {len(self._sent)} orders in the last minute; "
                f"{what} not sent",
                self.cfg.strategy.underlying,
            )
            return False
        return True

    # -- the broker's events ---------------------------------------------------------------
    def _on_event(self, event: BrokerEvent) -> None:
        ledger = self.ledger
        assert ledger is not None
        match event:
            case Executed():
                self._executed(event)
            case CommissionReported():
                ref = event.execution.ref
                if not ledger.ours(ref):
                    return
                if event.execution.sec_type == "BAG":
                    return  # the combo's own execution: its legs carry the commissions
                if not ledger.has_fill(event.exec_id, ref):
                    self._executed(event.execution)
                ledger.book_commission(ref, event.exec_id, event.commission)
            case StatusChanged():
                if ledger.order_status(event) and event.line is not None:
                    self._log(event.line)
            case Rejected():
                got = ledger.order_rejected(event.ref, f"{event.code}: {event.text}")
                if got == 0.0:
                    self._log(f"REJECTED {event.ref}: IB error {event.code}: {event.text}")
                    self.alert(
                        f"reject/{event.ref}",
                        f"order rejected: {event.ref}",
                        f"IB error {event.code}: {event.text}\n",
                    )
            case CancelNotDone(ref=ref, code=code, text=text):
                self._log(f"cancel of {ref} not done: IB error {code}: {text}")
            case ConnectivityNotice(code=code, text=text):
                self._log(f"broker connectivity: {code} {text}")
            case Disconnected():
                self.synced = False
                if not self.stop_requested:
                    self._log("connection lost; reconnecting")
            case _:
                pass

    def _executed(self, ex: Executed) -> None:
        assert self.ledger is not None
        try:
            leg = self.ledger.book_execution(ex)
        except FillConflict as exc:
            self.fire("fill_refused", str(exc), self.cfg.strategy.underlying)
            return
        if leg is not None:
            self._log(
                f"fill {ex.ref}: {ex.side} {ex.shares:g} {leg.symbol.strip()} @ {ex.price:.2f}"
            )
        elif ex.sec_type == "BAG" and self.ledger.ours(ex.ref):
            self._log(f"combo {ex.ref}: {ex.side} {ex.shares:g} @ net {ex.price:.2f}")

    # -- start-up ----------------------------------------------------------------------------
    def _start_simulator(self) -> None:
        sim = self.cfg.simulator
        self.gateway = Gateway(
            port=0,
            start=pd.Timestamp(sim.start, tz="UTC") if sim.start else None,
            speed=sim.speed,
            cash=sim.cash,
            participation=sim.participation,
            paused=True,  # held until the session is ready: its first tick lets it run
        ).start()
        self.clock = self.gateway
        self.host, self.port = "127.0.0.1", self.gateway.port
        if self.until is None and sim.end is not None:
            self.until = _utc(sim.end)
        self._log(f"embedded gateway simulator on 127.0.0.1:{self.port}")

    async def _qualify(self) -> None:
        s = self.cfg.strategy
        if not await self.broker.qualify_as(s.underlying, underlying_contract(s)):
            raise LiveError(
                f"unknown underlying at the broker: {s.underlying} ({s.sec_type}); fix "
                f"[strategy] underlying / sec_type / exchange in {self.cfg.source}."
            )
        self.market = OptionMarket.of(self.broker, s)

    async def _reconcile(self) -> None:
        """Executions replayed, open combos matched by orderRef, positions compared."""
        ledger = self.ledger
        assert ledger is not None
        for ex in await self.broker.executions():
            self._executed(ex)
            if ex.commission is not None and ledger.has_fill(ex.exec_id, ex.ref):
                ledger.book_commission(ex.ref, ex.exec_id, ex.commission)
        working = await self.broker.working_orders()
        completed = await self.broker.completed_orders(self.cfg.connection.timeout)
        units = ledger.executed_units()
        now = await self.broker.now()
        for jo in ledger.open_orders():
            found = working.get(jo.order_ref)
            if found is not None:
                ledger.order_status(found)
                self._log(f"{jo.order_ref}: working at the broker; not sent again")
                continue
            got = units.get(jo.order_ref, 0.0)
            ended = (completed or {}).get(jo.order_ref)
            if got >= jo.quantity - 1e-9:
                ledger.order_ended(jo, "Filled", got, "reconciled from executions")
            elif ended is not None:
                status = ended if ended in FINAL else "Cancelled"
                ledger.order_ended(jo, status, got, f"ended at the broker: {status} (reconcile)")
            elif jo.status == "PendingSubmit" and got == 0.0:
                same_day = _ny_date(OrderRef.parse(jo.order_ref).bar) == _ny_date(now)
                if completed is not None and same_day and not self.stop_requested:
                    self._log(f"resending {jo.order_ref}: journaled, never reached the broker")
                    self._place(self._spec(jo), self._combo_of(jo.order_ref))
                else:
                    why = (
                        "never sent; the broker could not be asked about it"
                        if completed is None
                        else "never sent; its day has passed"
                    )
                    ledger.order_ended(jo, "Cancelled", 0.0, why)
            else:
                ledger.order_ended(jo, "Cancelled", got, "no longer working at the broker")
        self._check_positions()
        self.synced = True

    def _check_positions(self) -> None:
        assert self.ledger is not None
        theirs = self.broker.contract_positions(self.account)
        book = self.ledger.book
        for k in sorted(set(book.held()) | {c for c in theirs if c in book.contracts}):
            ours, broker = book.positions.get(k, 0.0), theirs.get(k, 0.0)
            if abs(ours - broker) > 1e-6:
                sym = book.contracts[k].symbol.strip()
                self.halted = (
                    f"{sym}: journal says {ours:+g} contracts, broker says {broker:+g}; no "
                    "new orders until they agree"
                )
                self.fire("position_mismatch", self.halted, sym)
                return
        self.halted = None

    def _spec(self, jo: JournalOrder) -> OrderSpec:
        return OrderSpec(
            jo.order_ref, jo.symbol, jo.action, jo.quantity, jo.order_type, "DAY",
            jo.limit_price,
        )  # fmt: skip

    def _combo_of(self, ref: str) -> Combo:
        assert self.journal is not None
        legs = self.journal.combo_legs(ref)
        return combo_contract(
            self.cfg.strategy, [(int(x["con_id"]), int(x["ratio"]), str(x["action"])) for x in legs]
        )

    def _place(self, spec: OrderSpec, combo: Combo) -> None:
        if self.stop_requested:
            self._log(f"not sent {spec.ref}: the session is stopping")
            return
        self.broker.place_combo(combo, spec, self.account)
        self._sent.append(time.monotonic())
        self._log(
            f"sent {spec.ref}: {spec.action} {spec.quantity:g} combo @ net {spec.limit_price:g}"
        )

    # -- decisions -------------------------------------------------------------------------
    def entry_slot(self, now: pd.Timestamp) -> pd.Timestamp | None:
        """Today's entry instant (UTC) once it has come, on a trading day; else None."""
        local = now.tz_convert(calendar.NEW_YORK)
        if not calendar.is_trading_day(local.date()):
            return None
        at = pd.Timestamp.combine(local.date(), self.cfg.strategy.decide_time)
        slot = at.tz_localize(calendar.NEW_YORK)
        return slot.tz_convert("UTC") if local >= slot else None

    async def _tick(self, now: pd.Timestamp) -> None:
        ledger, market = self.ledger, self.market
        assert ledger is not None and market is not None
        async with self._lock:
            working = ledger.open_orders()
            self.working = bool(working)
            if working:
                await self._work(working, now)
                return
            if self.halted is not None or self.stop_requested:
                return
            if ledger.book.units():
                await self._maybe_exit(now)
                return
            if ledger.book.killed is not None:
                return  # the kill switch fired: flat, and no new spread
            slot = self.entry_slot(now)
            if slot is not None and slot not in ledger.decided:
                t0 = time.perf_counter()
                await self._enter(slot, now)
                self.metrics.decided(self.cfg.strategy.label, time.perf_counter() - t0)

    async def _enter(self, slot: pd.Timestamp, now: pd.Timestamp) -> None:
        ledger, market, s = self.ledger, self.market, self.cfg.strategy
        assert ledger is not None and market is not None
        today = now.tz_convert(calendar.NEW_YORK).date()

        def nothing(why: str) -> None:
            ledger.journal_decision(slot, NO_TRADE, price=0.0, wanted=0, held=0, note=why)
            self._log(f"{s.label}: no trade -- {why}")

        chain = await market.chain()
        if chain is None:
            return nothing(f"no option chain for {s.underlying}")
        expiries = expiries_by_preference(list(chain.expirations), today, s.legs)
        if not expiries:
            return nothing(f"no expiry {s.legs.dte_min}-{s.legs.dte_max} days out")
        spot = await market.spot()
        rights = {"put_credit_vertical": ("P",), "call_credit_vertical": ("C",)}.get(
            s.template, ("P", "C")
        )
        strikes = quoted_strikes(list(chain.strikes), spot, s.legs)
        why: list[str] = []
        for expiry in expiries:  # the preferred expiry first; the next if it has no market
            quotes = await market.quotes(chain, expiry, rights, strikes)
            quotes = [
                q
                for q in quotes
                if spot != spot or (q.strike <= spot if q.right == "P" else q.strike >= spot)
            ]
            got = select_spread(quotes, s.template, s.legs)
            if not isinstance(got, str):
                break
            why.append(f"{expiry}: {got}")
        else:
            return nothing("; ".join(why))
        spread = got
        ledger.book.mark(quotes)
        mid, touch = spread.mid, spread.touch
        if s.entry.min_credit is not None and -mid < s.entry.min_credit - 1e-12:
            return nothing(f"{spread.describe()}: credit {-mid:.2f} < {s.entry.min_credit:g}")
        price = spread.limit(0, s.pricing)
        risk = spread.risk(price)
        n, fired = allowed_spreads(
            self.cfg.risk.options, risk, s.quantity, ledger.book.greeks(), ledger.book.held()
        )
        outcome = OPEN if n == s.quantity else (TRIMMED if n > 0 else BLOCKED)
        what = (
            f"{spread.describe()} x{s.quantity} @ net {price:g} (mid {mid:.3f}, touch "
            f"{touch:.3f}; max loss ${risk.max_loss:,.2f}/spread, vega "
            f"{risk.greeks.vega:+.2f}, delta {risk.greeks.delta:+.1f})"
        )
        spec: OrderSpec | None = None
        with ledger.transaction():
            did = ledger.journal_decision(
                slot,
                outcome,
                price=mid,
                wanted=s.quantity,
                held=0,
                note=what,
                guards=tuple(f.rule for f in fired),
            )
            for f in fired:
                cut = f"trimmed to {n}" if n > 0 else "blocked"
                self.fire(f.rule, f"{s.label} {spread.describe()}: {f.detail}; order of "
                          f"{s.quantity} spread(s) {cut}", s.underlying)  # fmt: skip
            if n > 0 and self._rate_allows(spread.describe()):
                ref = str(OrderRef(self.sid, s.label, s.underlying, slot))
                spec = OrderSpec(ref, s.underlying, "BUY", float(n), "LMT", "DAY", price)
                if not ledger.journal_combo(spec, spread, did):
                    self._log(f"{ref} is already in the journal; not sending it again")
                    spec = None
            ledger.journal_snapshot(now)
        self._log(f"{s.label} decided: {outcome}: {what}")
        if spec is not None:
            self.fault("after-journal")
            self._steps[spec.ref] = (0, await self.broker.now())  # quoting took a while
            self._place(spec, market.combo(spread))

    async def _work(self, working: list[JournalOrder], now: pd.Timestamp) -> None:
        """Step each working combo's limit toward the touch when its interval has passed."""
        ledger, market, p = self.ledger, self.market, self.cfg.strategy.pricing
        assert ledger is not None and market is not None
        for jo in working:
            if not self.broker.knows(jo.order_ref) or jo.status in ("PendingSubmit",):
                continue
            held = self._steps.get(jo.order_ref)  # None: first seen here (a restart)
            if held is not None and (
                held[0] >= p.max_steps or (now - held[1]).total_seconds() < p.interval
            ):
                continue
            legs = ledger.legs_of(jo.order_ref)
            quotes = {q.con_id: q for q in await market.requote([c.con_id for c in legs])}
            actions = {int(x["con_id"]): (str(x["action"]), int(x["ratio"]))
                       for x in ledger.journal.combo_legs(jo.order_ref)}  # fmt: skip
            if any(c.con_id not in quotes or not quotes[c.con_id].two_sided for c in legs):
                self._steps[jo.order_ref] = (0 if held is None else held[0], now)
                continue
            spread = Spread(
                self.cfg.strategy.template,
                tuple(SpreadLeg(quotes[c.con_id], *actions[c.con_id]) for c in legs),
            )
            toward = 1.0 if spread.touch >= spread.mid else -1.0
            closing = jo.order_ref in ledger.closing
            if held is None:
                # resumed: the policy goes on from where the working limit sits
                at = 0.0 if jo.limit_price is None else jo.limit_price
                done = round(toward * (at - spread.limit(0, p, closing)) / p.step)
                self._steps[jo.order_ref] = (max(0, min(done, p.max_steps)), now)
                continue
            step = held[0] + 1
            px = spread.limit(step, p, closing)
            self._steps[jo.order_ref] = (step, now)
            if jo.limit_price is not None and (px - jo.limit_price) * toward < 1e-9:
                continue  # never away from the touch (the mid moved), nor the same price
            if self.broker.modify_limit(jo.order_ref, px):
                ledger.journal_reprice(jo.order_ref, px, step)
                self._log(f"{jo.order_ref}: limit {jo.limit_price} -> {px:g} (step {step})")

    async def _maybe_exit(self, now: pd.Timestamp) -> None:
        """Close the held spread as one combo when an exit rule says so."""
        ledger, market, s = self.ledger, self.market, self.cfg.strategy
        assert ledger is not None and market is not None
        last = self._exit_checked
        if last is not None and (now - last).total_seconds() < s.pricing.interval:
            return
        self._exit_checked = now
        book = ledger.book
        book.mark(await market.requote(sorted(book.held())))
        got = book.open_spread(s.template)
        if got is None:
            return
        killed = ledger.kill_switch(now, self.cfg.risk.kill_vector())
        if killed is not None:
            self.fire(
                killed,
                f"{s.label}: equity {book.equity():,.2f}, peak {book.peak:,.2f}, day start "
                f"{book.day_start:,.2f}; closing the spread at the touch, no new spreads",
                s.underlying,
            )
        spread, entry = got
        value = spread.mid
        pnl, base = value - entry, abs(entry)
        expiry = spread.legs[0].quote.expiry
        dte = days_to_expiry(expiry, now.tz_convert(calendar.NEW_YORK).date())
        ex = s.exit
        why, urgent = None, False
        if book.killed is not None:
            why, urgent = f"kill switch {book.killed}; at the touch", True
        elif ex.take_profit is not None and base > 0 and pnl >= ex.take_profit * base - 1e-12:
            why = f"take profit: P&L {pnl:+.2f} >= {ex.take_profit:g} x {base:.2f}"
        elif ex.stop_loss is not None and base > 0 and pnl <= -ex.stop_loss * base + 1e-12:
            why = f"stop loss: P&L {pnl:+.2f} <= -{ex.stop_loss:g} x {base:.2f}; at the touch"
            urgent = True
        elif dte <= ex.exit_dte:
            why = f"{dte} days to expiry <= {ex.exit_dte}"
        if why is None:
            return
        closing = spread.closing()
        units = book.units()
        # a stop goes at the touch; other exits work from the mid and end at the touch
        price = closing.limit(s.pricing.max_steps if urgent else 0, s.pricing, chase=True)
        stamp = now.floor("min")
        ref = str(OrderRef(self.sid, s.label, s.underlying, stamp))
        spec = OrderSpec(ref, s.underlying, "BUY", float(units), "LMT", "DAY", price)
        with ledger.transaction():
            did = ledger.journal_decision(
                stamp, CLOSE, price=closing.mid, wanted=0, held=units,
                note=f"close {spread.describe()} x{units} @ net {price:g}: {why}",
            )  # fmt: skip
            fresh = self._rate_allows("closing combo") and ledger.journal_combo(
                spec, closing, did, closing=True
            )
        self._log(f"{s.label}: closing {spread.describe()} ({why})")
        if fresh:
            self._steps[ref] = (0, now)
            self._place(spec, market.combo(closing))

    # -- run -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the session to stop; safe from signal handlers and other threads."""
        self.stop_requested = True
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._stop.set)
        else:
            self._stop.set()

    def hangup(self) -> None:
        """SIGHUP: an option session has no reload of its ``[risk]`` (the stock session's
        re-reads it), so a hangup stops it in order -- cancel-on-exit, book journaled,
        summary -- rather than kill it; the log says why."""
        self._log(
            "SIGHUP: an option session has no [risk] reload; stopping in order (change "
            f"{self.cfg.source} and start the session again with --session {self.sid})"
        )
        self.stop()

    async def run(self) -> OptionSummary:
        logging.getLogger("ib_async").setLevel(logging.CRITICAL)
        loop = asyncio.get_running_loop()
        self._loop = loop
        # SIGINT/SIGTERM stop; SIGHUP too, saying why (toolkit.live._signals)
        signals = self.install_signals and install_session_signals(loop, self.stop, self.hangup)
        try:
            if self.endpoints_at is not None:
                probes = option_endpoints(self, loop, self.endpoints_at).start()
                self.endpoints = probes  # published once listening (port 0 resolved)
                self._log(f"endpoints on {probes.url} (/healthz /readyz /metrics)")
            if self.embedded:
                self._start_simulator()
            path = self.cfg.session.journal
            path.parent.mkdir(parents=True, exist_ok=True)
            self.session_lock = SessionLock(path, self.sid)
            self.journal = Journal(path)
            assert self.host is not None
            await connect(
                self.broker, self.cfg, self.host, self.port, first=True, stop=self._stop,
                stop_asked=self._stop, log=self._log,
            )  # fmt: skip
            if not self.broker.connected:
                raise stopped_while_connecting(self.host, self.port)
            self.account = trading_account(
                self.cfg,
                self.broker.accounts(),
                live=self.live,
                embedded=self.embedded,
                endpoint=f"{self.host}:{self.port}",
                port=self.port,
                log=self._log,
            )
            s = self.cfg.strategy
            self.ledger = OptionLedger(
                self.journal, self.sid, OptionBook(s.label, s.capital), self.fault
            )
            self.ledger.start(self.mode, self.account, _record(self.cfg))
            n = self.ledger.restore()
            if n:
                held = {self.ledger.book.contracts[k].symbol.strip(): q
                        for k, q in self.ledger.book.held().items()}  # fmt: skip
                self._log(
                    f"resumed session {self.sid}: {n} journaled orders, held {held or 'flat'}"
                )
            self._log(
                f"option session {self.sid} ({self.mode}) on {self.host}:{self.port}, "
                f"account {self.account}, journal {path}"
            )
            await self._qualify()
            self.broker.listen(self._on_event)
            self.now = await self.broker.now()
            await self._reconcile()
            self.fault("resume")
            while not self._stop.is_set():
                if not self.broker.connected:
                    await self._reconnect()
                    continue
                if self.clock is not None:
                    self.clock.pause()
                try:
                    self.now = await self.broker.now()
                    await self._tick(self.now)
                except (ConnectionError, OSError, TimeoutError) as exc:
                    self._log(f"broker request failed ({exc or type(exc).__name__})")
                finally:
                    if self.clock is not None:
                        self.clock.resume()
                if self.until is not None and self.now is not None and self.now >= self.until:
                    self._log(f"reached the end ({self.until:%Y-%m-%d %H:%M} UTC)")
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll)
            return await self._shutdown()
        except BaseException:
            await self._teardown()
            raise
        finally:
            if signals:
                remove_session_signals(loop)

    async def _reconnect(self) -> None:
        assert self.host is not None
        await connect(
            self.broker, self.cfg, self.host, self.port, first=False, stop=self._stop,
            stop_asked=self._stop, log=self._log,
        )  # fmt: skip
        if self.broker.connected:
            self.reconnects += 1
            async with self._lock:
                await self._reconcile()

    async def _shutdown(self) -> OptionSummary:
        self.stop_requested = True
        ledger = self.ledger
        assert ledger is not None
        if self.broker.connected and self.cfg.session.cancel_on_exit:
            refs = [jo.order_ref for jo in ledger.open_orders()]
            cancelled = self.broker.cancel(refs)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and not self.broker.ended(cancelled):
                await asyncio.sleep(0.05)
            if cancelled:
                self._log(f"cancelled {len(cancelled)} working order(s)")
        if ledger.book.held():
            self._log(
                "WARNING: open option positions remain: "
                + ", ".join(
                    f"{ledger.book.contracts[k].symbol.strip()} {q:+g}"
                    for k, q in ledger.book.held().items()
                )
            )
        ledger.journal_snapshot(self.now or pd.Timestamp.now(tz="UTC"))
        ledger.end()
        summary = summarize_options(ledger)
        if self.echo is not None:
            self.echo(format_option_summary(summary))
        await self._teardown()
        return summary

    async def _teardown(self) -> None:
        self.stop_requested = True
        with contextlib.suppress(Exception):
            self.broker.disconnect()
        if self.endpoints is not None:
            self.endpoints.stop()
            self.endpoints = None
        await self.alert.close()
        if self.gateway is not None:
            self.clock = None
            await asyncio.get_running_loop().run_in_executor(None, self.gateway.stop)
            self.gateway = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.session_lock is not None:
            self.session_lock.release()
            self.session_lock = None


def summarize_options(ledger: OptionLedger) -> OptionSummary:
    j, sid, book = ledger.journal, ledger.sid, ledger.book
    return OptionSummary(
        session_id=sid,
        orders=len(j.rows("orders", sid)),
        fills=len(j.session_fills(sid)),
        positions={book.contracts[k].symbol.strip(): q for k, q in book.held().items()},
        equity=book.equity(),
        realized=book.realized,
        commissions=book.commissions,
        guards=tuple((g["guard"], g["detail"]) for g in j.rows("guard_events", sid)),
    )


def format_option_summary(s: OptionSummary) -> str:
    lines = [
        f"option session {s.session_id}: {s.orders} combo orders, {s.fills} leg fills",
        f"  equity {s.equity:,.2f}  realised {s.realized:+,.2f}  commissions {s.commissions:,.2f}",
    ]
    lines += [f"  held {sym}: {q:+g}" for sym, q in s.positions.items()]
    lines += [f"  guard {g}: {d}" for g, d in s.guards]
    return "\n".join(lines)


def _record(cfg: OptionLiveConfig) -> dict[str, Any]:
    s = cfg.strategy
    return {
        "name": cfg.name,
        "source": str(cfg.source),
        "strategies": {s.label: {"underlying": s.underlying, "template": s.template}},
        "capital": {s.label: s.capital},
        "client_id": cfg.connection.client_id,
    }


def _ny_date(ts: pd.Timestamp) -> object:
    return ts.tz_convert(calendar.NEW_YORK).date()


def _utc(when: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(when)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def run_option_session(cfg: OptionLiveConfig, **kwargs: Any) -> OptionSummary:
    """Run an option session to its end from plain Python (its own loop on a thread when
    one is running, as in Jupyter)."""
    out: list[OptionSummary] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            kwargs.setdefault("install_signals", False)
            out.append(asyncio.run(OptionSession(cfg, **kwargs).run()))
        except BaseException as exc:
            errors.append(exc)

    try:
        asyncio.get_running_loop()
        t = threading.Thread(target=work, name="toolkit-options")
        t.start()
        t.join()
    except RuntimeError:
        work()
    if errors:
        raise errors[0]
    return out[0]
