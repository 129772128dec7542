"""The simulated IB Gateway: an asyncio TCP server on 127.0.0.1 speaking the TWS protocol.

Runs in the foreground (``python -m toolkit.gateway``) or in-process on a background thread
(``with Gateway(port=0) as gw: ...``) for tests and notebooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.engine.commissions import Commission
from toolkit.errors import ConfigError
from toolkit.gateway import messages as m
from toolkit.gateway.framing import encode
from toolkit.gateway.limits import Limits
from toolkit.gateway.market import (
    SESSION_CLOSE_HOUR,
    Market,
    SimClock,
    bar_fields,
    five_second_bars,
)
from toolkit.gateway.orders import DONE, IMMEDIATE_TIFS, Book, Fill, OrderRejected, SimOrder
from toolkit.gateway.session import Session
from toolkit.gateway.subscriptions import (
    BarSubscription,
    DepthSubscription,
    QuoteSubscription,
    RealtimeSubscription,
    depth_levels,
    quote,
)

MATCH_INTERVAL = 0.05  # seconds between checks of working orders against new bars
log = logging.getLogger("toolkit.gateway")
NEW_YORK = "America/New_York"


def _session_day(ts: pd.Timestamp | None) -> pd.Timestamp:
    """The New York calendar day of a bar (daily bars are stamped at midnight UTC)."""
    if ts is None:
        return pd.Timestamp.min
    if ts.hour == 0 and ts.minute == 0:
        return ts.normalize().tz_localize(None)
    return ts.tz_convert(NEW_YORK).normalize().tz_localize(None)


def _opening_bar(ts: pd.Timestamp) -> bool:
    """A daily bar, or the intraday bar that starts the regular session (09:30 New York)."""
    if ts.hour == 0 and ts.minute == 0:
        return True
    local = ts.tz_convert(NEW_YORK)
    return bool(local.hour == 9 and local.minute == 30)


def _working_day(placed: pd.Timestamp) -> pd.Timestamp:
    """The New York session a DAY order placed at ``placed`` works in: today's until the
    16:00 close, the next one after it."""
    local = placed.tz_convert(NEW_YORK)
    day = local.normalize().tz_localize(None)
    return day + pd.Timedelta(days=1) if local.hour >= SESSION_CLOSE_HOUR else day


def _next_open_day(placed: pd.Timestamp) -> pd.Timestamp:
    """The New York day of the first opening auction (09:30) after ``placed``: today's
    before 09:30, else the next session's (the bars decide which day that is)."""
    local = placed.tz_convert(NEW_YORK)
    day = local.normalize().tz_localize(None)
    opened = (local.hour, local.minute) >= (9, 30)
    return day + pd.Timedelta(days=1) if opened else day


@dataclass
class GatewayState:
    """State shared by all sessions: market, clock, account, client ids, order ids."""

    market: Market
    clock: SimClock
    account: str = "DU1234567"
    cash: float = 1_000_000.0
    sessions: dict[int, Session] = field(default_factory=dict)
    connections: set[Session] = field(default_factory=set)
    order_ids: dict[int, int] = field(default_factory=dict)
    book: Book = field(default_factory=Book)
    bar_subs: dict[tuple[int, int], BarSubscription] = field(default_factory=dict)
    quote_subs: dict[tuple[int, int], QuoteSubscription] = field(default_factory=dict)
    depth_subs: dict[tuple[int, int], DepthSubscription] = field(default_factory=dict)
    rt_subs: dict[tuple[int, int], RealtimeSubscription] = field(default_factory=dict)
    lockstep: bool = False  # pause the clock whenever a new streamed bar goes out
    released: bool = False  # lockstep: this tick sent a new bar (the clock stays held)
    held_bar: pd.Timestamp | None = None  # lockstep: the bar the clock is held for
    ceiling_at: pd.Timestamp | None = None  # lockstep: the next release the clock stops at
    limits: Limits = field(default_factory=Limits)
    done_orders: deque[SimOrder] = field(default_factory=deque)  # oldest finished first
    # children's order ids by (client id, parent id), in placing order
    child_ids: dict[tuple[int, int], dict[int, None]] = field(default_factory=dict)

    def claim(self, client_id: int, session: Session) -> bool:
        """Register a client id; False when another live session holds it."""
        if client_id in self.sessions:
            return False
        self.sessions[client_id] = session
        return True

    def release(self, session: Session) -> None:
        if session.client_id is not None and self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def next_order_id(self, client_id: int) -> int:
        """One past the highest order id this client id has used (1 for a new client)."""
        return self.order_ids.get(client_id, 0) + 1

    # -- prices --------------------------------------------------------------------------
    def current_bar(self, symbol: str) -> tuple[pd.Timestamp, pd.Series]:
        """The last completed bar at the simulated time (finest resolution available)."""
        bars, done = self.market.price_bars(symbol, self.clock.now())
        i = int(bars.index.searchsorted(done, side="right")) - 1
        i = max(i, 0)
        return pd.Timestamp(bars.index[i]), bars.iloc[i]

    def price(self, symbol: str) -> float:
        """The last completed bar's close (no pandas row: this runs for every position on
        every fill and account push)."""
        bars, done = self.market.price_bars(symbol, self.clock.now())
        i = max(int(bars.index.searchsorted(done, side="right")) - 1, 0)
        return float(self.market.closes(bars)[i])

    def check_buying_power(self, order: SimOrder) -> None:
        """Reject an order that would take gross exposure past 4x equity (IB's intraday
        Reg T limit for a margin account) -- IB rejects such orders with error 201."""
        price = self.price(order.symbol)
        equity = (
            self.cash
            + self.book.cash
            + sum(p.quantity * self.price(s) for s, p in self.book.positions.items())
        )
        held = self.book.positions.get(order.symbol)
        before = held.quantity if held is not None else 0.0
        after = before + order.side * order.remaining
        if abs(after) <= abs(before) and after * before >= 0.0:
            return  # an order that only reduces a position is always accepted, as at IB
        gross = abs(after) * price + sum(
            abs(p.quantity) * self.price(s)
            for s, p in self.book.positions.items()
            if s != order.symbol
        )
        if gross > 4.0 * equity:
            raise OrderRejected(
                201,
                "Order rejected - reason: YOUR ORDER IS NOT ACCEPTED. IN "
                "ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE "
                f"[{equity:.2f} USD] MUST EXCEED THE INITIAL MARGIN "
                f"[{gross / 4.0:.2f} USD]",
            )

    # -- messages ------------------------------------------------------------------------
    def open_order_msg(self, o: SimOrder) -> list[str | int | float]:
        status = (
            "Filled"
            if o.status == "Filled"
            else ("Cancelled" if o.status == "Cancelled" else "Submitted")
        )
        return m.open_order(
            o.order_id,
            o.con_id,
            o.symbol,
            o.action,
            o.quantity,
            o.order_type,
            o.lmt_price,
            o.aux_price,
            o.tif,
            self.account,
            o.order_ref,
            o.client_id,
            o.perm_id,
            o.parent_id,
            status,
        )

    def status_msg(self, o: SimOrder) -> list[str | int | float]:
        return m.order_status(
            o.order_id,
            o.status,
            o.filled,
            o.remaining,
            o.avg_price,
            o.perm_id,
            o.parent_id,
            o.last_price,
            o.client_id,
        )

    def exec_msg(self, fill: Fill, req_id: int = -1) -> list[str | int | float]:
        o = fill.order
        side = "BOT" if o.action == "BUY" else "SLD"
        return m.exec_details(
            req_id,
            o.order_id,
            o.con_id,
            o.symbol,
            fill.exec_id,
            fill.time.strftime("%Y%m%d %H:%M:%S UTC"),
            self.account,
            side,
            fill.shares,
            fill.price,
            o.perm_id,
            o.client_id,
            o.filled,
            o.avg_price,
            o.order_ref,
        )

    # -- matching ------------------------------------------------------------------------
    def match_now(self, order: SimOrder) -> None:
        """A new or modified order meets the current price: market orders, and limit/stop
        orders already marketable (they fill at the current price, like an exchange)."""
        when, bar = self.current_bar(order.symbol)
        order.last_bar = when
        order.placed_bar = when
        order.working_day = _working_day(self.clock.now())
        if order.tif == "OPG":
            # at-the-open orders wait for the next opening auction after they were placed
            order.opg_day = _next_open_day(self.clock.now())
            return
        close = float(bar["close"])
        side = order.side
        if order.order_type == "TRAIL" and order.trail_stop is None:
            self.book.trail_to(order, close)
        if order.order_type == "STP LMT" and order.aux_price is not None:
            order.triggered = side * (close - order.aux_price) >= 0
        limit = order.lmt_price
        stop = order.trail_stop if order.order_type == "TRAIL" else order.aux_price
        marketable = {
            "MKT": True,
            "LMT": limit is not None and side * (limit - close) >= 0,
            "STP": stop is not None and side * (close - stop) >= 0,
            "TRAIL": stop is not None and side * (close - stop) >= 0,
            "STP LMT": order.triggered and limit is not None and side * (limit - close) >= 0,
        }[order.order_type]
        capacity = self.book.capacity(bar)
        if order.tif == "FOK" and not (marketable and capacity >= order.remaining):
            self.cancel(order)  # fill-or-kill: all of it now, or nothing
            return
        if marketable:
            fill = self.book.fill(order, close, self.clock.now(), capacity)
            self.on_fill(fill)
        if order.tif in IMMEDIATE_TIFS and order.status not in DONE:
            self.cancel(order)  # immediate-or-cancel: what did not fill at once is cancelled

    def match_new_bars(self) -> None:
        """Work open orders through every bar completed since they last looked: limit and
        stop orders by the engine's rules, market remainders at the next open, at most the
        participation limit per bar; DAY orders expire when their New York session ends."""
        now = self.clock.now()
        for order in list(self.book.orders.values()):
            if order.status in DONE or order.last_bar is None or order.status == "PreSubmitted":
                continue
            bars, done = self.market.price_bars(order.symbol, now)
            first = int(bars.index.searchsorted(order.last_bar, side="right"))
            last = int(bars.index.searchsorted(done, side="right"))
            if first >= last:
                continue  # nothing new since this order last looked (the common case)
            new = bars.iloc[first:last]
            for i in range(len(new)):
                when = pd.Timestamp(new.index[i])
                day = _session_day(when)
                if order.tif in ("DAY", "") and day >= order.working_day:
                    if order.session_day is None:
                        order.session_day = day
                    elif day > order.session_day:
                        self.cancel(order)  # end of day: IB cancels unfilled DAY orders
                        break
                order.last_bar = when
                if order.tif == "OPG" and (
                    not _opening_bar(when) or order.opg_day is None or day < order.opg_day
                ):
                    continue  # not the first opening auction after the order was placed
                bar = new.iloc[i]
                if order.tif == "OPG":  # only the opening price is on offer
                    bar = bar.copy()
                    bar["high"] = bar["low"] = bar["close"] = bar["open"]
                fill = self.book.try_fill(order, bar, when, at_market=False)
                if fill is not None:
                    self.on_fill(fill)
                if (
                    order.tif in ("DAY", "")
                    and _opening_bar(when)
                    and when.hour == 0
                    and order.session_day == day
                    and order.status not in DONE
                ):
                    self.cancel(order)  # a daily bar is a whole session: the DAY order expired
                    break
                if order.tif == "OPG" and order.status not in DONE:
                    self.cancel(order)  # the opening auction is over: the rest is cancelled
                if order.status in DONE:
                    break

    def transmit(self, order: SimOrder) -> None:
        """Send a staged order (and its staged children, which wait for it to fill)."""
        order.transmitted = True
        for child in self.children(order):
            child.transmitted = True
        order.status = "Submitted"
        owner = self.sessions.get(order.client_id)
        if owner is not None:
            owner.send(self.status_msg(order))
        self.match_now(order)

    def children(self, order: SimOrder) -> list[SimOrder]:
        """The working orders attached to ``order`` (from the index, not a scan of the book:
        this runs on every fill and cancel)."""
        out = []
        for child_id in self.child_ids.get((order.client_id, order.order_id), ()):
            o = self.book.orders.get((order.client_id, child_id))
            if o is not None and o.parent_id == order.order_id and o.status not in DONE:
                out.append(o)
        return out

    def add_order(self, order: SimOrder) -> None:
        """Store a new or modified order (and index it under its parent)."""
        self.book.orders[(order.client_id, order.order_id)] = order
        if order.parent_id:
            self.child_ids.setdefault((order.client_id, order.parent_id), {})[order.order_id] = None

    def after_fill(self, order: SimOrder) -> None:
        """Brackets and OCA: a filled parent releases its children; a filled child or OCA
        member cancels the others of its group."""
        for child in self.children(order):
            if child.transmitted:
                child.status = "Submitted"
                owner = self.sessions.get(child.client_id)
                if owner is not None:
                    owner.send(self.status_msg(child))
                self.match_now(child)
        others: list[SimOrder] = []
        if order.parent_id:
            others += [
                o
                for o in self.book.orders.values()
                if o.client_id == order.client_id and o.parent_id == order.parent_id
            ]
        if order.oca_group:
            others += [
                o
                for o in self.book.orders.values()
                if o.client_id == order.client_id and o.oca_group == order.oca_group
            ]
        for o in others:
            if o is not order and o.status not in DONE:
                self.cancel(o)

    def on_fill(self, fill: Fill) -> None:
        """Tell the owner (IB's order: execDetails, openOrder, orderStatus, commissionReport),
        then push positions and account values to the sessions that asked for them."""
        o = fill.order
        if o.status == "Filled":
            self.finished(o)
        owner = self.sessions.get(o.client_id)
        if owner is not None:
            owner.send(self.exec_msg(fill))
            owner.send(self.open_order_msg(o))
            owner.send(self.status_msg(o))
            owner.send(m.commission_report(fill.exec_id, fill.commission, fill.realized))
        self.after_fill(o)
        pos = self.book.positions[o.symbol]
        position = encode(m.position(self.account, o.con_id, o.symbol, pos.quantity, pos.avg_cost))
        account: bytes | None = None  # built once, sent to every subscriber
        for s in list(self.connections):
            if s.wants_positions:
                s.send_bytes(position)
            if s.wants_account:
                if account is None:
                    account = s.account_bytes()
                s.send_account(account)

    # -- streams -------------------------------------------------------------------------
    def send_quotes(self, sub: QuoteSubscription) -> None:
        """Bid, ask, last, volume, close and last time from the current bar (IB's order)."""
        when, bar = self.current_bar(sub.symbol)
        sub.last_bar = when
        close, volume = float(bar["close"]), float(bar["volume"])
        bid, ask, bid_size, ask_size = quote(close, volume, sub.min_tick)
        daily = self.market.daily(sub.symbol)
        prior = daily[daily.index < when.normalize()]
        s, r = sub.session, sub.req_id
        s.send(m.tick_price(r, m.BID, bid, bid_size))
        s.send(m.tick_price(r, m.ASK, ask, ask_size))
        s.send(m.tick_price(r, m.LAST, close, 100.0))
        s.send(m.tick_size(r, m.VOLUME, volume))
        if not prior.empty:
            s.send(m.tick_price(r, m.CLOSE, float(prior["close"].iloc[-1]), 0.0))
        s.send(m.tick_string(r, m.LAST_TIMESTAMP, str(int(when.timestamp()))))

    def send_depth(self, sub: DepthSubscription, insert: bool = False) -> None:
        """The book from the depth model: rows inserted in ascending order once, then updated
        in place (the discipline that keeps ib_async's and ib_insync's books the same)."""
        when, bar = self.current_bar(sub.symbol)
        sub.last_bar = when
        close, volume = float(bar["close"]), float(bar["volume"])
        bid, ask, _, _ = quote(close, volume, sub.min_tick)
        op = m.DEPTH_INSERT if insert else m.DEPTH_UPDATE
        levels = depth_levels(bid, ask, volume, sub.rows, sub.min_tick)
        for k, (bp, bs, ap, asz) in enumerate(levels):
            sub.session.send(m.depth_update(sub.req_id, k, op, m.DEPTH_BID, bp, bs))
            sub.session.send(m.depth_update(sub.req_id, k, op, m.DEPTH_ASK, ap, asz))

    def send_realtime(self, sub: RealtimeSubscription) -> None:
        """Every 5-second bar completed since the last push (derived from the minutes)."""
        now = self.clock.now()
        minute = self.market.intraday(sub.symbol)
        if minute is None:
            return
        start = sub.last_time.floor("1min")
        window = minute[(minute.index >= start) & (minute.index <= now)]
        if window.empty:
            return
        bars = five_second_bars(window)
        idx = pd.DatetimeIndex(bars.index)
        done = bars[(idx >= sub.last_time) & (idx <= now - pd.Timedelta(seconds=5))]
        o, h, lo, c, v = (
            done[col].to_numpy(dtype=float) for col in ("open", "high", "low", "close", "volume")
        )
        for k in range(len(done)):
            ts = pd.Timestamp(done.index[k])
            wap = round((h[k] + lo[k] + c[k]) / 3.0, 6)
            sub.session.send(
                m.realtime_bar(
                    sub.req_id, int(ts.timestamp()), o[k], h[k], lo[k], c[k], v[k], wap, 0
                )
            )
            sub.last_time = ts + pd.Timedelta(seconds=5)

    def push_streams(self) -> None:
        """New quotes for streaming reqMktData; new or changed bars for keepUpToDate."""
        for sub in list(self.quote_subs.values()):
            if self.current_bar(sub.symbol)[0] != sub.last_bar:
                self.send_quotes(sub)
        for rt in list(self.rt_subs.values()):
            self.send_realtime(rt)
        for depth in list(self.depth_subs.values()):
            if self.current_bar(depth.symbol)[0] != depth.last_bar:
                self.send_depth(depth)
        now = self.clock.now()
        for b in list(self.bar_subs.values()):
            try:
                bars = self.market.bars_between(
                    b.symbol,
                    b.last_label - pd.Timedelta(seconds=1),
                    now,
                    b.bar_size,
                    b.what,
                    b.use_rth,
                )
            except Exception:  # no bars yet (e.g. outside the data): nothing to push
                continue
            for i in range(len(bars)):
                label = pd.Timestamp(bars.index[i])
                values = tuple(float(x) for x in bars.iloc[i])
                if label < b.last_label or (label == b.last_label and values == b.last_values):
                    continue
                if self.lockstep and label > b.last_label:
                    # an in-process client (the live bridge's rehearsal) decides on this bar
                    # with the clock held, and resumes it when its orders are in
                    self.clock.pause()
                    self.released = True
                    self.held_bar = label
                fields = bar_fields(bars.iloc[i : i + 1], b.daily, b.format_date)
                date, o, h, lo, c, v, wap = fields[:7]
                b.session.send(
                    m.historical_update(
                        b.req_id,
                        str(date),
                        float(o),
                        float(h),
                        float(lo),
                        float(c),
                        float(wap),
                        float(v),
                    )
                )
                b.last_label, b.last_values = label, values

    def hold_at_next_bar(self) -> None:
        """Lockstep: the clock stops at the release of the next subscribed bar, so each one
        goes out (and is acted on) alone and time never runs ahead, at any speed."""
        release = None
        now = self.clock.now()
        for b in self.bar_subs.values():
            when = self.market.next_release(b.symbol, b.last_label, b.bar_size, b.use_rth, now)
            if when is not None:
                release = when if release is None else min(release, when)
        self.ceiling_at = release
        self.clock.hold_at(release)

    def drop_subscriptions(self, session: Session) -> None:
        """A closed connection's streams end (clients do not cancel on disconnect)."""
        tables: tuple[dict[tuple[int, int], Any], ...] = (
            self.bar_subs,
            self.quote_subs,
            self.depth_subs,
            self.rt_subs,
        )
        for table in tables:
            for key in [k for k, v in table.items() if v.session is session]:
                del table[key]

    def cancel(self, order: SimOrder) -> None:
        """Cancel an order, and first the working orders below it (the children of a
        cancelled parent), IB's way. Each order is visited once, iteratively, so no chain of
        parent ids can recurse or loop."""
        chain: list[SimOrder] = []
        seen: set[int] = set()
        todo = [order]
        while todo:
            o = todo.pop()
            if id(o) in seen:
                continue
            seen.add(id(o))
            chain.append(o)
            todo.extend(self.children(o))
        for o in reversed(chain):  # children before their parents
            if o.status in DONE:
                continue
            o.status = "Cancelled"
            owner = self.sessions.get(o.client_id)
            if owner is not None:
                owner.send(self.status_msg(o))
                owner.send(m.error(o.order_id, m.ORDER_CANCELLED, "Order Canceled - reason:"))
            self.finished(o)

    def finished(self, order: SimOrder) -> None:
        """Note that ``order`` is done. Finished orders are kept for reconnect replay and
        completed orders up to ``limits.max_finished_orders``; beyond it the oldest are
        forgotten with their executions (in batches, so pruning costs O(1) per order).
        Working orders are never pruned."""
        self.done_orders.append(order)
        keep = self.limits.max_finished_orders
        if len(self.done_orders) > keep + max(1, keep // 10):
            gone: set[tuple[int, int]] = set()
            while len(self.done_orders) > keep:
                old = self.done_orders.popleft()
                key = (old.client_id, old.order_id)
                current = self.book.orders.get(key)
                if current is not None and current.status in DONE:
                    del self.book.orders[key]
                    self.child_ids.pop(key, None)
                    gone.add(key)
            if gone:
                self.book.fills = [
                    f for f in self.book.fills if (f.order.client_id, f.order.order_id) not in gone
                ]


class Gateway:
    """Start/stop the simulator; ``port=0`` picks a free port (see ``.port`` after start).

    ``paused`` starts with the clock held until :meth:`resume`; ``lockstep`` holds it again
    whenever a new keepUpToDate bar is sent, so an in-process client that resumes it after
    acting trades every bar in time however loaded the machine is (the live bridge's
    embedded rehearsals use both; a TWS client over the network never resumes it).
    """

    def __init__(
        self,
        port: int = 4002,
        *,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        start: str | pd.Timestamp | None = None,
        speed: float = 1.0,
        account: str = "DU1234567",
        cash: float = 1_000_000.0,
        participation: float = 0.1,
        commission: Commission | None = None,
        slippage_bps: float = 0.0,
        paused: bool = False,
        lockstep: bool = False,
        limits: Limits | None = None,
    ) -> None:
        market = Market(data_dir)
        begin = _start_time(start) if start is not None else market.last_time()
        self.state = GatewayState(market, SimClock(begin, speed, paused), account, cash)
        self.state.book.participation = participation
        self.state.book.slippage = slippage_bps / 1e4
        self.state.lockstep = lockstep
        if limits is not None:
            self.state.limits = limits
        if commission is not None:
            self.state.book.commission = commission
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._matcher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    async def start_async(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Session(self.state), self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._matcher = asyncio.get_running_loop().create_task(self._match_forever())

    async def _match_forever(self) -> None:
        wake = self._wake = asyncio.Event()
        clock = self.state.clock
        while True:
            wait = MATCH_INTERVAL
            if self.state.lockstep and clock.paused_at is None and clock.ceiling is not None:
                # nothing happens before the next release: wake exactly then
                ahead = (clock.ceiling - clock.now()).total_seconds() / clock.speed
                wait = max(0.0, min(wait, ahead))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)
            wake.clear()
            try:
                state = self.state
                clock, run_on = state.clock, False
                if state.lockstep:
                    # one instant per tick: orders are matched and bars released at the same
                    # simulated time, so a fill is always sent before the bar that follows it
                    state.hold_at_next_bar()
                    at_ceiling = (
                        clock.paused_at is not None
                        and clock.paused_at == state.ceiling_at
                        and state.held_bar is None
                    )
                    run_on = clock.paused_at is None or at_ceiling
                    clock.pause()
                    state.released = False
                state.match_new_bars()
                state.push_streams()
                if state.lockstep:
                    state.hold_at_next_bar()  # the next release is the new ceiling
                if run_on and not state.released:
                    clock.resume()  # nothing went out at this instant: time runs on
            except Exception:  # the matcher serves every client: it must never stop
                log.exception("matching failed")
            now = asyncio.get_running_loop().time()
            for s in list(self.state.connections):
                s.check(now)  # slow readers and stalled frames (never waits on a client)

    async def serve_forever(self) -> None:
        await self.start_async()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    def start(self) -> Gateway:
        """Run on a daemon thread; returns once the port is listening."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to the caller of start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="toolkit-gateway", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        """Close the listener and every client connection, then stop the thread."""
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for s in list(self.state.connections):
                s.close()
            for _ in range(100):  # connection_lost runs once each socket has closed
                if not self.state.connections:
                    break
                await asyncio.sleep(0.05)
            if self._server is not None:
                await self._server.wait_closed()
            if self._matcher is not None:
                self._matcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._matcher

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def drop_clients(self) -> None:
        """Close every client connection but keep orders, fills and positions, as IB Gateway's
        nightly restart or a network outage does; clients must reconnect."""
        loop = self._loop
        if loop is None:
            return

        def close_all() -> None:
            for s in list(self.state.connections):
                s.close()

        loop.call_soon_threadsafe(close_all)

    def pause(self) -> None:
        """Stop the simulated clock."""
        self.state.clock.pause()

    def resume(self) -> None:
        """Start the simulated clock again from where it stopped (and look for new bars at
        once rather than at the next tick)."""
        self.state.held_bar = None
        self.state.clock.resume()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    @property
    def paused(self) -> bool:
        return self.state.clock.paused_at is not None

    @property
    def held_bar(self) -> pd.Timestamp | None:
        """Lockstep: the label of the bar whose release holds the clock (None: not held
        for a bar)."""
        return self.state.held_bar if self.paused else None

    def advance(self, delta: str | pd.Timedelta) -> None:
        """Move the simulated clock forward by ``delta`` (e.g. "1D")."""
        self.state.clock.advance(pd.Timedelta(delta))

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _start_time(start: str | pd.Timestamp) -> pd.Timestamp:
    """The simulated start; a text that is no date/time is the user's error, named."""
    try:
        when = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise ConfigError(
            f"simulator start {start!r} is not a date/time; use e.g. '2024-03-14 14:00' (UTC)."
        ) from None
    if pd.isna(when):
        raise ConfigError(f"simulator start {start!r} is not a date/time.")
    return when
