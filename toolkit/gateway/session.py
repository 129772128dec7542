"""One client connection: handshake, startup sync and request dispatch (server version 176)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.gateway import messages as m
from toolkit.gateway.completed import completed_orders
from toolkit.gateway.framing import PREFIX, FrameReader, ProtocolError, encode, parse_version_range
from toolkit.gateway.market import HistoryError, Instrument, bar_fields, parse_end
from toolkit.gateway.orders import DONE, OrderRejected, SimOrder
from toolkit.gateway.subscriptions import (
    BarSubscription,
    DepthSubscription,
    QuoteSubscription,
    RealtimeSubscription,
)

if TYPE_CHECKING:
    from toolkit.gateway.server import GatewayState

log = logging.getLogger("toolkit.gateway")
HANDSHAKE_TIMEOUT = 10.0  # seconds a new connection has to complete the handshake
Fields = list[str]

# client -> server request ids
START_API, REQ_POSITIONS, REQ_OPEN_ORDERS, REQ_ALL_OPEN_ORDERS = 71, 61, 5, 16
REQ_COMPLETED_ORDERS, REQ_ACCOUNT_UPDATES, REQ_ACCOUNT_UPDATES_MULTI = 99, 6, 76
REQ_ACCOUNT_SUMMARY, CANCEL_ACCOUNT_SUMMARY, REQ_EXECUTIONS, REQ_IDS = 62, 63, 7, 8
REQ_CURRENT_TIME, REQ_CONTRACT_DETAILS, REQ_HISTORICAL_DATA = 49, 9, 20
CANCEL_HISTORICAL_DATA, REQ_AUTO_OPEN_ORDERS, REQ_MARKET_DATA_TYPE = 25, 15, 59
CANCEL_POSITIONS, CANCEL_ACCOUNT_UPDATES_MULTI = 64, 77
PLACE_ORDER, CANCEL_ORDER, REQ_GLOBAL_CANCEL = 3, 4, 58
REQ_MKT_DATA, CANCEL_MKT_DATA = 1, 2
# Requests not implemented yet, answered with an error naming the request (never silence).
_NOT_YET = {
    92: "reqPnL",
    94: "reqPnLSingle",
    87: "reqHeadTimeStamp",
    81: "reqMatchingSymbols",
}
# Requests that need no reply (IB sends none either).
_IGNORED = {
    REQ_AUTO_OPEN_ORDERS,
    REQ_MARKET_DATA_TYPE,
    CANCEL_POSITIONS,
    CANCEL_ACCOUNT_UPDATES_MULTI,
    CANCEL_ACCOUNT_SUMMARY,
}
REQ_REAL_TIME_BARS, CANCEL_REAL_TIME_BARS = 50, 51
REQ_MKT_DEPTH, CANCEL_MKT_DEPTH = 10, 11


class Session:
    """Serve one TCP client until it disconnects or breaks the protocol."""

    def __init__(
        self, state: GatewayState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.state = state
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.version = m.SERVER_VERSION
        self.wants_positions = False
        self.wants_account = False
        self.handlers: dict[int, Callable[[Fields], None]] = {
            START_API: self._start_api,
            REQ_POSITIONS: self._positions,
            REQ_OPEN_ORDERS: self._open_orders,
            REQ_ALL_OPEN_ORDERS: self._open_orders,
            REQ_COMPLETED_ORDERS: self._completed_orders,
            REQ_ACCOUNT_UPDATES: self._account_updates,
            REQ_ACCOUNT_UPDATES_MULTI: self._account_updates_multi,
            REQ_ACCOUNT_SUMMARY: self._account_summary,
            REQ_EXECUTIONS: self._executions,
            REQ_IDS: self._ids,
            REQ_CURRENT_TIME: self._current_time,
            REQ_CONTRACT_DETAILS: self._contract_details,
            REQ_HISTORICAL_DATA: self._historical_data,
            PLACE_ORDER: self._place_order,
            CANCEL_ORDER: self._cancel_order,
            REQ_MKT_DATA: self._mkt_data,
            REQ_MKT_DEPTH: self._mkt_depth,
            REQ_REAL_TIME_BARS: self._realtime_bars,
            CANCEL_REAL_TIME_BARS: self._cancel_realtime_bars,
            CANCEL_MKT_DEPTH: self._cancel_mkt_depth,
            CANCEL_MKT_DATA: self._cancel_mkt_data,
            CANCEL_HISTORICAL_DATA: self._cancel_history,
            REQ_GLOBAL_CANCEL: self._global_cancel,
        }

    # -- plumbing -----------------------------------------------------------------------
    def send(self, fields: list[str | int | float]) -> None:
        self.writer.write(encode(fields))

    async def run(self) -> None:
        peer = self.writer.get_extra_info("peername")
        self.state.connections.add(self)
        try:
            await asyncio.wait_for(self._handshake(), HANDSHAKE_TIMEOUT)
            frames = FrameReader()
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for fields in frames.feed(data):
                    self._dispatch(fields)
                await self.writer.drain()
        except ProtocolError as exc:
            log.warning("closing %s: %s", peer, exc)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self.state.release(self)
            self.state.connections.discard(self)
            self.state.drop_subscriptions(self)
            self.writer.close()

    async def _handshake(self) -> None:
        prefix = await self.reader.readexactly(4)
        if prefix != PREFIX:
            raise ProtocolError(f"expected the API prefix, got {prefix!r}")
        size = int.from_bytes(await self.reader.readexactly(4), "big")
        if not 0 < size < 1024:
            raise ProtocolError(f"handshake length {size} is out of range")
        lo, hi = parse_version_range(await self.reader.readexactly(size))
        version = min(hi, m.SERVER_VERSION)
        if version < max(lo, m.MIN_CLIENT_VERSION):
            raise ProtocolError(f"client versions {lo}..{hi} do not include {m.SERVER_VERSION}")
        self.version = version
        now = self.state.clock.now().strftime("%Y%m%d %H:%M:%S UTC")
        self.send([version, now])
        await self.writer.drain()

    def _dispatch(self, fields: Fields) -> None:
        try:
            msg_id = int(fields[0])
        except (ValueError, IndexError):
            raise ProtocolError(f"message without an integer id: {fields[:3]!r}") from None
        if self.client_id is None and msg_id != START_API:
            raise ProtocolError(f"request {msg_id} before startApi")
        handler = self.handlers.get(msg_id)
        try:
            if handler is not None:
                handler(fields)
            elif msg_id in _NOT_YET:
                req = int(fields[2]) if len(fields) > 2 and fields[2].lstrip("-").isdigit() else -1
                self.send(
                    m.error(
                        req,
                        m.NOT_SUPPORTED,
                        f"{_NOT_YET[msg_id]} is not supported by the simulator yet",
                    )
                )
            elif msg_id not in _IGNORED:
                self.send(m.error(-1, 320, f"Error reading request: unknown message id {msg_id}"))
        except (ValueError, IndexError) as exc:
            self.send(m.error(-1, 320, f"Error reading request {msg_id}: {exc}"))

    # -- session and account ------------------------------------------------------------
    def _start_api(self, f: Fields) -> None:
        client_id = int(f[2])
        if not self.state.claim(client_id, self):
            self.send(
                m.error(
                    -1,
                    m.CLIENT_ID_IN_USE,
                    "Unable to connect as the client id is "
                    "already in use. Retry with a unique client id.",
                )
            )
            raise ProtocolError(f"client id {client_id} already in use")
        self.client_id = client_id
        self.send(m.managed_accounts([self.state.account]))
        self.send(m.next_valid_id(self.state.next_order_id(client_id)))

    def _positions(self, f: Fields) -> None:
        self.wants_positions = True
        for symbol, pos in self.state.book.positions.items():
            inst = self.state.market.instruments[symbol]
            self.send(
                m.position(self.state.account, inst.con_id, symbol, pos.quantity, pos.avg_cost)
            )
        self.send(m.end_marker(m.POSITION_END))

    def _open_orders(self, f: Fields) -> None:
        mine = int(f[0]) == REQ_OPEN_ORDERS
        for o in self.state.book.orders.values():
            if o.status not in DONE and (not mine or o.client_id == self.client_id):
                self.send(self.state.open_order_msg(o))
                self.send(self.state.status_msg(o))
        self.send(m.end_marker(m.OPEN_ORDER_END))

    def _completed_orders(self, f: Fields) -> None:
        book = self.state.book
        for msg in completed_orders(book.orders.values(), book.fills, self.state.account):
            self.send(msg)
        self.send(m.end_marker(m.COMPLETED_ORDERS_END))

    def _account_values(self) -> list[tuple[str, str]]:
        """Cash, net liquidation and margin figures from the book at current prices."""
        book = self.state.book
        cash = self.state.cash + book.cash
        marks = {sym: p.quantity * self.state.price(sym) for sym, p in book.positions.items()}
        net = cash + sum(marks.values())
        gross = sum(abs(v) for v in marks.values())
        available = net - gross / 2  # Reg T initial margin on the gross position
        return [
            ("NetLiquidation", f"{net:.2f}"),
            ("TotalCashValue", f"{cash:.2f}"),
            ("CashBalance", f"{cash:.2f}"),
            ("AvailableFunds", f"{available:.2f}"),
            ("BuyingPower", f"{4 * available:.2f}"),
            ("EquityWithLoanValue", f"{net:.2f}"),
            ("GrossPositionValue", f"{gross:.2f}"),
        ]

    def _account_updates(self, f: Fields) -> None:
        self.wants_account = f[2] == "1"
        if not self.wants_account:
            return
        self.send_account()
        self.send(m.end_marker(m.ACCT_DOWNLOAD_END, self.state.account))

    def send_account(self) -> None:
        """Account values and the portfolio, as after a fill."""
        for key, value in self._account_values():
            self.send(m.account_value(key, value, "USD", self.state.account))
        for symbol, pos in self.state.book.positions.items():
            inst = self.state.market.instruments[symbol]
            price = self.state.price(symbol)
            unreal = (price - pos.avg_cost) * pos.quantity
            self.send(
                m.portfolio(
                    inst.con_id,
                    symbol,
                    pos.quantity,
                    price,
                    pos.avg_cost,
                    unreal,
                    pos.realized,
                    self.state.account,
                )
            )

    def _account_updates_multi(self, f: Fields) -> None:
        self.send(m.end_marker(m.ACCOUNT_UPDATE_MULTI_END, int(f[2])))

    def _account_summary(self, f: Fields) -> None:
        req = int(f[2])
        for key, value in self._account_values():
            self.send(m.account_summary(req, self.state.account, key, value, "USD"))
        self.send(m.end_marker(m.ACCOUNT_SUMMARY_END, req))

    def _executions(self, f: Fields) -> None:
        req = int(f[2])
        wanted = int(f[3] or 0)
        for fill in self.state.book.fills:
            if wanted in (0, fill.order.client_id):
                self.send(self.state.exec_msg(fill, req))
                self.send(m.commission_report(fill.exec_id, fill.commission, fill.realized))
        self.send(m.end_marker(m.EXECUTION_DATA_END, req))

    def _ids(self, f: Fields) -> None:
        assert self.client_id is not None
        self.send(m.next_valid_id(self.state.next_order_id(self.client_id)))

    def _current_time(self, f: Fields) -> None:
        self.send(m.current_time(int(self.state.clock.now().timestamp())))

    # -- contracts and history ----------------------------------------------------------
    def _instrument(self, f: Fields, first: int) -> Instrument | None:
        """The contract block C12 starting at ``first``: conId, symbol, secType, ..."""
        con_id = int(f[first] or 0)
        return self.state.market.find(f[first + 1], f[first + 2], con_id)

    def _require_instrument(self, f: Fields, first: int, req_id: int) -> Instrument | None:
        """The requested instrument, or None after IB's error 200 for an unknown one."""
        inst = self._instrument(f, first)
        if inst is None:
            self.send(
                m.error(
                    req_id,
                    m.NO_SECURITY_DEFINITION,
                    "No security definition has been found for the request",
                )
            )
        return inst

    def _contract_details(self, f: Fields) -> None:
        req = int(f[2])
        inst = self._require_instrument(f, 3, req)
        if inst is None:
            return
        exchange = f[10] or inst.exchange
        self.send(
            [
                m.CONTRACT_DATA,
                req,
                inst.symbol,
                "STK",
                "",
                0.0,
                "",
                exchange,
                inst.currency,
                inst.symbol,
                inst.symbol,
                inst.symbol,
                inst.con_id,
                inst.min_tick,
                "",
                "LMT,MKT,STP,STP LMT,TRAIL",
                "SMART,ARCA,NYSE,NASDAQ",
                1,
                0,
                inst.symbol,
                inst.primary_exchange,
                "",
                "",
                "",
                "",
                "US/Eastern",
                "",
                "",
                "",
                "",
                0,  # tradingHours, liquidHours, evRule, evMultiplier, numSecIds
                1,
                "",
                "",
                "26",
                "",
                "COMMON",
                1.0,
                1.0,
                1.0,
            ]
        )
        self.send(m.end_marker(m.CONTRACT_DATA_END, req))

    def _historical_data(self, f: Fields) -> None:
        req = int(f[1])
        inst = self._require_instrument(f, 2, req)
        if inst is None:
            return
        end_text, bar_size, duration = f[15], f[16], f[17]
        use_rth, what, format_date = f[18] == "1", f[19], int(f[20] or 1)
        try:
            end = parse_end(end_text, self.state.clock)
            bars = self.state.market.history(inst.symbol, end, duration, bar_size, what, use_rth)
        except HistoryError as exc:
            self.send(
                m.error(
                    req,
                    m.HISTORICAL_DATA_ERROR,
                    f"Historical Market Data Service error message:{exc}",
                )
            )
            return
        daily = bar_size in ("1 day", "1 week", "1 month")
        start_s = pd.Timestamp(bars.index[0]).strftime("%Y%m%d %H:%M:%S UTC")
        end_s = pd.Timestamp(end).strftime("%Y%m%d %H:%M:%S UTC")
        self.send(
            [
                m.HISTORICAL_DATA,
                req,
                start_s,
                end_s,
                len(bars),
                *bar_fields(bars, daily, format_date),
            ]
        )
        if f[21] == "1":  # keepUpToDate: later bars follow as historicalDataUpdate
            self.state.bar_subs[(id(self), req)] = BarSubscription(
                self,
                req,
                inst.symbol,
                bar_size,
                what,
                use_rth,
                format_date,
                daily,
                pd.Timestamp(bars.index[-1]),
                tuple(float(x) for x in bars.iloc[-1]),
            )
            if self.state.lockstep:
                self.state.hold_at_next_bar()  # the clock must not run past its next bar

    def _cancel_history(self, f: Fields) -> None:
        self.state.bar_subs.pop((id(self), int(f[2])), None)

    def _mkt_data(self, f: Fields) -> None:
        req = int(f[2])
        inst = self._require_instrument(f, 3, req)
        if inst is None:
            return
        snapshot = f[17] == "1"
        self.send([m.MARKET_DATA_TYPE, 1, req, 1])
        self.send([m.TICK_REQ_PARAMS, req, inst.min_tick, "SMART", 3])
        sub = QuoteSubscription(self, req, inst.symbol, inst.min_tick)
        self.state.send_quotes(sub)
        if snapshot:
            self.send([m.TICK_SNAPSHOT_END, 1, req])
        else:
            self.state.quote_subs[(id(self), req)] = sub

    def _mkt_depth(self, f: Fields) -> None:
        req = int(f[2])
        inst = self._require_instrument(f, 3, req)
        if inst is None:
            return
        rows = max(1, min(int(f[15] or 5), 10))
        sub = DepthSubscription(self, req, inst.symbol, rows, inst.min_tick)
        self.state.send_depth(sub, insert=True)
        self.state.depth_subs[(id(self), req)] = sub

    def _realtime_bars(self, f: Fields) -> None:
        req = int(f[2])
        inst = self._require_instrument(f, 3, req)
        if inst is None:
            return
        if self.state.market.intraday(inst.symbol) is None:
            self.send(
                m.error(
                    req,
                    m.HISTORICAL_DATA_ERROR,
                    "Historical Market Data Service "
                    f"error message:no intraday bars for {inst.symbol} to derive "
                    "real-time bars from",
                )
            )
            return
        self.state.rt_subs[(id(self), req)] = RealtimeSubscription(
            self, req, inst.symbol, self.state.clock.now()
        )

    def _cancel_realtime_bars(self, f: Fields) -> None:
        self.state.rt_subs.pop((id(self), int(f[2])), None)

    def _cancel_mkt_depth(self, f: Fields) -> None:
        self.state.depth_subs.pop((id(self), int(f[2])), None)

    def _cancel_mkt_data(self, f: Fields) -> None:
        self.state.quote_subs.pop((id(self), int(f[2])), None)

    # -- orders ---------------------------------------------------------------------------
    def _place_order(self, f: Fields) -> None:
        assert self.client_id is not None
        order_id = int(f[1])
        inst = self._require_instrument(f, 2, order_id)
        if inst is None:
            return
        book = self.state.book
        existing = book.orders.get((self.client_id, order_id))
        order = SimOrder(
            client_id=self.client_id,
            order_id=order_id,
            perm_id=existing.perm_id if existing else book.new_perm_id(),
            symbol=inst.symbol,
            con_id=inst.con_id,
            action=f[16],
            quantity=float(f[17] or 0),
            order_type=f[18],
            lmt_price=float(f[19]) if f[19] else None,
            aux_price=float(f[20]) if f[20] else None,
            tif=f[21] or "DAY",
            order_ref=f[26],
            parent_id=int(f[28] or 0),
        )
        if order.order_type == "TRAIL":
            if len(f) <= 70 or f[65]:
                self.send(
                    m.error(
                        order_id,
                        m.ORDER_REJECTED,
                        "Order rejected - reason: TRAIL "
                        "with delta-neutral fields is not supported by the simulator",
                    )
                )
                return
            order.trailing_percent = float(f[70]) if f[70] else None
            order.trail_stop = float(f[69]) if f[69] else None
        if existing is not None and existing.status in DONE:
            self.send(m.error(order_id, 103, f"Duplicate order id {order_id}"))
            return
        try:
            book.validate(order, inst.min_tick)
            self.state.check_buying_power(order)
        except OrderRejected as exc:
            self.send(m.error(order_id, exc.code, str(exc)))
            return
        if existing is not None:  # a modification keeps the fills so far
            order.filled, order.avg_price = existing.filled, existing.avg_price
        order.oca_group = f[22]
        order.transmitted = f[27] != "0"
        parent = book.orders.get((self.client_id, order.parent_id)) if order.parent_id else None
        if order.parent_id and parent is None:
            self.send(
                m.error(
                    order_id,
                    m.ORDER_REJECTED,
                    f"Order rejected - reason: parent order {order.parent_id} not found",
                )
            )
            return
        book.orders[(self.client_id, order_id)] = order
        self.state.order_ids[self.client_id] = max(
            self.state.order_ids.get(self.client_id, 0), order_id
        )
        held = not order.transmitted or (parent is not None and parent.status != "Filled")
        if held:
            order.status = "PreSubmitted"
        self.send(self.state.open_order_msg(order))
        self.send(self.state.status_msg(order))
        if not order.transmitted:
            return  # staged: part of a group still being built
        if parent is not None and not parent.transmitted:
            self.state.transmit(parent)  # the last leg sends the whole bracket
        if not held:
            self.state.match_now(order)

    def _cancel_order(self, f: Fields) -> None:
        assert self.client_id is not None
        order_id = int(f[2])
        order = self.state.book.orders.get((self.client_id, order_id))
        if order is None or order.status in DONE:
            self.send(
                m.error(
                    order_id,
                    m.CANCEL_NOT_FOUND,
                    f"OrderId {order_id} that needs to be cancelled is not found.",
                )
            )
            return
        self.state.cancel(order)

    def _global_cancel(self, f: Fields) -> None:
        for order in list(self.state.book.orders.values()):
            if order.status not in DONE:
                self.state.cancel(order)
