"""The simulated exchange and account: the book, matching, margin, brackets and OCA groups,
time in force, and the account's figures. It changes only through its methods, tells what
happened through :mod:`toolkit.gateway.events` to one listener, and knows nothing about
sockets, sessions or the wire format (orders are owned by client ids, which are part of
their keys at IB too)."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from toolkit.data import calendar
from toolkit.engine._expiry import AUTO_EXERCISE_THRESHOLD, settle_expiry_nb
from toolkit.gateway import algos
from toolkit.gateway._book_fills import BookFills
from toolkit.gateway.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    PositionChanged,
    StatusChanged,
)
from toolkit.gateway.margin import Holding, option_requirement
from toolkit.gateway.market import Market, SimClock
from toolkit.gateway.orders import (
    DONE,
    IMMEDIATE_TIFS,
    Book,
    Fill,
    OrderRejected,
    Position,
    SimOrder,
)

ORDER_REJECTED = 201
log = logging.getLogger("toolkit.gateway")


def _session_day(ts: pd.Timestamp | None, daily: bool) -> pd.Timestamp:
    """The exchange date of a bar: a daily bar's own (stamped at midnight UTC), an intraday
    bar's New York date -- a minute bar can be stamped midnight UTC too (19:00 EST, in the
    minute file's extended hours), which is the evening before, not a session."""
    if ts is None:
        return pd.Timestamp.min
    return pd.Timestamp(ts.date() if daily else calendar.local_date(ts))


def _opening_bar(ts: pd.Timestamp, daily: bool) -> bool:
    """A daily bar, or the intraday bar that starts the regular session (09:30 New York)."""
    if daily:
        return True
    local = ts.tz_convert(calendar.NEW_YORK)
    return bool((local.hour, local.minute) == (calendar.OPEN.hour, calendar.OPEN.minute))


def _regular_minute(ts: pd.Timestamp) -> bool:
    """An intraday bar inside the regular session (09:30 to the close, New York). IB works
    an order only there unless it is flagged outsideRth, which the simulator does not take:
    a resting limit or stop must not fill on the minute file's pre- or after-market bars."""
    local = ts.tz_convert(calendar.NEW_YORK)
    return bool(calendar.OPEN <= local.time() < calendar.close_time(local.date()))


def _working_day(placed: pd.Timestamp) -> pd.Timestamp:
    """The session a DAY order placed at ``placed`` works in: today's until its close
    (13:00 on an early-close day), the next one after it."""
    return pd.Timestamp(calendar.working_day(placed))


def _next_open_day(placed: pd.Timestamp) -> pd.Timestamp:
    """The day of the first opening auction (09:30 New York) after ``placed``."""
    return pd.Timestamp(calendar.next_open_day(placed))


def _ignore(event: Event) -> None:
    """The listener of an exchange nobody has subscribed to."""


@dataclass
class Exchange:
    """Orders, fills, positions and cash of the simulated account, matched against the
    market's bars as the clock runs."""

    market: Market
    clock: SimClock
    account: str = "DU1234567"
    cash: float = 1_000_000.0
    book: Book = field(default_factory=Book)
    keep_finished: int = 10_000  # finished orders kept for replay (Limits.max_finished_orders)
    listener: Callable[[Event], None] = _ignore
    order_ids: dict[int, int] = field(default_factory=dict)  # highest order id per client id
    done_orders: deque[SimOrder] = field(default_factory=deque)  # oldest finished first
    # children's order ids by (client id, parent id), in placing order
    child_ids: dict[tuple[int, int], dict[int, None]] = field(default_factory=dict)
    _unsettled: set[str] = field(default_factory=set)  # expired options without a price
    # IB algo orders' plans by (client id, order id) (toolkit.gateway.algos)
    algo_plans: dict[tuple[int, int], algos.Algo] = field(default_factory=dict)
    # the depth-replayed symbol's orders fill against its replayed book (None: no replay)
    depth_book: BookFills | None = None

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Send every event from now on to ``listener`` (one listener: the session layer)."""
        self.listener = listener

    def next_order_id(self, client_id: int) -> int:
        """One past the highest order id this client id has used (1 for a new client)."""
        return self.order_ids.get(client_id, 0) + 1

    # -- prices and the account ----------------------------------------------------------
    def price(self, symbol: str) -> float:
        return self.market.price(symbol, self.clock.now())

    def current_bar(self, symbol: str) -> tuple[pd.Timestamp, pd.Series]:
        return self.market.current_bar(symbol, self.clock.now())

    def value(self, symbol: str, quantity: float) -> float:
        """Market value of ``quantity`` units of ``symbol`` (contracts x 100 for options)."""
        return quantity * self.price(symbol) * self.market.instruments[symbol].multiplier

    def account_values(self) -> list[tuple[str, str]]:
        """Cash, net liquidation and margin figures from the book at current prices (Reg T:
        half the stocks' gross, the options' strategy-based requirement)."""
        book = self.book
        cash = self.cash + book.cash
        quantities = {sym: p.quantity for sym, p in book.positions.items()}
        marks = {sym: self.value(sym, q) for sym, q in quantities.items()}
        net = cash + sum(marks.values())
        gross = sum(abs(v) for v in marks.values())
        stocks, options = self._requirement(quantities)
        initial = stocks * 2 + options  # Reg T: 50% of the stocks' gross (stocks is 25%)
        available = net - initial
        return [
            ("NetLiquidation", f"{net:.2f}"),
            ("TotalCashValue", f"{cash:.2f}"),
            ("CashBalance", f"{cash:.2f}"),
            ("AvailableFunds", f"{available:.2f}"),
            ("BuyingPower", f"{4 * available:.2f}"),
            ("EquityWithLoanValue", f"{net:.2f}"),
            ("GrossPositionValue", f"{gross:.2f}"),
            ("InitMarginReq", f"{initial:.2f}"),
        ]

    def _requirement(self, quantities: dict[str, float]) -> tuple[float, float]:
        """(a quarter of the stocks' gross value -- IB's intraday 4x limit --, the option
        positions' initial margin by :func:`toolkit.gateway.margin.option_requirement`)."""
        instruments = self.market.instruments
        now = self.clock.now()
        stocks = 0.0
        holdings = []
        for sym, q in quantities.items():
            c = instruments[sym].option
            if c is None:
                stocks += abs(self.value(sym, q))
                continue
            spot = self.market.options.underlying_price(c.symbol, now)
            if spot is None:
                spot = self.price(c.symbol) if c.symbol in instruments else c.strike
            holdings.append(Holding(c, q, self.price(sym), spot))
        return stocks / 4.0, option_requirement(holdings)

    def check_buying_power(self, order: SimOrder) -> None:
        """Reject an order whose initial margin afterwards would exceed equity -- a quarter
        of the stocks' gross exposure (IB's intraday Reg T limit of 4x equity) plus the
        options' strategy-based requirement (:mod:`toolkit.gateway.margin`) -- as IB rejects
        such orders, with error 201. An order that only reduces positions always passes."""
        positions = self.book.positions
        equity = self._equity()
        moves = self._moves(order)
        before = {s: positions[s].quantity if s in positions else 0.0 for s in moves}
        after = {s: before[s] + moves[s] for s in moves}
        if all(abs(after[s]) <= abs(before[s]) and after[s] * before[s] >= 0.0 for s in moves):
            return  # an order that only reduces positions is always accepted, as at IB
        book = {s: p.quantity for s, p in positions.items()} | after
        stocks, options = self._requirement(book)
        if stocks + options > equity:
            raise OrderRejected(
                ORDER_REJECTED,
                "Order rejected - reason: YOUR ORDER IS NOT ACCEPTED. IN "
                "ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE "
                f"[{equity:.2f} USD] MUST EXCEED THE INITIAL MARGIN "
                f"[{stocks + options:.2f} USD]",
            )

    def _equity(self) -> float:
        positions = self.book.positions
        return (
            self.cash
            + self.book.cash
            + sum(self.value(s, p.quantity) for s, p in positions.items())
        )

    @staticmethod
    def _moves(order: SimOrder) -> dict[str, float]:
        """Units each contract of the order moves when all of it fills (a combo: each leg's
        ratio x combos)."""
        if order.legs:
            return {
                leg.symbol: order.side * leg.side * leg.ratio * order.remaining
                for leg in order.legs
            }
        return {order.symbol: order.side * order.remaining}

    def preview(self, order: SimOrder, min_tick: float) -> tuple[list[str], float]:
        """A whatIf order: IB's nine margin figures (initial, maintenance, equity with loan:
        before, change, after -- Reg T: 50% / 25% of the stocks' gross plus the options'
        strategy-based requirement) and the commission it would cost at the current price
        (options and combos at their touch). The order is checked like a real one and
        never booked."""
        self.book.validate(order, min_tick)
        self._plan(order, min_tick)
        positions = self.book.positions
        now = {s: p.quantity for s, p in positions.items()}
        moves = self._moves(order)
        after = now | {s: now.get(s, 0.0) + q for s, q in moves.items()}
        stocks_b, options_b = self._requirement(now)
        stocks_a, options_a = self._requirement(after)
        when = self.clock.now()
        fee = 0.0
        for sym, qty in moves.items():
            inst = self.market.instruments[sym]
            price = self._touch(sym, qty > 0) if inst.option is not None else None
            price = self.price(sym) if price is None else price
            fee += self.book.estimate_fee(order, qty, price, inst.multiplier, when)
        equity = self._equity()
        before = (2 * stocks_b + options_b, stocks_b + options_b, equity)
        later = (2 * stocks_a + options_a, stocks_a + options_a, equity - fee)
        change = tuple(a - b for a, b in zip(later, before, strict=True))
        return [f"{x:.2f}" for x in (*before, *change, *later)], fee

    # -- placing and cancelling ----------------------------------------------------------
    def replaceable(self, client_id: int, order_id: int) -> SimOrder | None:
        """The working order ``order_id`` replaces (None: a new order). Raises IB's 104 or
        103 for an id that can be neither."""
        existing = self.book.orders.get((client_id, order_id))
        if existing is not None and existing.status == "Filled":
            raise OrderRejected(104, "Can't modify a filled order.")
        if existing is not None and existing.status in DONE:
            raise OrderRejected(103, f"Duplicate order id {order_id}")
        if existing is None and order_id <= self.order_ids.get(client_id, 0):
            # IB: new order ids must be above every id this client has used
            raise OrderRejected(103, f"Duplicate order id {order_id}")
        return existing

    def place(
        self, order: SimOrder, transmit: bool, existing: SimOrder | None, min_tick: float
    ) -> None:
        """Check a new order (or the modification of ``existing``) IB's way, then book it:
        accepted, staged until its group is transmitted, held until its parent fills, or
        matched at once. Raises :class:`OrderRejected` with IB's code."""
        if existing is not None and (
            order.parent_id != existing.parent_id
            or order.symbol != existing.symbol
            or order.action != existing.action
        ):
            raise OrderRejected(105, "Order being modified does not match original order.")
        self.book.validate(order, min_tick)
        if order.account and order.account != self.account:
            raise OrderRejected(
                321,
                f"Error validating request:-'account' : cause - account {order.account[:20]!r} "
                f"is not managed by this login ({self.account})",
            )
        parent = self._parent(order)
        self.check_buying_power(order)
        if existing is None:
            order.perm_id = self.book.new_perm_id()
        else:  # a modification keeps the fills so far
            order.filled, order.avg_price = existing.filled, existing.avg_price
            order.last_price = existing.last_price
        plan = self._plan(order, min_tick)  # after the fills so far: it plans what remains
        order.transmitted = transmit
        if plan is None:
            self.algo_plans.pop((order.client_id, order.order_id), None)
        else:
            self.algo_plans[(order.client_id, order.order_id)] = plan
        self._add(order)
        self.order_ids[order.client_id] = max(
            self.order_ids.get(order.client_id, 0), order.order_id
        )
        held = not order.transmitted or (parent is not None and parent.status != "Filled")
        if held:
            order.status = "PreSubmitted"
        self.listener(OrderAccepted(order))
        if not order.transmitted:
            return  # staged: part of a group still being built
        if parent is not None and not parent.transmitted:
            self._transmit(parent)  # the last leg sends the whole bracket
        if not held:
            self._match_now(order)

    def _plan(self, order: SimOrder, min_tick: float) -> algos.Algo | None:
        """An IB algo order's plan on the symbol's minute bars (None: no algo); raises
        :class:`OrderRejected` for an algo IB or the simulator refuses."""
        if self.depth_book is not None:
            self.depth_book.check(order)
        if not order.algo_strategy:
            return None
        now = self.clock.now()
        bars, _ = self.market.price_bars(order.symbol, now)
        minutes = bars if bars is self.market.intraday(order.symbol) else None
        return algos.start(order, minutes, now, min_tick)

    def _parent(self, order: SimOrder) -> SimOrder | None:
        """The parent a child order names (it must exist and not be dead)."""
        if not order.parent_id:
            return None
        if order.parent_id == order.order_id:
            raise OrderRejected(
                ORDER_REJECTED, "Order rejected - reason: an order cannot be its own parent"
            )
        parent = self.book.orders.get((order.client_id, order.parent_id))
        if parent is None:
            raise OrderRejected(
                ORDER_REJECTED,
                f"Order rejected - reason: parent order {order.parent_id} not found",
            )
        if parent.status in DONE and parent.status != "Filled":
            raise OrderRejected(
                ORDER_REJECTED,
                f"Order rejected - reason: parent order {order.parent_id} is "
                f"{parent.status.lower()}",
            )
        return parent

    def working(self, client_id: int, order_id: int) -> SimOrder | None:
        """The client's order ``order_id`` if it is still working."""
        order = self.book.orders.get((client_id, order_id))
        return None if order is None or order.status in DONE else order

    def cancel_all(self) -> None:
        """reqGlobalCancel: every working order of every client."""
        for order in list(self.book.orders.values()):
            if order.status not in DONE:
                self.cancel(order)

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
            todo.extend(self._children(o))
        for o in reversed(chain):  # children before their parents
            if o.status in DONE:
                continue
            o.status = "Cancelled"
            self.listener(OrderCancelled(o))
            self._finished(o)

    # -- matching ------------------------------------------------------------------------
    def _match_now(self, order: SimOrder) -> None:
        """A new or modified order meets the current price: market orders, and limit/stop
        orders already marketable (they fill at the current price, like an exchange)."""
        if order.quoted:
            order.working_day = _working_day(self.clock.now())
            self._match_quoted(order)
            if order.tif in IMMEDIATE_TIFS and order.status not in DONE:
                self.cancel(order)
            return
        if self.depth_book is not None and self.depth_book.serves(order.symbol):
            order.working_day = _working_day(self.clock.now())
            self._match_book(order, arriving=True)  # OPG too: the replay has no auction
            return
        when, bar = self.current_bar(order.symbol)
        order.last_bar = when
        order.placed_bar = when
        order.working_day = _working_day(self.clock.now())
        if order.tif == "OPG":
            # at-the-open orders wait for the next opening auction after they were placed
            order.opg_day = _next_open_day(self.clock.now())
            return
        plan = self.algo_plans.get((order.client_id, order.order_id))
        if plan is not None:
            # an algo works bar by bar (match_new_bars) from the one after the bar it was
            # planned on, also when planning took simulated time (the clock runs meanwhile)
            order.last_bar = plan.placed_bar or when
            return
        bars, _ = self.market.price_bars(order.symbol, self.clock.now())
        if bars is self.market.intraday(order.symbol) and not _regular_minute(when):
            return  # placed outside regular hours: it waits for the session (match_new_bars)
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
        capacity = self.book.shown(order, self.book.capacity(bar))
        if order.tif == "FOK" and not (marketable and capacity >= order.remaining):
            self.cancel(order)  # fill-or-kill: all of it now, or nothing
            return
        if marketable:
            fill = self.book.fill(order, close, self.clock.now(), capacity)
            self._filled(fill)
        if order.tif in IMMEDIATE_TIFS and order.status not in DONE:
            self.cancel(order)  # immediate-or-cancel: what did not fill at once is cancelled

    def match_new_bars(self) -> None:
        """Work open orders through every bar completed since they last looked: limit and
        stop orders by the engine's rules, market remainders at the next open, at most the
        participation limit per bar; DAY orders expire when their New York session ends."""
        now = self.clock.now()
        self.settle_expired(now)
        for order in list(self.book.orders.values()):
            if order.quoted and order.status not in DONE and order.status != "PreSubmitted":
                self._work_quoted(order, now)
                continue
            if order.status in DONE or order.status == "PreSubmitted":
                continue
            if self.depth_book is not None and self.depth_book.serves(order.symbol):
                self._match_book(order, arriving=False)
                continue
            if order.last_bar is None:
                continue
            bars, done = self.market.price_bars(order.symbol, now)
            daily = bars is not self.market.intraday(order.symbol)
            first = int(bars.index.searchsorted(order.last_bar, side="right"))
            last = int(bars.index.searchsorted(done, side="right"))
            if first >= last:
                continue  # nothing new since this order last looked (the common case)
            new = bars.iloc[first:last]
            for i in range(len(new)):
                when = pd.Timestamp(new.index[i])
                day = _session_day(when, daily)
                if order.tif in ("DAY", "") and day >= order.working_day:
                    if order.session_day is None:
                        order.session_day = day
                    elif day > order.session_day:
                        self.cancel(order)  # end of day: IB cancels unfilled DAY orders
                        break
                order.last_bar = when
                if not daily and not _regular_minute(when):
                    continue  # outside regular trading hours: IB does not work the order
                if order.tif == "OPG" and (
                    not _opening_bar(when, daily) or order.opg_day is None or day < order.opg_day
                ):
                    continue  # not the first opening auction after the order was placed
                bar = new.iloc[i]
                if order.tif == "OPG":  # only the opening price is on offer
                    bar = bar.copy()
                    bar["high"] = bar["low"] = bar["close"] = bar["open"]
                plan = self.algo_plans.get((order.client_id, order.order_id))
                if plan is not None:
                    fill = self._work_algo(order, plan, bar, when)
                else:
                    fill = self.book.try_fill(order, bar, when, at_market=False)
                if fill is not None:
                    self._filled(fill)
                if plan is not None and order.status not in DONE and plan.expired(when):
                    self.cancel(order)  # the algo's endTime: IB cancels what is left
                    break
                if (
                    order.tif in ("DAY", "")
                    and daily
                    and order.session_day == day
                    and order.status not in DONE
                ):
                    self.cancel(order)  # a daily bar is a whole session: the DAY order expired
                    break
                if order.tif == "OPG" and order.status not in DONE:
                    self.cancel(order)  # the opening auction is over: the rest is cancelled
                if order.status in DONE:
                    break

    def _match_book(self, order: SimOrder, arriving: bool) -> None:
        """An order on the depth-replayed symbol meets the replayed book
        (:mod:`toolkit.gateway._book_fills`), through the same fills and cancels as bars'."""
        assert self.depth_book is not None
        fills, cancel = self.depth_book.match(order, arriving)
        for price, shares in fills:
            if order.status in DONE:
                break
            self._filled(self.book.fill(order, round(price, 6), self.clock.now(), shares))
        if cancel and order.status not in DONE:
            self.cancel(order)
        if order.status in DONE:
            self.depth_book.forget(order)

    def _work_algo(
        self, order: SimOrder, algo: algos.Algo, bar: pd.Series, when: pd.Timestamp
    ) -> Fill | None:
        """One completed bar of an IB algo order: the part of its schedule the bar can fill,
        at the algo's price (:mod:`toolkit.gateway.algos`)."""
        price = algo.price(order, bar, when, self.book)
        shares = algo.shares(order, bar, when, self.book)
        if math.isnan(price) or shares < 1:
            return None
        return self.book.fill(order, price, when, shares)

    # -- option orders and combos: matched against the chain's quotes --------------------
    def _touch(self, symbol: str, buy: bool) -> float | None:
        """The price an option order meets now: the ask to buy, the bid to sell (None when
        that side is not quoted)."""
        inst = self.market.instruments[symbol]
        if inst.option is None:
            return None
        q = self.market.options.quote(inst.option, self.clock.now())
        if q is None:
            return None
        price = q.ask if buy else q.bid
        return price if math.isfinite(price) and price > 0.0 else None

    def _match_quoted(self, order: SimOrder) -> None:
        """An option order or a combo meets the quotes in force: all of it fills at once at
        the touch, each leg at its ask when bought and its bid when sold, if it is a market
        order or the net at the touch is at least as good as its limit (a combo's limit is
        its net per combo, debit positive and credit negative, as at IB). A leg without its
        side quoted holds the whole combo back (all or none)."""
        order.quote_day = self._quote_day(order)
        legs = order.legs
        symbols = [leg.symbol for leg in legs] if legs else [order.symbol]
        sides = [order.side * leg.side for leg in legs] if legs else [order.side]
        prices = [self._touch(sym, side > 0) for sym, side in zip(symbols, sides, strict=True)]
        if any(p is None for p in prices):
            return
        touch = [float(p) for p in prices if p is not None]
        net = (
            sum(leg.side * leg.ratio * p for leg, p in zip(legs, touch, strict=True))
            if legs
            else touch[0]
        )
        limit = order.lmt_price
        if order.order_type == "LMT" and limit is not None and order.side * (limit - net) < -1e-9:
            return  # BUY: pays more than its limit; SELL: receives less
        when = self.clock.now()
        if legs:
            fills = self.book.fill_combo(order, touch, when)
        else:
            fills = [self.book.fill(order, touch[0], when)]
        self._filled_all(fills)

    def _quote_day(self, order: SimOrder) -> pd.Timestamp | None:
        symbol = order.legs[0].symbol if order.legs else order.symbol
        inst = self.market.instruments[symbol]
        if inst.option is None:
            return None
        return self.market.options.quote_date(inst.option.symbol, self.clock.now())

    def _work_quoted(self, order: SimOrder, now: pd.Timestamp) -> None:
        """A working option order or combo meets each new quote date once; a DAY order is
        cancelled after the close of its session (it met that close's quotes first), any
        order once one of its contracts has expired."""
        if self._quote_day(order) != order.quote_day:
            self._match_quoted(order)
        symbols = [leg.symbol for leg in order.legs] if order.legs else [order.symbol]
        if order.status not in DONE and any(self._expired(s, now) for s in symbols):
            self.cancel(order)
            return
        if (
            order.status not in DONE
            and order.tif in ("DAY", "")
            and now >= calendar.session_close(order.working_day.date())
        ):
            self.cancel(order)

    def _expired(self, symbol: str, now: pd.Timestamp) -> bool:
        """True once an option's expiry session has closed."""
        inst = self.market.instruments.get(symbol)
        if inst is None or inst.option is None:
            return False
        return bool(now >= calendar.session_close(inst.option.expiry.date()))

    def settlement_price(self, symbol: str) -> float | None:
        """The underlying's settlement price for an option's expiry: its close that day from
        the shipped bars, else the chain's underlying price quoted that day (SPXW's PM
        settlement is the index's close); None when neither exists."""
        c = self.market.instruments[symbol].option
        assert c is not None
        under = self.market.underlying(c.symbol)
        if under is not None and not self.market.quoted(under.symbol):  # it has bars
            closes = self.market.daily(c.symbol)["close"]
            label = c.expiry.tz_localize("UTC")
            if label in closes.index:
                return float(closes.to_numpy()[closes.index.get_loc(label)])
        # an AM-settled monthly (root SPX) settles at the next morning's special opening
        # quotation, which no shipped file holds: its close is used (logged as such)
        if c.trading_class == c.symbol and c.underlying_sec_type == "IND":
            log.info("%s: AM settlement approximated by the expiry day's close", symbol)
        return self.market.options.underlying_on(c.symbol, c.expiry)

    def settle_expired(self, now: pd.Timestamp) -> None:
        """Option positions whose expiry session has closed settle by the engine's one rule
        (:func:`toolkit.engine._expiry.settle_expiry_nb`): index options in cash at intrinsic,
        stock options by exercise by exception into (or out of) 100 shares a contract at the
        strike. Positions change (no executions: IB books exercise and assignment outside the
        API's fills); without a settlement price the position is kept and logged."""
        for symbol, pos in list(self.book.positions.items()):
            if pos.quantity == 0.0 or not self._expired(symbol, now):
                continue
            c = self.market.instruments[symbol].option
            assert c is not None
            settle = self.settlement_price(symbol)
            if settle is None:
                if symbol not in self._unsettled:
                    self._unsettled.add(symbol)
                    log.warning("%s expired without a settlement price: position kept", symbol)
                continue
            under = self.market.underlying(c.symbol)
            assert under is not None
            upos = self.book.positions.setdefault(under.symbol, Position())
            cash, realized, _, u_qty, u_avg, u_realized, units = settle_expiry_nb(
                pos.quantity, pos.avg_cost / c.multiplier, 0.0, c.right == "C", c.strike,
                settle, c.multiplier, c.underlying_sec_type == "STK",
                AUTO_EXERCISE_THRESHOLD, upos.quantity, upos.avg_cost,
            )  # fmt: skip
            self.book.cash += cash
            pos.quantity, pos.avg_cost, pos.realized = 0.0, 0.0, pos.realized + realized
            self.listener(PositionChanged(symbol))
            if units != 0.0:
                upos.quantity, upos.avg_cost = float(u_qty), float(u_avg)
                upos.realized += u_realized
                self.listener(PositionChanged(under.symbol))

    def _filled_all(self, fills: list[Fill]) -> None:
        """The executions of one order at one instant (a combo's legs, then the combo): its
        owner hears of each, then the group reacts, then each position changes."""
        order = fills[-1].order
        if order.status == "Filled":
            self._finished(order)
        for fill in fills:
            self.listener(OrderFilled(fill))
        self._after_fill(order)
        for fill in fills:
            if fill.leg is not None or not order.legs:
                self.listener(PositionChanged(fill.symbol))

    # -- brackets and OCA groups ---------------------------------------------------------
    def _transmit(self, order: SimOrder) -> None:
        """Send a staged order (and its staged children, which wait for it to fill)."""
        order.transmitted = True
        for child in self._children(order):
            child.transmitted = True
        order.status = "Submitted"
        self.listener(StatusChanged(order))
        self._match_now(order)

    def _children(self, order: SimOrder) -> list[SimOrder]:
        """The working orders attached to ``order`` (from the index, not a scan of the book:
        this runs on every fill and cancel)."""
        out = []
        for child_id in self.child_ids.get((order.client_id, order.order_id), ()):
            o = self.book.orders.get((order.client_id, child_id))
            if o is not None and o.parent_id == order.order_id and o.status not in DONE:
                out.append(o)
        return out

    def _add(self, order: SimOrder) -> None:
        """Store a new or modified order (and index it under its parent)."""
        self.book.orders[(order.client_id, order.order_id)] = order
        if order.parent_id:
            self.child_ids.setdefault((order.client_id, order.parent_id), {})[order.order_id] = None

    def _after_fill(self, order: SimOrder) -> None:
        """Brackets and OCA: a filled parent releases its children; a filled child or OCA
        member cancels the others of its group."""
        for child in self._children(order):
            if child.transmitted:
                child.status = "Submitted"
                self.listener(StatusChanged(child))
                self._match_now(child)
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

    def _filled(self, fill: Fill) -> None:
        """An execution: its order's owner hears of it first (IB's order), then the group
        reacts (children released, siblings cancelled), then the position changes."""
        o = fill.order
        if o.status == "Filled":
            self._finished(o)
        self.listener(OrderFilled(fill))
        self._after_fill(o)
        self.listener(PositionChanged(o.symbol))

    def _finished(self, order: SimOrder) -> None:
        """Note that ``order`` is done. Finished orders are kept for reconnect replay and
        completed orders up to ``keep_finished``; beyond it the oldest are forgotten with
        their executions (in batches, so pruning costs O(1) per order). Working orders are
        never pruned."""
        self.algo_plans.pop((order.client_id, order.order_id), None)
        self.done_orders.append(order)
        keep = self.keep_finished
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
