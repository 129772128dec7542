"""Orders in the simulated gateway: validation, working orders, fills, positions.

Fills use the engine's own rules (:mod:`toolkit.engine.fills`) and commission schedule
(:mod:`toolkit.engine.commissions`), so an order fills here as it would in a backtest:
market orders at the current price, limit and stop orders when a new bar's range reaches them
(a gap fills at the open). State is global, not per connection, so a reconnecting client
sees its orders, executions and positions.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from toolkit.engine._step import avg_cost_nb
from toolkit.engine.commissions import Commission, OptionCommission, ibkr_fixed, ibkr_option_fixed
from toolkit.engine.fills import limit_fill_nb, slipped_nb, stop_fill_nb

SUPPORTED_TYPES = ("MKT", "LMT", "STP", "STP LMT", "TRAIL")
DONE = ("Filled", "Cancelled", "Inactive")
# Times in force the simulator works; IB's others are refused by name, anything else with 321.
SUPPORTED_TIFS = ("DAY", "GTC", "IOC", "FOK", "OPG")
OTHER_IB_TIFS = ("GTD", "DTC", "AUC", "GTX", "GAT")
IMMEDIATE_TIFS = ("IOC", "FOK")  # fill at once (FOK: all of it) or cancel what is left
MAX_PRICE = 1e9  # no listed stock trades near this; beyond it a price is a typo or a probe
MAX_QUANTITY = 1e9  # shares per order


class OrderRejected(Exception):
    """Carries IB's error code and text for an invalid order."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


Block = tuple[str | int | float, ...]  # a contract's 11-field wire block


@dataclass(frozen=True)
class OrderLeg:
    """One leg of a combo (BAG) order: its contract (book key, id, wire block, multiplier),
    contracts per combo and side when the combo is bought."""

    symbol: str
    con_id: int
    ratio: int
    action: str  # BUY or SELL
    exchange: str
    multiplier: float
    block: Block

    @property
    def side(self) -> float:
        return 1.0 if self.action == "BUY" else -1.0


@dataclass
class SimOrder:
    """One order as the simulator tracks it. ``legs`` make it a combo (BAG) order: its
    quantity is in combos, its prices are net prices per combo (debit positive)."""

    client_id: int
    order_id: int
    perm_id: int
    symbol: str
    con_id: int
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str
    parent_id: int
    status: str = "Submitted"
    filled: float = 0.0
    avg_price: float = 0.0
    last_bar: pd.Timestamp | None = None  # the last bar this order has been checked against
    placed_bar: pd.Timestamp | None = None  # the current bar when the order arrived
    working_day: pd.Timestamp = pd.Timestamp.min  # DAY orders: first session they work in
    session_day: pd.Timestamp | None = None  # DAY orders: the session they are working in
    trailing_percent: float | None = None  # TRAIL: percent instead of the aux amount
    trail_stop: float | None = None  # TRAIL: current stop level (moves with the best price)
    triggered: bool = False  # STP LMT: the stop has triggered and the limit now works
    oca_group: str = ""
    transmitted: bool = True  # False while staged (transmit=0) until its group is sent
    account: str = ""  # as sent by the client ("" = the login's account)
    last_price: float = 0.0  # price of the latest fill (orderStatus lastFillPrice)
    opg_day: pd.Timestamp | None = None  # OPG: first New York session whose open it works
    block: Block = ()  # the contract as sent back in openOrder/execDetails (empty: a stock's)
    multiplier: float = 1.0  # 100 for an option: prices are per share, positions in contracts
    legs: tuple[OrderLeg, ...] = ()  # a combo's legs
    quoted: bool = False  # matched against option quotes rather than bars
    quote_day: pd.Timestamp | None = None  # quoted: the quote date it was last matched against
    display_size: int = 0  # an iceberg: at most this many shares shown (and filled) at a time
    algo_strategy: str = ""  # IB algo (Adaptive, Twap, Vwap) and its algoParams, as sent
    algo_params: tuple[tuple[str, str], ...] = ()  # (the plan: Exchange.algos)

    @property
    def side(self) -> float:
        return 1.0 if self.action == "BUY" else -1.0

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled


@dataclass(frozen=True)
class Fill:
    """One execution with its commission. A combo's fill is one execution per leg (``leg``
    set: its contract, side and ``shares`` = ratio x combos) and one for the combo itself
    (``leg`` None: combos at the net price, no commission of its own, as IB reports them)."""

    order: SimOrder
    exec_id: str
    time: pd.Timestamp
    shares: float
    price: float
    commission: float
    realized: float | None
    leg: OrderLeg | None = None

    @property
    def action(self) -> str:
        """BUY or SELL: a leg's side within the order's direction."""
        if self.leg is None:
            return self.order.action
        return "BUY" if self.leg.side * self.order.side > 0 else "SELL"

    @property
    def symbol(self) -> str:
        return self.order.symbol if self.leg is None else self.leg.symbol


@dataclass
class Position:
    quantity: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0


@dataclass
class Book:
    """All orders, fills and positions of the simulated account."""

    commission: Commission = field(default_factory=ibkr_fixed)
    option_commission: OptionCommission = field(default_factory=ibkr_option_fixed)
    slippage: float = 0.0
    participation: float = 0.1  # at most this share of a bar's volume fills per bar (0 = any)
    # an order's own commission schedule and slippage (a fraction) by its orderRef, None for
    # the book's: an embedded rehearsal bills each strategy as its backtest does
    costs: Callable[[str], tuple[Commission, float] | None] | None = None
    orders: dict[tuple[int, int], SimOrder] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)
    cash: float = 0.0
    # tiered commission: shares filled this calendar month (UTC, as the engine's month ids)
    # before the next fill, per schedule (the account's, or each one ``costs`` gives), and
    # that month as year * 12 + month
    month_volume: dict[int, float] = field(default_factory=dict)
    month: int = 0
    _perm: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_001))
    _exec: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # execIds never repeat across gateway instances, like IB's (``0000e0d5.6581a3b2.01.01``):
    # a random per-book prefix, then a counter; a journal shared by sessions relies on it
    _exec_prefix: str = field(default_factory=lambda: f"{secrets.randbits(32):08x}")

    def validate(self, order: SimOrder, min_tick: float) -> None:
        """IB's checks on every field the simulator uses: quantity, side, order type, time
        in force (and its combination with the type), prices present, finite, positive and
        on the tick grid. Raises :class:`OrderRejected` with IB's code and text."""
        qty = order.quantity
        if qty == 0:
            raise OrderRejected(434, "The order size cannot be zero.")
        if not (math.isfinite(qty) and 0 < qty <= MAX_QUANTITY):
            raise OrderRejected(
                201, f"Order rejected - reason: invalid order size {qty!r} (0 < size <= 1e9)"
            )
        if order.action not in ("BUY", "SELL"):
            raise OrderRejected(
                201, f"Order rejected - reason: invalid action {order.action!r} (BUY or SELL)"
            )
        if order.order_type not in SUPPORTED_TYPES:
            raise OrderRejected(
                201,
                f"Order rejected - reason: order type {order.order_type} is "
                f"not supported by the simulator yet ({', '.join(SUPPORTED_TYPES)})",
            )
        if order.display_size < 0:
            raise OrderRejected(
                201, f"Order rejected - reason: displaySize {order.display_size} is negative"
            )
        if order.quoted and qty != round(qty):
            raise OrderRejected(
                201,
                f"Order rejected - reason: option and combo quantities are whole contracts "
                f"({qty:g})",
            )
        if order.quoted and (order.order_type not in ("MKT", "LMT") or order.tif == "OPG"):
            raise OrderRejected(
                201,
                f"Order rejected - reason: {order.order_type} {order.tif} is not supported for "
                "options and combos by the simulator (MKT or LMT; DAY, GTC, IOC or FOK)",
            )
        if order.tif not in SUPPORTED_TIFS:
            if order.tif in OTHER_IB_TIFS:
                raise OrderRejected(
                    201,
                    f"Order rejected - reason: time in force {order.tif} is not supported by "
                    f"the simulator ({', '.join(SUPPORTED_TIFS)})",
                )
            raise OrderRejected(
                321,
                f"Error validating request:-'tif' : cause - invalid time in force "
                f"{order.tif[:20]!r} (use {', '.join(SUPPORTED_TIFS)})",
            )
        if order.tif == "OPG" and order.order_type not in ("MKT", "LMT"):
            raise OrderRejected(
                111,
                f"The TIF (OPG) and the order type ({order.order_type}) are incompatible: "
                "at-the-open orders are MKT or LMT",
            )
        if order.tif in IMMEDIATE_TIFS and order.order_type not in ("MKT", "LMT"):
            raise OrderRejected(
                111,
                f"The TIF ({order.tif}) and the order type ({order.order_type}) are "
                "incompatible: immediate orders are MKT or LMT",
            )
        needs: dict[str, float | None] = {
            "MKT": {},
            "LMT": {"limit": order.lmt_price},
            "STP": {"stop": order.aux_price},
            "STP LMT": {"stop": order.aux_price, "limit": order.lmt_price},
            "TRAIL": {},
        }[order.order_type]
        if order.order_type == "TRAIL":
            pct = order.trailing_percent
            if pct is not None:
                if not (math.isfinite(pct) and 0 < pct < 100):
                    raise OrderRejected(
                        201, "Order rejected - reason: trailing percent must be between 0 and 100"
                    )
            else:
                needs = {"trailing amount": order.aux_price}
            if order.trail_stop is not None:
                needs["trail stop"] = order.trail_stop
        for name, price in needs.items():
            if price is None:
                raise OrderRejected(
                    201, f"Order rejected - reason: {order.order_type} needs a {name} price"
                )
            # a combo's net price may be zero or negative (a credit, as IB quotes combos)
            valid = abs(price) <= MAX_PRICE if order.legs else 0 < price <= MAX_PRICE
            if not (math.isfinite(price) and valid):
                raise OrderRejected(
                    201,
                    f"Order rejected - reason: the {name} price {price!r} is not a valid price "
                    f"(0 < price <= {MAX_PRICE:g}; a combo's net within +-{MAX_PRICE:g})",
                )
            ticks = price / min_tick
            if abs(ticks - round(ticks)) > 1e-6:
                raise OrderRejected(
                    110,
                    "The price does not conform to the minimum price variation for this contract.",
                )

    def trail_to(self, order: SimOrder, best: float) -> None:
        """Move a TRAIL order's stop toward ``best`` (never away from the market)."""
        if order.trailing_percent is not None:
            gap = best * order.trailing_percent / 100
        else:
            gap = float(order.aux_price or 0.0)
        level = best + gap if order.side > 0 else best - gap
        if order.trail_stop is None or order.side * (level - order.trail_stop) < 0:
            order.trail_stop = round(level, 6)

    def new_perm_id(self) -> int:
        return next(self._perm)

    def capacity(self, bar: pd.Series) -> float:
        """Shares one bar can absorb: ``participation`` x its volume (whole shares, >= 1)."""
        if self.participation <= 0:
            return math.inf
        return max(1.0, math.floor(self.participation * float(bar["volume"])))

    def fill(
        self, order: SimOrder, price: float, when: pd.Timestamp, shares: float | None = None
    ) -> Fill:
        """Execute ``shares`` (default: all that remains) at ``price`` and book it."""
        shares = order.remaining if shares is None else min(shares, order.remaining)
        signed = order.side * shares
        fee = self._fee(order, signed, price, order.multiplier, when)
        realized = self._book(order.symbol, signed, price, order.multiplier, fee)
        self._filled(order, shares, price)
        f = Fill(order, self._exec_id(), when, shares, price, fee, realized)
        self.fills.append(f)
        return f

    def fill_combo(self, order: SimOrder, prices: list[float], when: pd.Timestamp) -> list[Fill]:
        """Execute all that remains of a combo at once, each leg at its price in ``prices``:
        one execution per leg (its contracts, side, commission and position) and one for
        the combo at the net price (IB sends both)."""
        combos = order.remaining
        out = []
        for leg, price in zip(order.legs, prices, strict=True):
            signed = order.side * leg.side * leg.ratio * combos
            fee = self._fee(order, signed, price, leg.multiplier, when)
            realized = self._book(leg.symbol, signed, price, leg.multiplier, fee)
            out.append(Fill(order, self._exec_id(), when, abs(signed), price, fee, realized, leg))
        net = round(
            sum(leg.side * leg.ratio * p for leg, p in zip(order.legs, prices, strict=True)), 10
        )
        self._filled(order, combos, net)
        out.append(Fill(order, self._exec_id(), when, combos, net, 0.0, None))
        self.fills.extend(out)
        return out

    def _fee(
        self,
        order: SimOrder,
        signed: float,
        price: float,
        multiplier: float,
        when: pd.Timestamp,
        record: bool = True,
    ) -> float:
        """The commission of one execution, the rate chosen by the month's volume before it
        (IBKR Tiered; the engine's commission kernels, fed the same running total): shares
        by the order's stock schedule, contracts by the book's option schedule. ``record``
        False estimates it without counting the volume (a whatIf preview)."""
        month = when.year * 12 + when.month
        if month != self.month and record:
            self.month, self.month_volume = month, {}
        volumes = self.month_volume if month == self.month else {}
        schedule: Commission | OptionCommission = (
            self.option_commission if multiplier != 1.0 else self.cost_model(order)[0]
        )
        volume = volumes.get(id(schedule), 0.0)
        if record:
            self.month_volume[id(schedule)] = volume + abs(signed)
        if isinstance(schedule, OptionCommission):
            return schedule.cost(signed, price, multiplier, volume)
        return schedule.cost(signed, price, volume)

    def estimate_fee(
        self, order: SimOrder, signed: float, price: float, multiplier: float, when: pd.Timestamp
    ) -> float:
        """The commission an execution would cost now, nothing booked or counted."""
        return self._fee(order, signed, price, multiplier, when, record=False)

    def _book(
        self, symbol: str, signed: float, price: float, multiplier: float, fee: float
    ) -> float | None:
        """Book ``signed`` units at ``price`` (per share; x ``multiplier`` per contract) into
        the position and cash; returns the realised P&L of a reducing fill (None otherwise).
        Average cost is per unit in money, as IB reports it (per contract for options)."""
        pos = self.positions.setdefault(symbol, Position())
        reduces = pos.quantity * signed < 0.0
        new, avg, booked = avg_cost_nb(pos.quantity, pos.avg_cost, signed, price * multiplier)
        # IB's convention on top of the one average-cost booking: an opening or adding
        # fill's commission goes into avgCost, a reducing (or flipping) fill's into its
        # realised P&L
        avg, realized = (avg, float(booked) - fee) if reduces else (avg + fee / abs(new), None)
        pos.quantity, pos.avg_cost = float(new), float(avg)
        if realized is not None:
            pos.realized += realized
        self.cash -= signed * price * multiplier + fee
        return realized

    def _filled(self, order: SimOrder, shares: float, price: float) -> None:
        order.avg_price = (order.avg_price * order.filled + price * shares) / (
            order.filled + shares
        )
        order.filled += shares
        order.last_price = price
        order.status = "Filled" if order.remaining <= 1e-9 else "Submitted"

    def _exec_id(self) -> str:
        return f"{self._exec_prefix}.{next(self._exec):08x}.01.01"

    def cost_model(self, order: SimOrder) -> tuple[Commission, float]:
        """The commission schedule and slippage that bill ``order``."""
        own = self.costs(order.order_ref) if self.costs is not None else None
        return own if own is not None else (self.commission, self.slippage)

    def try_fill(
        self, order: SimOrder, bar: pd.Series, when: pd.Timestamp, at_market: bool
    ) -> Fill | None:
        """Market orders fill at ``bar.close`` (the current price); limit and stop orders
        fill when the bar's range reaches them, with the engine's fill rules."""
        side = order.side
        slippage = self.cost_model(order)[1]
        if order.order_type == "MKT":
            # a market order's remainder fills at the next bar's open (the engine's rule)
            ref = float(bar["close"]) if at_market else float(bar["open"])
            price = float(slipped_nb(ref, side, slippage))
        elif order.order_type == "LMT" or (order.order_type == "STP LMT" and order.triggered):
            assert order.lmt_price is not None
            price = float(
                limit_fill_nb(
                    side, order.lmt_price, float(bar["open"]), float(bar["high"]), float(bar["low"])
                )
            )
        elif order.order_type == "STP LMT":
            assert order.aux_price is not None and order.lmt_price is not None
            trig = float(
                stop_fill_nb(
                    side, order.aux_price, float(bar["open"]), float(bar["high"]), float(bar["low"])
                )
            )
            if math.isnan(trig):
                return None
            order.triggered = True
            if side * (trig - order.lmt_price) > 0:  # triggered beyond the limit: works on
                return None
            price = trig
        elif order.order_type == "TRAIL":
            assert order.trail_stop is not None
            trig = float(
                stop_fill_nb(
                    side,
                    order.trail_stop,
                    float(bar["open"]),
                    float(bar["high"]),
                    float(bar["low"]),
                )
            )
            if math.isnan(trig):
                # not hit: the stop follows the bar's best price, checked before it moves as
                # in the engine's trailing exits
                self.trail_to(order, float(bar["low"]) if side > 0 else float(bar["high"]))
                return None
            price = float(slipped_nb(trig, side, slippage))
        else:
            assert order.aux_price is not None
            trig = float(
                stop_fill_nb(
                    side, order.aux_price, float(bar["open"]), float(bar["high"]), float(bar["low"])
                )
            )
            price = float(slipped_nb(trig, side, slippage))
        if math.isnan(price):
            return None
        return self.fill(order, round(price, 6), when, self.shown(order, self.capacity(bar)))

    @staticmethod
    def shown(order: SimOrder, capacity: float) -> float:
        """Shares one match may fill: ``capacity``, at most an iceberg's displayed size (the
        next tranche shows only after this one traded, at the next bar)."""
        return min(capacity, order.display_size) if order.display_size > 0 else capacity
