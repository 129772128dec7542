"""The broker adapter: ib_async behind one class. :class:`Broker` connects, places and cancels
orders and owns the session's trades and IB's order ids; ib_async's execution, commission,
order-status, error, position and connection callbacks reach the session as typed events
(:mod:`toolkit.live._broker_events`), to one listener.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pandas as pd
from ib_async import IB, Contract, Order, Stock, TagValue, Trade
from ib_async.objects import BarDataList, CommissionReport, Fill

from toolkit.live._broker_events import (
    FINAL,
    BrokerError,
    BrokerEvent,
    CancelNotDone,
    ConnectivityNotice,
    Disconnected,
    Executed,
    PositionReported,
    Reconnected,
    Rejected,
    StatusChanged,
    commission_of,
    execution_of,
    status_of,
)
from toolkit.live._fault import Faults
from toolkit.live.orders import OrderRef, OrderSpec

# the translations, importable from the adapter as well (tests/live/test_broker.py)
__all__ = ["Broker", "BrokerError", "ClientIdInUse", "commission_of", "execution_of", "status_of"]

CLIENT_ID_IN_USE = 326  # IB: "Unable to connect as the client id is already in use"
# ib_async's own statuses: set when an order is sent (PendingSubmit, ApiPending) and when a
# cancel is asked for (PendingCancel, which overwrites the first): none says the broker has it
CLIENT_SIDE = ("PendingSubmit", "ApiPending", "PendingCancel")


def acknowledged(trade: Trade) -> bool:
    """Whether the broker has said anything about the order yet. Its status alone does not
    tell: a cancel asked for before the acknowledgement shows PendingCancel (seen in a
    rehearsal: the lockstep then let the clock run before the broker had booked the order,
    which filled a bar late; a connection dropped then would not have put it in doubt)."""
    if trade.orderStatus.status not in CLIENT_SIDE:
        return True  # (an order the broker reported, e.g. after a restart, has no log)
    return any(entry.status not in CLIENT_SIDE for entry in trade.log)


class ClientIdInUse(ConnectionError):
    """The gateway refused the configured client id (IB error 326)."""


class Broker:
    """One session's connection to IB Gateway/TWS (or the embedded simulator) through
    ib_async. It owns the session's trades (by orderRef: those :class:`OrderRef` parses as
    the session's) and IB's order ids, and reports what the broker says as typed events."""

    def __init__(self, session_id: str, fault: Faults) -> None:
        self.ib = IB()
        self._sid = session_id
        self._fault = fault
        self._trades: dict[str, Trade] = {}
        self._order_ids: dict[int, str] = {}
        self._contracts: dict[str, Contract] = {}
        self._listener: Callable[[BrokerEvent], None] | None = None
        # orders in flight when the connection dropped: sent, never acknowledged -- whether
        # the broker got them is unknown until it is asked again (working_orders); those it
        # does not report then are lost on the wire and unknown here (knows() is False)
        self._in_doubt: set[str] = set()
        self._lost: set[str] = set()
        self._was_connected = False
        self.connected = False
        self.reconnects = 0

    def ours(self, ref: str) -> bool:
        """Whether ``ref`` is an orderRef of this session."""
        try:
            return OrderRef.parse(ref).session == self._sid
        except ValueError:
            return False

    # -- connection ----------------------------------------------------------------------
    async def connect(self, host: str, port: int, client_id: int, timeout: float) -> None:
        """One ``connectAsync``, cut short when the gateway answers IB's 326 (client id in
        use): the client itself would wait out its whole timeout for a handshake that the
        gateway has already refused."""
        refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_error(req_id: int, code: int, message: str, contract: object) -> None:
            if code == CLIENT_ID_IN_USE and not refused.done():
                refused.set_result(message)

        self.ib.errorEvent += on_error
        connect = asyncio.ensure_future(
            self.ib.connectAsync(host, port, clientId=client_id, timeout=timeout)
        )
        # a connect given up (a stop, IB's 326) may still fail as it unwinds -- ib_async's
        # disconnect raises OSError on a socket the gateway already reset -- and asyncio would
        # print that as "Task exception was never retrieved"; awaited, it raises as ever
        connect.add_done_callback(_retrieved)
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
        self.connected = True
        if self._was_connected:
            self._doubt_in_flight()
            self.reconnects += 1
            self._emit(Reconnected(self.reconnects))
        self._was_connected = True

    def disconnect(self) -> None:
        self.connected = False
        self.ib.disconnect()

    def accounts(self) -> list[str]:
        return list(self.ib.managedAccounts())

    def listen(self, listener: Callable[[BrokerEvent], None]) -> None:
        """Send ib_async's callbacks, as typed events, to ``listener`` from now on."""
        if self._listener is not None:
            return
        self._listener = listener
        self.ib.execDetailsEvent += self._on_exec
        self.ib.commissionReportEvent += self._on_commission
        self.ib.orderStatusEvent += self._on_status
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnect
        self.ib.positionEvent += self._on_position

    def _emit(self, event: BrokerEvent) -> None:
        if self._listener is not None:
            self._listener(event)

    # -- ib_async's callbacks, translated --------------------------------------------------
    def _on_exec(self, trade: Trade | None, fill: Fill) -> None:
        ex = execution_of(trade, fill)
        self._reached(ex.ref)
        self._emit(ex)

    def _on_commission(self, trade: Trade | None, fill: Fill, report: CommissionReport) -> None:
        self._emit(commission_of(trade, fill, report))

    def _on_status(self, trade: Trade) -> None:
        st = status_of(trade)
        if self._track(trade):
            self._emit(st)

    def _track(self, trade: Trade) -> bool:
        """Own a trade the broker reported (a status, an open order): it reached the broker."""
        ref = str(trade.order.orderRef)
        if not self.ours(ref):
            return False
        self._reached(ref)
        self._trades[ref] = trade
        self._order_ids[int(trade.order.orderId)] = ref
        return True

    def _on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        err = BrokerError(req_id, code, text)
        ref = self._order_ids.get(req_id)
        if ref is not None and err.cancel_failed:
            self._emit(CancelNotDone(ref, code, text))
        elif ref is not None and err.rejects:
            trade = self._trades.get(ref)
            filled = float(trade.orderStatus.filled) if trade is not None else 0.0
            self._emit(Rejected(ref, code, text, filled))
        elif err.connectivity:
            self._emit(ConnectivityNotice(code, text))

    def _doubt_in_flight(self) -> None:
        """The connection dropped: an order sent and not yet acknowledged may or may not have
        reached the broker (the bytes were on the wire). ib_async still lists it as
        PendingSubmit (PendingCancel once a cancel was asked for: :func:`acknowledged`), but
        no acknowledgement can come for it on this connection: it is in doubt until the
        broker is asked again after the reconnect (:meth:`working_orders`)."""
        self._in_doubt |= {ref for ref, t in self._trades.items() if not acknowledged(t)}

    def _reached(self, ref: str) -> None:
        """The broker reported ``ref`` (an open order, a status, an execution): not in doubt."""
        self._in_doubt.discard(ref)
        self._lost.discard(ref)

    def _on_disconnect(self) -> None:
        self._doubt_in_flight()
        if self.connected:
            self.connected = False
            self._emit(Disconnected())

    def _on_position(self, position: Any) -> None:
        self._emit(
            PositionReported(
                str(position.contract.symbol), str(position.account), float(position.position)
            )
        )

    # -- market data ---------------------------------------------------------------------
    async def qualify_as(self, symbol: str, contract: Contract) -> bool:
        """Look ``contract`` up and trade it as ``symbol`` (an index, an ETF with its own
        exchange, ...); False when the broker does not know it."""
        got = await self.ib.qualifyContractsAsync(contract)
        if got and isinstance(got[0], Contract) and got[0].conId:
            self._contracts[symbol] = got[0]
            return True
        return False

    def contract(self, symbol: str) -> Contract:
        """The qualified contract of ``symbol``."""
        return self._contracts[symbol]

    async def qualify(self, symbols: list[str]) -> list[str]:
        """Look the symbols up as US stocks on SMART; returns those the broker does not know."""
        got = await self.ib.qualifyContractsAsync(*[Stock(s, "SMART", "USD") for s in symbols])
        for s, c in zip(symbols, got, strict=True):
            if isinstance(c, Contract):
                self._contracts[s] = c
        return [s for s in symbols if s not in self._contracts]

    async def bars(
        self,
        symbol: str,
        bar_size: str,
        history: str,
        on_update: Callable[[BarDataList, bool], None],
    ) -> BarDataList:
        """``history`` of ``bar_size`` bars kept up to date (``on_update`` on every change)."""
        bars = await self.ib.reqHistoricalDataAsync(
            self._contracts[symbol],
            endDateTime="",
            durationStr=history,
            barSizeSetting=bar_size,
            whatToShow="TRADES",
            useRTH=True,
            formatDate=2,
            keepUpToDate=True,
        )
        if bars:
            bars.updateEvent += on_update
        return bars

    def depth(self, symbols: list[str], rows: int) -> dict[str, Any]:
        """Level-2 books of ``rows`` levels a side (ib_async Tickers, kept up to date by the
        client from updateMktDepth), for the dashboard's order book panel."""
        return {s: self.ib.reqMktDepth(self._contracts[s], numRows=rows) for s in symbols}

    def cancel_bars(self, bars: BarDataList) -> None:
        """Stop a keepUpToDate subscription of :meth:`bars` (its updates end)."""
        if self.connected:
            self.ib.cancelHistoricalData(bars)

    async def now(self) -> pd.Timestamp:
        """The broker's clock, in UTC."""
        now = pd.Timestamp(await self.ib.reqCurrentTimeAsync())
        return now.tz_convert("UTC") if now.tzinfo else now.tz_localize("UTC")

    # -- orders --------------------------------------------------------------------------
    def place(self, spec: OrderSpec, legs: list[OrderSpec], account: str) -> None:
        """placeOrder for an entry and its bracket legs (transmitted with the last leg)."""
        contract = self._contracts[spec.symbol]
        parent = _ib_order(spec, account, transmit=not legs)
        trade = self.ib.placeOrder(contract, parent)
        self._fault("after-send")
        self._reached(spec.ref)  # sent (again): this send's acknowledgement decides
        self._trades[spec.ref] = trade
        self._order_ids[parent.orderId] = spec.ref
        for i, leg in enumerate(legs):
            child = _ib_order(leg, account, transmit=i == len(legs) - 1)
            child.parentId = parent.orderId
            t = self.ib.placeOrder(contract, child)
            self._reached(leg.ref)
            self._trades[leg.ref] = t
            self._order_ids[child.orderId] = leg.ref

    def place_combo(self, combo: Contract, spec: OrderSpec, account: str) -> None:
        """placeOrder for one combo (BAG) order: ``spec`` is its net quantity and net limit
        price per combo unit (IB's combo semantics: a BUY executes each leg as written, a
        negative limit price is a credit received)."""
        order = _ib_order(spec, account, transmit=True)
        trade = self.ib.placeOrder(combo, order)
        self._fault("after-send")
        self._reached(spec.ref)
        self._trades[spec.ref] = trade
        self._order_ids[order.orderId] = spec.ref

    def modify_limit(self, ref: str, price: float) -> bool:
        """Move a working order's limit price (placeOrder again with its order id, as IB
        modifies an order); False when it is not working here."""
        trade = self._trades.get(ref)
        if trade is None or trade.orderStatus.status in FINAL or not self.connected:
            return False
        trade.order.lmtPrice = price
        self.ib.placeOrder(trade.contract, trade.order)
        return True

    def working(self, ref: str) -> bool:
        """Whether the broker is working ``ref`` as far as this process knows."""
        trade = self._trades.get(ref)
        return trade is not None and trade.orderStatus.status not in FINAL

    def modify(self, ref: str, price: float | None, quantity: float | None) -> bool:
        """Change a working order's limit price and/or total quantity (placeOrder again with
        its order id); False when it is not working here."""
        trade = self._trades.get(ref)
        if trade is None or trade.orderStatus.status in FINAL or not self.connected:
            return False
        if price is not None:
            trade.order.lmtPrice = price
        if quantity is not None:
            trade.order.totalQuantity = quantity
        self.ib.placeOrder(trade.contract, trade.order)
        return True

    def restore(self, ref: str, price: float | None, quantity: float, status: str) -> None:
        """The broker refused a modification of ``ref``: the local order goes back to the
        terms it works on (and to ``status``, when ib_async took the refusal for its end)."""
        trade = self._trades.get(ref)
        if trade is None:
            return
        if price is not None:
            trade.order.lmtPrice = price
        trade.order.totalQuantity = quantity
        if trade.orderStatus.status in FINAL and status not in FINAL:
            trade.orderStatus.status = status

    def cancel(self, refs: list[str]) -> list[str]:
        """Cancel those of ``refs`` the broker is still working; returns them."""
        cancelled = []
        for ref in refs:
            trade = self._trades.get(ref)
            if trade is not None and trade.orderStatus.status not in FINAL and self.connected:
                self.ib.cancelOrder(trade.order)
                cancelled.append(ref)
        return cancelled

    def knows(self, ref: str) -> bool:
        """Whether the order reached the broker in this process (placed, or seen working).
        An order sent just before the connection dropped counts as known until the broker,
        asked again after the reconnect, does not report it (then it was lost on the wire and
        the reconcile sends it again, once)."""
        return ref in self._trades and ref not in self._lost

    def ended(self, refs: list[str]) -> bool:
        """Whether every order of ``refs`` is final at the broker."""
        return all(self._trades[r].orderStatus.status in FINAL for r in refs)

    def unacknowledged(self) -> bool:
        """Whether an order sent is not yet acknowledged by the broker."""
        return any(
            not acknowledged(t) and ref not in self._in_doubt | self._lost
            for ref, t in self._trades.items()
        )

    # -- what the broker holds (reconcile) -----------------------------------------------
    async def executions(self) -> list[Executed]:
        """The account's executions the broker still reports, as events."""
        out = []
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
            ex = execution_of(trade, fill)
            self._reached(ex.ref)  # executed at the broker: never sent again
            out.append(ex)
        return out

    async def working_orders(self) -> dict[str, StatusChanged]:
        """The session's orders the broker is working, by orderRef (now owned here). The
        orders in doubt since the connection dropped that the broker does not report (nor
        executions, replayed before) never reached it: unknown from now on (:meth:`knows`)."""
        working = {str(t.order.orderRef): t for t in await self.ib.reqAllOpenOrdersAsync()}
        for t in self.ib.openTrades():  # ib_async's own list: in-doubt ones are not evidence
            if str(t.order.orderRef) not in self._in_doubt:
                working.setdefault(str(t.order.orderRef), t)
        out = {ref: status_of(t) for ref, t in working.items() if self._track(t)}
        self._lost |= self._in_doubt
        self._in_doubt.clear()
        return out

    async def completed_orders(self, timeout: float) -> dict[str, str] | None:
        """The final status of the broker's completed orders by orderRef (None: it did not
        answer in time)."""
        try:
            done = await asyncio.wait_for(self.ib.reqCompletedOrdersAsync(apiOnly=True), timeout)
        except TimeoutError:
            return None
        out = {str(t.order.orderRef): str(t.orderStatus.status) for t in done if t.order.orderRef}
        for ref in out:
            self._reached(ref)  # it reached the broker and ended there
        return out

    def contract_positions(self, account: str) -> dict[int, float]:
        """Signed position per contract id at the broker (options: contracts)."""
        out: dict[int, float] = {}
        for p in self.ib.positions():
            if not account or p.account == account:
                out[int(p.contract.conId)] = out.get(int(p.contract.conId), 0.0) + float(p.position)
        return out

    def positions(self, account: str) -> dict[str, tuple[float, float]]:
        """(shares, average cost) per symbol at the broker (of ``account`` when given)."""
        return {
            p.contract.symbol: (float(p.position), float(p.avgCost))
            for p in self.ib.positions()
            if not account or p.account == account
        }


def _ib_order(spec: OrderSpec, account: str, transmit: bool) -> Order:
    o = Order(
        action=spec.action,
        totalQuantity=spec.quantity,
        orderType=spec.order_type,
        tif=spec.tif,
        orderRef=spec.ref,
        transmit=transmit,
        account=account,
    )
    if spec.limit_price is not None:
        o.lmtPrice = spec.limit_price
    if spec.aux_price is not None:
        o.auxPrice = spec.aux_price
    if spec.trailing_percent is not None:
        o.trailingPercent = spec.trailing_percent
    if spec.algo_strategy is not None:
        o.algoStrategy = spec.algo_strategy
        o.algoParams = [TagValue(tag, value) for tag, value in spec.algo_params]
    if spec.display_size is not None:
        o.displaySize = spec.display_size
    if spec.oca_group is not None:
        o.ocaGroup = spec.oca_group
        o.ocaType = spec.oca_type or 1
    return o


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's exception as seen (asyncio logs unseen ones at collection)."""
    if not task.cancelled():
        task.exception()
