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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from ib_async import IB, Contract, Order, Stock, Trade
from ib_async.objects import BarDataList, CommissionReport, Fill

from toolkit import strategies
from toolkit.errors import ConfigError, ToolkitError
from toolkit.gateway import Gateway
from toolkit.live import bars as livebars
from toolkit.live.config import LIVE_PORTS, LiveConfig, StrategySlot
from toolkit.live.journal import Journal
from toolkit.live.orders import OrderSpec, bracket_legs, entry_order, order_ref
from toolkit.live.sleeve import Outcome, Sleeve
from toolkit.live.summary import SessionSummary, format_summary, summarize
from toolkit.report.alerts import SmtpSettings, send_email
from toolkit.risk.rules import KILL_NAMES

_FINAL = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
_REJECT_CODES = frozenset({110, 200, 201, 203, 10147, 10148, 10149})


class LiveError(ToolkitError):
    """The session cannot start or continue safely (connection, account, contracts)."""


@dataclass
class SessionView:
    """A snapshot of the session for the dashboard and notebooks."""

    session_id: str
    mode: str
    account: str
    endpoint: str
    connected: bool
    broker_time: pd.Timestamp | None
    sleeves: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    risk: list[dict[str, Any]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


class LiveSession:
    """One run of ``python -m toolkit.live run`` (see the module docstring)."""

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
    ) -> None:
        self.cfg = cfg
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
        self.gateway: Gateway | None = None
        self.journal: Journal | None = None
        self.account = ""
        self.connected = False
        self.stopping = False
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self.sleeves: dict[str, Sleeve] = {}
        self.contracts: dict[str, Contract] = {}
        self.streams: dict[tuple[str, str], BarDataList] = {}
        self.last_decided: dict[str, pd.Timestamp] = {}
        self.ref_owner: dict[str, tuple[str, str]] = {}
        self.ref_bar: dict[str, pd.Timestamp] = {}
        self.order_ids: dict[int, str] = {}
        self.trades: dict[str, Trade] = {}
        self.sent_times: deque[float] = deque()
        self.events: deque[str] = deque(maxlen=200)
        self.broker_now: pd.Timestamp | None = None
        self.until: pd.Timestamp | None = None if until is None else _utc(until)
        self._alerted: set[str] = set()
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

    def _alert(self, key: str, subject: str, body: str) -> None:
        """Mail an alert once per key (a guard that keeps firing mails once per session)."""
        if self.alerts is None or key in self._alerted:
            return
        self._alerted.add(key)
        try:
            send_email(self.alerts, f"[ibkr-toolkit] {subject}", body)
        except ToolkitError as exc:
            self.log(f"alert not sent: {exc}")

    def _guard(self, guard: str, detail: str, slot: str | None, symbol: str | None) -> None:
        """A guard fired: journal, log, alert."""
        self.j.record_guard(self.sid, guard=guard, detail=detail, symbol=symbol, strategy=slot)
        self.log(f"GUARD {guard}: {detail}")
        self._alert(
            f"{guard}/{slot}/{symbol}",
            f"guard {guard} fired: {self.sid}",
            f"Session {self.sid}, strategy {slot}, symbol {symbol}: {detail}\n",
        )

    # -- start-up ------------------------------------------------------------------------
    def _start_gateway(self) -> None:
        sim = self.cfg.simulator
        first = self.cfg.strategies[0].run.engine
        self.gateway = Gateway(
            port=0,
            start=pd.Timestamp(sim.start, tz="UTC") if sim.start else None,
            speed=sim.speed,
            cash=sim.cash,
            participation=sim.participation,
            commission=first.commission,
            slippage_bps=first.slippage_bps,
            paused=True,  # runs once the session has connected, loaded history and decided
            lockstep=True,  # and holds at each new bar until the session has acted on it
        ).start()
        self.host, self.port = "127.0.0.1", self.gateway.port
        if sim.end is not None:
            end = pd.Timestamp(sim.end)
            end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
            self.until = (
                livebars.bar_end(end.normalize(), "1 day") if end == end.normalize() else end
            )
        self.log(
            f"embedded gateway simulator on 127.0.0.1:{self.port} "
            f"(replaying data/ from {self.gateway.state.clock.start:%Y-%m-%d %H:%M} UTC "
            f"at {sim.speed:g}x)"
        )

    async def _connect(self, first: bool) -> None:
        """Connect, retrying with exponential backoff (first connect: a few tries only)."""
        assert self.host is not None
        delay, tries = 0.5, 0
        while True:
            tries += 1
            try:
                await self.ib.connectAsync(
                    self.host,
                    self.port,
                    clientId=self.cfg.connection.client_id,
                    timeout=self.cfg.connection.timeout,
                )
                self.connected = True
                return
            except Exception as exc:  # refused, timed out, client id still held, ...
                with contextlib.suppress(Exception):
                    self.ib.disconnect()
                if first and tries >= 3:
                    raise LiveError(
                        f"cannot connect to IB Gateway/TWS at {self.host}:{self.port} "
                        f"(client id {self.cfg.connection.client_id}): "
                        f"{exc or type(exc).__name__}. "
                        "Is it running with the API enabled on that port, and is the client id "
                        "free?"
                    ) from None
                if self.stopping:
                    return
                self.log(f"connect failed ({exc or type(exc).__name__}); retry in {delay:.1f} s")
                await asyncio.sleep(delay)
                delay = min(delay * 2.0, self.cfg.session.max_backoff)

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
        if self.live and self.account.startswith("DU"):
            self.log(f"note: --live given but {self.account} looks like a paper account")

    def _open_journal(self) -> None:
        path = self.cfg.session.journal
        path.parent.mkdir(parents=True, exist_ok=True)
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
        }

    def _build_sleeves(self) -> None:
        for slot in self.cfg.strategies:
            n = len(slot.symbols)
            w = slot.run.weights
            weights = np.asarray(w, float) if w is not None else np.full(n, 1.0 / n)
            self.sleeves[slot.label] = Sleeve(
                slot.label, slot.symbols, slot.capital, weights, slot.run.engine, slot.risk
            )

    def _restore(self) -> None:
        """Rebuild every sleeve from the journal of a resumed session."""
        orders = {o["order_ref"]: o for o in self.j.rows("orders", self.sid)}
        decisions = {d["decision_id"]: d for d in self.j.rows("decisions", self.sid)}
        for ref, o in orders.items():
            d = decisions.get(o["decision_id"])
            if d is not None:
                self.ref_owner[ref] = (d["strategy"], o["symbol"])
                self.ref_bar[ref] = pd.Timestamp(d["bar_time"])
        for f in self.j.session_fills(self.sid):
            owner = self.ref_owner.get(f["order_ref"])
            if owner is None or owner[0] not in self.sleeves:
                continue
            sleeve = self.sleeves[owner[0]]
            signed = float(f["shares"]) * (1.0 if f["side"] == "BOT" else -1.0)
            sleeve.apply_fill(f["symbol"], signed, float(f["price"]))
            if f["commission"] is not None:
                sleeve.apply_commission(float(f["commission"]))
        filled = {f["order_ref"] for f in self.j.session_fills(self.sid)}
        for d in decisions.values():
            book = self.sleeves.get(d["strategy"])
            if book is None:
                continue
            bar = pd.Timestamp(d["bar_time"])
            if (
                self.last_decided.get(d["strategy"]) is None
                or bar > self.last_decided[d["strategy"]]
            ):
                self.last_decided[d["strategy"]] = bar
            book.closes[d["symbol"]] = float(d["price"])
            note = str(d["note"])
            if note.startswith("order"):
                ref = next(
                    (
                        r
                        for r, o in orders.items()
                        if o["decision_id"] == d["decision_id"] and o["parent_ref"] is None
                    ),
                    None,
                )
                dead = ref is not None and ref not in filled and orders[ref]["status"] in _FINAL
                book.acted[d["symbol"]] = math.nan if dead else _clip(d["signal"], book)
            elif note in ("at target", "blocked") or note.startswith("blocked"):
                book.acted[d["symbol"]] = _clip(d["signal"], book)
        for e in self.j.rows("equity", self.sid):
            book = self.sleeves.get(e["strategy"] or "")
            if book is not None:
                book.peak = max(book.peak, float(e["net_liquidation"]))
                book.last_equity = float(e["net_liquidation"])
                book.day = _day(pd.Timestamp(e["ts"]))
        for g in self.j.rows("guard_events", self.sid):
            book = self.sleeves.get(g["strategy"] or "")
            if book is not None and g["guard"] in KILL_NAMES.values():
                book.killed = g["guard"]
        if orders:
            held = {k: v for s in self.sleeves.values() for k, v in s.positions.items() if v}
            self.log(
                f"resumed session {self.sid}: {len(orders)} journaled orders, "
                f"positions {held or 'flat'}"
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

    # -- broker events -------------------------------------------------------------------
    def _install_handlers(self) -> None:
        if self._handlers_installed:
            return
        self._handlers_installed = True
        self.ib.execDetailsEvent += self._on_exec
        self.ib.commissionReportEvent += self._on_commission
        self.ib.orderStatusEvent += self._on_status
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnect

    def _ref_of(self, trade: Trade | None, fill: Fill | None = None) -> str:
        if fill is not None and fill.execution.orderRef:
            return str(fill.execution.orderRef)
        return str(trade.order.orderRef) if trade is not None else ""

    def _on_exec(self, trade: Trade | None, fill: Fill) -> None:
        ref = self._ref_of(trade, fill)
        owner = self.ref_owner.get(ref)
        if owner is None:
            return  # not this session's order
        ex = fill.execution
        fresh = self.j.record_fill(
            exec_id=ex.execId,
            order_ref=ref,
            symbol=owner[1],
            side=ex.side,
            shares=float(ex.shares),
            price=float(ex.price),
            ts=pd.Timestamp(ex.time).isoformat(),
        )
        if not fresh:
            return
        sign = 1.0 if ex.side == "BOT" else -1.0
        sleeve = self.sleeves[owner[0]]
        sleeve.apply_fill(owner[1], sign * float(ex.shares), float(ex.price))
        self.log(f"fill {ref}: {ex.side} {ex.shares:g} {owner[1]} @ {ex.price:.2f}")
        report = fill.commissionReport
        if report is not None and report.execId == ex.execId and report.commission:
            self._book_commission(ref, ex.execId, float(report.commission))

    def _on_commission(self, trade: Trade | None, fill: Fill, report: CommissionReport) -> None:
        ref = self._ref_of(trade, fill)
        if ref not in self.ref_owner:
            return
        if self.j.fill_commission(report.execId) is None:
            self._on_exec(trade, fill)  # a commission can only follow its execution
        self._book_commission(ref, report.execId, float(report.commission))

    def _book_commission(self, ref: str, exec_id: str, commission: float) -> None:
        if self.j.fill_commission(exec_id) is not None:
            return
        self.j.record_commission(exec_id, commission)
        self.sleeves[self.ref_owner[ref][0]].apply_commission(commission)

    def _on_status(self, trade: Trade) -> None:
        ref = str(trade.order.orderRef)
        owner = self.ref_owner.get(ref)
        if owner is None:
            return
        st = trade.orderStatus
        self.trades[ref] = trade
        self.order_ids[trade.order.orderId] = ref
        key = (st.status, float(st.filled))
        if self._statuses.get(ref) == key:
            return
        self._statuses[ref] = key
        message = trade.log[-1].message if trade.log else ""
        self.j.record_order_status(
            ref,
            status=st.status,
            filled=float(st.filled),
            remaining=float(st.remaining),
            avg_fill_price=float(st.avgFillPrice),
            broker_order_id=trade.order.orderId,
            message=message,
        )
        if st.status in _FINAL and float(st.filled) == 0.0 and not trade.order.parentId:
            # an entry that died unfilled (expired, cancelled, rejected): try again next bar,
            # as the engine re-places an unfilled order at the next close
            self.sleeves[owner[0]].acted[owner[1]] = math.nan
        if st.status != "Filled" or float(st.filled) > 0:
            self.log(f"order {ref}: {st.status} ({st.filled:g}/{trade.order.totalQuantity:g})")

    def _on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        ref = self.order_ids.get(req_id)
        if ref is not None and code in _REJECT_CODES:
            self.log(f"REJECTED {ref}: IB error {code}: {text}")
            self.j.record_order_status(
                ref,
                status="Inactive",
                filled=0.0,
                remaining=0.0,
                avg_fill_price=0.0,
                message=f"{code}: {text}",
            )
            owner = self.ref_owner[ref]
            self.sleeves[owner[0]].acted[owner[1]] = math.nan
            self._alert(f"reject/{ref}", f"order rejected: {ref}", f"IB error {code}: {text}\n")
        elif code in (1100, 1300, 2110):
            self.log(f"broker connectivity: {code} {text}")

    def _on_disconnect(self) -> None:
        if self.connected:
            self.connected = False
            if not self.stopping:
                self.log("connection lost; reconnecting with backoff")

    # -- reconcile -----------------------------------------------------------------------
    async def _reconcile(self) -> None:
        """Bring the journal and the books in line with what the broker says happened."""
        for fill in await self.ib.reqExecutionsAsync():
            trade = next(
                (
                    t
                    for t in self.ib.trades()
                    if t.order.orderId == fill.execution.orderId
                    and t.order.clientId == fill.execution.clientId
                ),
                None,
            )
            self._on_exec(trade, fill)
            report = fill.commissionReport
            if report is not None and report.execId and report.commission:
                ref = self._ref_of(trade, fill)
                if ref in self.ref_owner:
                    self._book_commission(ref, report.execId, float(report.commission))
        working = {str(t.order.orderRef): t for t in await self.ib.reqAllOpenOrdersAsync()}
        for t in self.ib.openTrades():
            working.setdefault(str(t.order.orderRef), t)
        for jo in self.j.open_orders(self.sid):
            found = working.get(jo.order_ref)
            if found is not None:
                self.trades[jo.order_ref] = found
                self._on_status(found)
                continue
            got = sum(
                f["shares"]
                for f in self.j.session_fills(self.sid)
                if f["order_ref"] == jo.order_ref
            )
            if got >= jo.quantity - 1e-9:
                self.j.record_order_status(
                    jo.order_ref,
                    status="Filled",
                    filled=got,
                    remaining=0.0,
                    avg_fill_price=0.0,
                    message="reconciled from executions",
                )
            elif jo.status == "PendingSubmit":
                pass  # journaled but maybe never sent: decided after the bars are loaded
            else:
                self.j.record_order_status(
                    jo.order_ref,
                    status="Cancelled",
                    filled=got,
                    remaining=jo.quantity - got,
                    avg_fill_price=0.0,
                    message="no longer working at the broker (reconcile)",
                )
                owner = self.ref_owner.get(jo.order_ref)
                if owner is not None and got == 0 and jo.parent_ref is None:
                    self.sleeves[owner[0]].acted[owner[1]] = math.nan
        broker = {
            p.contract.symbol: float(p.position)
            for p in self.ib.positions()
            if not self.account or p.account == self.account
        }
        ours: dict[str, float] = {}
        for s in self.sleeves.values():
            for sym, q in s.positions.items():
                ours[sym] = ours.get(sym, 0.0) + q
        for sym in sorted(set(ours) | set(broker)):
            if sym in ours and abs(ours[sym] - broker.get(sym, 0.0)) > 1e-6:
                self._guard(
                    "reconcile",
                    f"{sym}: journal says {ours[sym]:+g} shares, broker says "
                    f"{broker.get(sym, 0.0):+g}; check the account before trading on",
                    None,
                    sym,
                )

    async def _resend_unsent(self) -> None:
        """Orders journaled but never acknowledged by the broker (a crash between the journal
        commit and placeOrder): send them now if their bar is still the latest, else drop."""
        for jo in self.j.open_orders(self.sid):
            if jo.status != "PendingSubmit" or jo.order_ref in self.trades:
                continue
            owner = self.ref_owner.get(jo.order_ref)
            if owner is None or jo.parent_ref is not None or jo.order_ref not in self.ref_bar:
                continue
            if any(f["order_ref"] == jo.order_ref for f in self.j.session_fills(self.sid)):
                continue  # it reached the broker: executions say so
            bar = self.ref_bar[jo.order_ref]
            latest = self.last_decided.get(owner[0])
            legs = [o for o in self.j.open_orders(self.sid) if o.parent_ref == jo.order_ref]
            if latest is not None and bar.normalize() >= latest.normalize():
                spec = OrderSpec(
                    jo.order_ref,
                    jo.symbol,
                    jo.action,
                    jo.quantity,
                    jo.order_type,
                    self._tif_of(owner[0], jo.order_type),
                    jo.limit_price,
                    jo.aux_price,
                )
                self.log(f"resending {jo.order_ref}: journaled, never reached the broker")
                self._place(spec, [self._leg_spec(o) for o in legs])
            else:
                for o in [jo, *legs]:
                    self.j.record_order_status(
                        o.order_ref,
                        status="Cancelled",
                        filled=0.0,
                        remaining=o.quantity,
                        avg_fill_price=0.0,
                        message="never sent; its bar has passed",
                    )
                self.sleeves[owner[0]].acted[owner[1]] = math.nan

    def _tif_of(self, label: str, order_type: str) -> str:
        slot = next(x for x in self.cfg.strategies if x.label == label)
        daily = slot.bar_size == "1 day"
        return (
            "OPG"
            if order_type == "MKT" and slot.run.engine.fill == "next_open" and daily
            else "DAY"
        )

    def _leg_spec(self, o: Any) -> OrderSpec:
        pct = None
        if o.order_type == "TRAIL":
            owner = self.ref_owner[o.order_ref][0]
            ts = next(x for x in self.cfg.strategies if x.label == owner).run.engine.trailing_stop
            pct = round(100.0 * float(ts or 0.0), 4)
        return OrderSpec(
            o.order_ref,
            o.symbol,
            o.action,
            o.quantity,
            o.order_type,
            "GTC",
            o.limit_price,
            o.aux_price,
            pct,
            o.parent_ref,
        )

    # -- bars and decisions --------------------------------------------------------------
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
        if not self.stopping:
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
        if self.stopping or not self.connected:
            return
        async with self._lock:
            try:
                now = await self._clock()
            except (TimeoutError, ConnectionError, OSError):
                return
            for slot in self.cfg.strategies:
                frames: dict[str, pd.DataFrame] = {}
                for sym in slot.symbols:
                    stream = self.streams.get((slot.label, sym))
                    if stream is None:
                        break
                    frames[sym] = livebars.completed(livebars.frame(stream), now, slot.bar_size)
                if len(frames) != len(slot.symbols) or any(f.empty for f in frames.values()):
                    continue
                latest = min(pd.Timestamp(f.index[-1]) for f in frames.values())
                if self.until is not None and livebars.bar_end(latest, slot.bar_size) > self.until:
                    continue  # past the session's end: not traded
                done = self.last_decided.get(slot.label)
                if done is not None and latest <= done:
                    continue
                if all(latest in f.index for f in frames.values()):
                    self._decide(slot, latest, frames)
                self.last_decided[slot.label] = latest
            if self.until is not None and now >= self.until:
                if not self._stop.is_set():
                    self.log(f"simulation reached its end ({self.until:%Y-%m-%d %H:%M} UTC)")
                self._stop.set()  # the end of the rehearsal: the clock stays where it is
                return
            await self._release_clock(now)

    def _unstick_clock(self) -> None:
        """Fallback: a clock held over 2 s at the same instant (a symbol whose bar never
        came) runs again."""
        gw = self.gateway
        if gw is None or not gw.paused:
            self._held = None
            return
        at = gw.state.clock.paused_at
        if self._held is None or self._held[0] != at:
            self._held = (at, time.monotonic())
        elif time.monotonic() - self._held[1] > 2.0:
            gw.resume()
            self._held = None
            self.unstuck += 1

    async def _release_clock(self, now: pd.Timestamp) -> None:
        """Embedded rehearsal: once every strategy has acted on the newest bars and the
        broker has acknowledged the orders, let the simulated clock run again."""
        gw = self.gateway
        if gw is None or not gw.paused:
            return
        if len(self.streams) < sum(len(slot.symbols) for slot in self.cfg.strategies):
            return  # still subscribing
        held = gw.held_bar
        if held is not None and not any(
            len(st) and livebars.bar_label(st[-1].date) >= held for st in self.streams.values()
        ):
            return  # the bar it holds for is still on its way to us
        for slot in self.cfg.strategies:
            labels = set()
            for sym in slot.symbols:
                stream = self.streams.get((slot.label, sym))
                if stream is None:
                    continue
                done = livebars.completed(livebars.frame(stream), now, slot.bar_size)
                if not done.empty:
                    labels.add(pd.Timestamp(done.index[-1]))
            if len(labels) > 1:
                return  # a symbol's bar is still in flight: wait for it (the loop has a fallback)
            decided = self.last_decided.get(slot.label)
            if labels and (decided is None or decided < min(labels)):
                return  # not acted on yet
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(
            t.orderStatus.status in ("PendingSubmit", "ApiPending") for t in self.trades.values()
        ):
            await asyncio.sleep(0.005)
        gw.resume()

    def _decide(
        self, slot: StrategySlot, bar: pd.Timestamp, frames: dict[str, pd.DataFrame]
    ) -> None:
        """The strategy's signal on every symbol's window ending at ``bar``, then orders."""
        strategy = strategies.get(slot.run.strategy)
        vec = strategy.vector(slot.run.params)
        sleeve = self.sleeves[slot.label]
        signals: dict[str, float] = {}
        for sym, f in frames.items():
            window = f.loc[:bar]
            sleeve.closes[sym] = float(window["close"].iloc[-1])
            op, hi, lo, cl, vo = livebars.arrays(window)
            signals[sym] = float(strategy.signal(op, hi, lo, cl, vo, vec)[-1])
        fired = sleeve.check_kill_switch(bar)
        if fired is not None:
            self._kill(slot, fired, sleeve)
        outcomes = sleeve.plan(signals)
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
            )
            if o.intent is not None:
                for g in o.intent.guards:
                    self._guard(
                        g,
                        f"{slot.label} {o.symbol}: order trimmed from "
                        f"{o.target_qty - o.current_qty:+g} to {o.intent.quantity:+g} shares",
                        slot.label,
                        o.symbol,
                    )
                self._send(slot, sleeve, o, did, bar)
            elif o.note.startswith("blocked"):
                self._guard(
                    o.note.split(": ", 1)[1].split(",")[0],
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

    def _kill(self, slot: StrategySlot, rule: str, sleeve: Sleeve) -> None:
        detail = (
            f"{slot.label}: equity {sleeve.last_equity:,.2f}, peak {sleeve.peak:,.2f}, "
            f"day start {sleeve.day_start:,.2f}; cancelling orders, flattening, no new trades"
        )
        self._guard(rule, detail, slot.label, None)
        self._cancel_working(lambda ref: self.ref_owner.get(ref, ("",))[0] == slot.label)

    def _send(
        self, slot: StrategySlot, sleeve: Sleeve, o: Outcome, decision_id: int, bar: pd.Timestamp
    ) -> None:
        intent = o.intent
        assert intent is not None
        flatten = sleeve.killed is not None
        if self.stopping:
            return
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
            return
        if not flatten and risk.max_orders_per_minute is not None:
            now = time.monotonic()
            while self.sent_times and now - self.sent_times[0] > 60.0:
                self.sent_times.popleft()
            if len(self.sent_times) >= risk.max_orders_per_minute:
                self._guard(
                    "max_orders_per_minute",
                    f"{slot.label} {o.symbol}: "
                    f"{len(self.sent_times)} orders in the last minute; order not sent",
                    slot.label,
                    o.symbol,
                )
                return
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
            lambda r: self.ref_owner.get(r) == (slot.label, o.symbol) and r.count("/") > 3
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
            return
        if os.environ.get("TOOLKIT_LIVE_FAULT") == "after-journal":
            os._exit(137)  # fault injection for the restart tests: die between journal and send
        sleeve.acted[o.symbol] = intent.target
        self._place(spec, legs)

    def _place(self, spec: OrderSpec, legs: list[OrderSpec]) -> None:
        """placeOrder for an entry and its bracket legs (transmitted with the last leg)."""
        contract = self.contracts[spec.symbol]
        parent = self._ib_order(spec, transmit=not legs)
        trade = self.ib.placeOrder(contract, parent)
        self.trades[spec.ref] = trade
        self.order_ids[parent.orderId] = spec.ref
        self.sent_times.append(time.monotonic())
        for i, leg in enumerate(legs):
            child = self._ib_order(leg, transmit=i == len(legs) - 1)
            child.parentId = parent.orderId
            t = self.ib.placeOrder(contract, child)
            self.trades[leg.ref] = t
            self.order_ids[child.orderId] = leg.ref
        kind = spec.order_type + ("" if spec.tif == "DAY" else f" {spec.tif}")
        self.log(
            f"sent {spec.ref}: {spec.action} {spec.quantity:g} {spec.symbol} {kind}"
            + (f" + {len(legs)} bracket legs" if legs else "")
        )

    def _ib_order(self, spec: OrderSpec, transmit: bool) -> Order:
        o = Order(
            action=spec.action,
            totalQuantity=spec.quantity,
            orderType=spec.order_type,
            tif=spec.tif,
            orderRef=spec.ref,
            transmit=transmit,
            account=self.account,
        )
        if spec.limit_price is not None:
            o.lmtPrice = spec.limit_price
        if spec.aux_price is not None:
            o.auxPrice = spec.aux_price
        if spec.trailing_percent is not None:
            o.trailingPercent = spec.trailing_percent
        return o

    def _cancel_working(self, which: Callable[[str], bool]) -> int:
        n = 0
        for jo in self.j.open_orders(self.sid):
            if not which(jo.order_ref):
                continue
            trade = self.trades.get(jo.order_ref)
            if trade is not None and trade.orderStatus.status not in _FINAL and self.connected:
                self.ib.cancelOrder(trade.order)
                n += 1
        return n

    # -- the run -------------------------------------------------------------------------
    async def _after_connect(self) -> None:
        self._install_handlers()
        await self._reconcile()
        await self._resend_unsent()
        self.streams.clear()
        await self._subscribe()
        await self._process_bars()

    async def _reconnect(self) -> None:
        await self._connect(first=False)
        if self.connected and not self.stopping:
            self.reconnects += 1
            self.log(f"reconnected (#{self.reconnects}); reconciling and resubscribing")
            await self._after_connect()

    def stop(self) -> None:
        """Ask the session to shut down; safe from signal handlers and other threads."""
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._stop.set)
        else:
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
            await self._qualify()
            await self._after_connect()  # also lets the rehearsal clock run once ready
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
        if self.connected and self.cfg.session.cancel_on_exit:
            n = self._cancel_working(lambda ref: True)
            deadline = time.monotonic() + 5.0
            while (
                n
                and time.monotonic() < deadline
                and any(
                    t.orderStatus.status not in _FINAL
                    for t in self.trades.values()
                    if t.order.orderRef in {o.order_ref for o in self.j.open_orders(self.sid)}
                )
            ):
                await asyncio.sleep(0.05)
            if n:
                self.log(f"cancelled {n} working order(s)")
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
        if self.gateway is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.gateway.stop)
            self.gateway = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None


def _utc(when: str | pd.Timestamp) -> pd.Timestamp:
    """A stop time in UTC; a bare date means that day's New York close."""
    ts = pd.Timestamp(when)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return livebars.bar_end(ts, "1 day") if ts == ts.normalize() else ts


def _clip(signal_value: float, sleeve: Sleeve) -> float:
    lev = sleeve.settings.max_leverage
    return 0.0 if sleeve.killed else float(min(max(signal_value, -lev), lev))


def _day(ts: pd.Timestamp) -> pd.Timestamp:
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return (
        ts.normalize()
        if ts.hour == 0 and ts.minute == 0
        else ts.tz_convert("America/New_York").normalize()
    )


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
