"""The connections' shared registry: who is connected under which client id, and the
translation of the exchange's events into IB's messages for the clients concerned (the
order's owner, or every subscriber to positions and the account). It also runs one matcher
tick over the exchange and the streams. Connections are seen through :class:`Client`, so
this module never imports the session that implements it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pandas as pd

from toolkit.gateway import messages as m
from toolkit.gateway.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    PositionChanged,
    StatusChanged,
)
from toolkit.gateway.exchange import Exchange
from toolkit.gateway.framing import encode
from toolkit.gateway.limits import Limits
from toolkit.gateway.market import Market, SimClock
from toolkit.gateway.orders import Book, Fill, SimOrder
from toolkit.gateway.pacing import HistoryPacing
from toolkit.gateway.streams import Streams

Message = list[str | int | float]


class Client(Protocol):
    """One connection as the registry sees it (implemented by the session)."""

    client_id: int | None
    wants_positions: bool
    wants_account: bool

    def send(self, fields: Message) -> None: ...

    def send_bytes(self, data: bytes) -> None: ...

    def check(self, now: float) -> None: ...

    def close(self, reason: str | None = None) -> None: ...


# -- orders and fills on the wire ------------------------------------------------------------
def order_block(o: SimOrder) -> m.Block:
    """The order's contract on the wire (a stock's block unless the order carries one)."""
    return o.block or m.stock_block(o.con_id, o.symbol)


def open_order_msg(
    o: SimOrder, account: str, what_if: list[str] | None = None, commission: float | None = None
) -> Message:
    """openOrder for ``o``; ``what_if`` (margin strings) and ``commission`` make it the
    reply to a whatIf preview."""
    status = (
        "Filled"
        if o.status == "Filled"
        else ("Cancelled" if o.status == "Cancelled" else "Submitted")
    )
    return m.open_order(
        o.order_id,
        order_block(o),
        o.action,
        o.quantity,
        o.order_type,
        o.lmt_price,
        o.aux_price,
        o.tif,
        account,
        o.order_ref,
        o.client_id,
        o.perm_id,
        o.parent_id,
        "PreSubmitted" if what_if else status,
        [(leg.con_id, leg.ratio, leg.action, leg.exchange) for leg in o.legs],
        what_if or (),
        commission,
        o.display_size,
        (o.algo_strategy, o.algo_params),
    )


def status_msg(o: SimOrder) -> Message:
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


def exec_msg(fill: Fill, account: str, req_id: int = -1) -> Message:
    """execDetails of one execution: a combo leg's carries the leg's contract, side and
    contracts (its cumulative quantity and average are this execution's), the combo's own
    the BAG at the net price."""
    o = fill.order
    side = "BOT" if fill.action == "BUY" else "SLD"
    leg = fill.leg
    return m.exec_details(
        req_id,
        o.order_id,
        order_block(o) if leg is None else leg.block,
        fill.exec_id,
        fill.time.strftime("%Y%m%d %H:%M:%S UTC"),
        account,
        side,
        fill.shares,
        fill.price,
        o.perm_id,
        o.client_id,
        o.filled if leg is None else fill.shares,
        o.avg_price if leg is None else fill.price,
        o.order_ref,
    )


class GatewayState:
    """What every connection shares: the exchange, the streams, the limits, and who is
    connected under which client id. It is the exchange's listener: each event becomes the
    messages IB sends for it, to the order's owner or to every subscriber.

    ``book``, ``clock``, ``market``, ``cash``, ``account`` and ``held_bar`` are the
    exchange's and the streams' own, read (and ``cash`` set) by tests and the live bridge's
    rehearsals."""

    def __init__(self, exchange: Exchange, streams: Streams, limits: Limits) -> None:
        self.exchange = exchange
        self.streams = streams
        self.limits = limits
        rules = limits.history_pacing
        self.history_pacing = HistoryPacing(rules) if rules is not None else None
        self.sessions: dict[int, Client] = {}
        self.connections: set[Client] = set()
        # fault injection (tests, Gateway.cut_at_order): called with the orderRef of every
        # placeOrder received; "before" cuts the client off before the order is booked (lost
        # on the wire), "after" books it and cuts the client off before the acknowledgement
        self.order_cut: Callable[[str], str | None] | None = None
        exchange.subscribe(self.on_event)

    # -- views of the layers below -------------------------------------------------------
    @property
    def book(self) -> Book:
        return self.exchange.book

    @property
    def clock(self) -> SimClock:
        return self.exchange.clock

    @property
    def market(self) -> Market:
        return self.exchange.market

    @property
    def account(self) -> str:
        return self.exchange.account

    @property
    def cash(self) -> float:
        return self.exchange.cash

    @cash.setter
    def cash(self, value: float) -> None:
        self.exchange.cash = value

    @property
    def lockstep(self) -> bool:
        return self.streams.lockstep

    @property
    def held_bar(self) -> pd.Timestamp | None:
        return self.streams.held_bar

    @held_bar.setter
    def held_bar(self, value: pd.Timestamp | None) -> None:
        self.streams.held_bar = value

    # -- client ids ----------------------------------------------------------------------
    def claim(self, client_id: int, session: Client) -> bool:
        """Register a client id; False when another live session holds it."""
        if client_id in self.sessions:
            return False
        self.sessions[client_id] = session
        return True

    def release(self, session: Client) -> None:
        if session.client_id is not None and self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    # -- time ----------------------------------------------------------------------------
    def tick(self) -> None:
        """One step of the matcher: orders meet the bars completed since the last step,
        then the streams push them. Under lockstep both happen at one instant (a fill is
        always sent before the bar that follows it) and the clock runs on only when no new
        bar went out."""
        run_on = self.streams.begin_tick()
        self.exchange.match_new_bars()
        self.streams.push()
        self.streams.end_tick(run_on)

    # -- events --------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """The messages IB sends for what happened on the exchange."""
        if isinstance(event, PositionChanged):
            self._push_position(event.symbol)
            return
        order = event.fill.order if isinstance(event, OrderFilled) else event.order
        owner = self.sessions.get(order.client_id)
        if owner is None:
            return  # a disconnected owner hears of it on reconnect (open orders, executions)
        account = self.account
        if isinstance(event, OrderAccepted):
            owner.send(open_order_msg(order, account))
            owner.send(status_msg(order))
        elif isinstance(event, StatusChanged):
            owner.send(status_msg(order))
        elif isinstance(event, OrderCancelled):
            owner.send(status_msg(order))
            owner.send(m.error(order.order_id, m.ORDER_CANCELLED, "Order Canceled - reason:"))
        elif event.fill.leg is not None:  # a combo leg: its execution and commission
            fill = event.fill
            owner.send(exec_msg(fill, account))
            owner.send(m.commission_report(fill.exec_id, fill.commission, fill.realized))
        else:  # IB's order: execDetails, openOrder, orderStatus, commissionReport
            fill = event.fill
            owner.send(exec_msg(fill, account))
            owner.send(open_order_msg(order, account))
            owner.send(status_msg(order))
            owner.send(m.commission_report(fill.exec_id, fill.commission, fill.realized))

    def _push_position(self, symbol: str) -> None:
        """Positions and account values to the sessions that asked for them (each message
        built once for every subscriber)."""
        pos = self.book.positions[symbol]
        block = self.market.instruments[symbol].block("")
        position = encode(m.position(self.account, block, pos.quantity, pos.avg_cost))
        account: bytes | None = None
        for s in list(self.connections):
            if s.wants_positions:
                s.send_bytes(position)
            if s.wants_account:
                if account is None:
                    account = self.account_bytes()
                s.send_bytes(account)

    def account_bytes(self) -> bytes:
        """The account push (values and portfolio) encoded once."""
        out: list[bytes] = []
        ex = self.exchange
        for key, text in ex.account_values():
            out.append(encode(m.account_value(key, text, "USD", ex.account)))
        for symbol, pos in ex.book.positions.items():
            inst = ex.market.instruments[symbol]
            price = ex.price(symbol)
            value = ex.value(symbol, pos.quantity)
            unreal = value - pos.avg_cost * pos.quantity
            out.append(
                encode(
                    m.portfolio(
                        inst.block(inst.primary_exchange),
                        pos.quantity,
                        price,
                        value,
                        pos.avg_cost,
                        unreal,
                        pos.realized,
                        ex.account,
                    )
                )
            )
        return b"".join(out)
