"""One client connection: handshake, startup sync and request dispatch (server version 176)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.gateway import messages as m
from toolkit.gateway.completed import completed_orders
from toolkit.gateway.framing import PREFIX, FrameReader, ProtocolError, encode, parse_version_range
from toolkit.gateway.market import HistoryError, Instrument, bar_fields, parse_end
from toolkit.gateway.order_request import UNSET_DOUBLE, decode_order
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


class Session(asyncio.Protocol):
    """Serve one TCP client until it disconnects, breaks the protocol or stops reading.

    An asyncio protocol rather than a reader task: every complete frame is dispatched the
    moment it arrives (so a request sent just before the client died is still served), and
    output goes straight to this connection's own transport buffer, whose size is the only
    thing a slow reader can grow (see :mod:`toolkit.gateway.limits`)."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.limits = state.limits
        self.transport: asyncio.Transport | None = None
        self.peer: object = None
        self.client_id: int | None = None
        self.version = m.SERVER_VERSION
        self.wants_positions = False
        self.wants_account = False
        self._hello = bytearray()  # handshake bytes until the version reply went out
        self._greeted = False
        self._frames = FrameReader(self.limits.max_request_bytes)
        self._partial_since: float | None = None
        self._paused_since: float | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._out: list[bytes] = []  # messages of this loop iteration, written in one go
        self.closed = False
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

    # -- transport ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        if len(self.state.connections) >= self.limits.max_sockets:
            log.warning(
                "refusing %s: %d sockets open (limit %d)",
                self.peer,
                len(self.state.connections),
                self.limits.max_sockets,
            )
            self.closed = True
            transport.abort()
            return
        self.state.connections.add(self)
        transport.set_write_buffer_limits(high=self.limits.output_high_water)
        self._deadline = asyncio.get_running_loop().call_later(
            self.limits.handshake_seconds, self._handshake_expired
        )

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            if not self._greeted:
                self._hello.extend(data)
                data = self._handshake()
            for fields in self._frames.feed(data):
                self._dispatch(fields)
                if self.closed:
                    return
            if self._frames.error is not None:
                raise self._frames.error
            if not self._frames.pending:
                self._partial_since = None
            elif self._partial_since is None:
                self._partial_since = asyncio.get_running_loop().time()
        except ProtocolError as exc:
            self.close(str(exc))

    def eof_received(self) -> bool | None:
        # every complete frame has been served as it arrived; an incomplete one is dropped
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._deadline is not None:
            self._deadline.cancel()
        self.state.release(self)
        self.state.connections.discard(self)
        self.state.drop_subscriptions(self)

    def pause_writing(self) -> None:
        """Output above the high-water mark: the client is behind. Its requests are still
        read and served (a request sent just before it died must not be lost); the queue is
        bounded by ``max_output_bytes`` and the time allowed by ``check``."""
        self._paused_since = asyncio.get_running_loop().time()

    def resume_writing(self) -> None:
        self._paused_since = None

    def send(self, fields: list[str | int | float]) -> None:
        self.send_bytes(encode(fields))

    def send_bytes(self, data: bytes) -> None:
        """Queue one encoded message; everything queued in this loop iteration goes out in
        one write (one system call rather than one per message)."""
        if self.transport is None or self.closed:
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        t = self.transport
        out, self._out = self._out, []
        if t is None or self.closed or t.is_closing() or not out:
            return
        t.write(b"".join(out))
        queued = t.get_write_buffer_size()
        if queued > self.limits.max_output_bytes:
            self.drop(
                f"slow consumer: {queued:,} bytes of replies unread "
                f"(limit {self.limits.max_output_bytes:,})"
            )

    def check(self, now: float) -> None:
        """Periodic limits (called by the gateway's matcher): a reader that stays behind,
        a frame left incomplete."""
        if self.closed:
            return
        paused = self._paused_since
        if paused is not None and now - paused > self.limits.slow_consumer_seconds:
            queued = self.transport.get_write_buffer_size() if self.transport else 0
            self.drop(
                f"slow consumer: {queued:,} bytes of replies unread for more than "
                f"{self.limits.slow_consumer_seconds:g} s"
            )
        partial = self._partial_since
        if partial is not None and now - partial > self.limits.partial_frame_seconds:
            self.close(f"a frame stayed incomplete for {self.limits.partial_frame_seconds:g} s")

    def close(self, reason: str | None = None) -> None:
        """Close after what is queued has been sent (e.g. an error message)."""
        if reason:
            log.warning("closing %s (client id %s): %s", self.peer, self.client_id, reason)
        self._flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def drop(self, reason: str) -> None:
        """Disconnect at once, discarding what is queued (a client that does not read)."""
        log.warning("disconnecting %s (client id %s): %s", self.peer, self.client_id, reason)
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _handshake_expired(self) -> None:
        if self.client_id is None and not self.closed:
            self.close(f"no API handshake within {self.limits.handshake_seconds:g} s")

    def _handshake(self) -> bytes:
        """Consume ``API\\0`` + the version range once complete; returns the bytes after it."""
        hello = self._hello
        if len(hello) >= len(PREFIX) and bytes(hello[: len(PREFIX)]) != PREFIX:
            raise ProtocolError(f"expected the API prefix, got {bytes(hello[:4])!r}")
        if len(hello) < 8:
            return b""
        size = int.from_bytes(hello[4:8], "big")
        if not 0 < size < 1024:
            raise ProtocolError(f"handshake length {size} is out of range")
        if len(hello) < 8 + size:
            return b""
        lo, hi = parse_version_range(bytes(hello[8 : 8 + size]))
        rest = bytes(hello[8 + size :])
        self._hello = bytearray()
        version = min(hi, m.SERVER_VERSION)
        if version < max(lo, m.MIN_CLIENT_VERSION):
            raise ProtocolError(f"client versions {lo}..{hi} do not include {m.SERVER_VERSION}")
        self.version = version
        self._greeted = True
        now = self.state.clock.now().strftime("%Y%m%d %H:%M:%S UTC")
        self.send([version, now])
        return rest

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
        except ProtocolError:
            raise
        except (ValueError, IndexError, OverflowError) as exc:
            self.send(m.error(-1, 320, f"Error reading request {msg_id}: {exc}"))
        except Exception as exc:  # one bad request never takes the connection (or others) down
            log.exception("request %s from client %s failed", msg_id, self.client_id)
            self.send(m.error(-1, 320, f"Error processing request {msg_id}: {exc!r}"))

    # -- session and account ------------------------------------------------------------
    def _start_api(self, f: Fields) -> None:
        if self.client_id is not None:
            return  # a second startApi on a started connection changes nothing
        client_id = int(f[2])
        if client_id not in self.state.sessions and (
            len(self.state.sessions) >= self.limits.max_clients
        ):
            self.send(
                m.error(
                    -1,
                    m.CONNECT_FAIL,
                    f"Couldn't connect to TWS: {self.limits.max_clients} API clients are "
                    "already connected (IB's limit). Disconnect one and retry.",
                )
            )
            raise ProtocolError(
                f"client id {client_id} refused: {self.limits.max_clients} API clients"
            )
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
        if self._deadline is not None:
            self._deadline.cancel()  # started: idle connections are kept, as IB does
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

    def send_account(self, encoded: bytes | None = None) -> None:
        """Account values and the portfolio, as after a fill (``encoded``: the same messages
        already built once for every subscriber)."""
        # one queued chunk or one per message: the same bytes go out in the same write
        self.send_bytes(encoded if encoded is not None else self.account_bytes())

    def account_bytes(self) -> bytes:
        """The account push (values and portfolio) encoded once."""
        out: list[bytes] = []
        for key, value in self._account_values():
            out.append(encode(m.account_value(key, value, "USD", self.state.account)))
        for symbol, pos in self.state.book.positions.items():
            inst = self.state.market.instruments[symbol]
            price = self.state.price(symbol)
            unreal = (price - pos.avg_cost) * pos.quantity
            out.append(
                encode(
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
            )
        return b"".join(out)

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
        existing = self.state.book.orders.get((self.client_id, order_id))
        try:
            order, transmit, parent = self._accept_order(f, order_id, existing)
        except OrderRejected as exc:
            self._reject(order_id, existing, exc, f)
            return
        if existing is not None:  # a modification keeps the fills so far
            order.filled, order.avg_price = existing.filled, existing.avg_price
            order.last_price = existing.last_price
        order.transmitted = transmit
        self.state.add_order(order)
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

    def _accept_order(
        self, f: Fields, order_id: int, existing: SimOrder | None
    ) -> tuple[SimOrder, bool, SimOrder | None]:
        """The order a placeOrder carries once every IB check has passed (raises
        :class:`OrderRejected` with IB's code otherwise)."""
        assert self.client_id is not None
        state, book = self.state, self.state.book
        if order_id <= 0:
            raise OrderRejected(10149, f"Invalid order id: {order_id}")
        try:
            inst = self._instrument(f, 2)
        except ValueError:
            inst = None
        if inst is None:
            raise OrderRejected(
                m.NO_SECURITY_DEFINITION, "No security definition has been found for the request"
            )
        if existing is not None and existing.status == "Filled":
            raise OrderRejected(104, "Can't modify a filled order.")
        if existing is not None and existing.status in DONE:
            raise OrderRejected(103, f"Duplicate order id {order_id}")
        if existing is None and order_id <= state.order_ids.get(self.client_id, 0):
            # IB: new order ids must be above every id this client has used
            raise OrderRejected(103, f"Duplicate order id {order_id}")
        perm_id = existing.perm_id if existing is not None else 0
        order, transmit = decode_order(f, self.client_id, inst, perm_id)
        if existing is not None and (
            order.parent_id != existing.parent_id
            or order.symbol != existing.symbol
            or order.action != existing.action
        ):
            raise OrderRejected(105, "Order being modified does not match original order.")
        book.validate(order, inst.min_tick)
        if order.account and order.account != state.account:
            raise OrderRejected(
                321,
                f"Error validating request:-'account' : cause - account {order.account[:20]!r} "
                f"is not managed by this login ({state.account})",
            )
        parent = None
        if order.parent_id:
            if order.parent_id == order_id:
                raise OrderRejected(
                    m.ORDER_REJECTED, "Order rejected - reason: an order cannot be its own parent"
                )
            parent = book.orders.get((self.client_id, order.parent_id))
            if parent is None:
                raise OrderRejected(
                    m.ORDER_REJECTED,
                    f"Order rejected - reason: parent order {order.parent_id} not found",
                )
            if parent.status in DONE and parent.status != "Filled":
                raise OrderRejected(
                    m.ORDER_REJECTED,
                    f"Order rejected - reason: parent order {order.parent_id} is "
                    f"{parent.status.lower()}",
                )
        state.check_buying_power(order)
        if existing is None:
            order.perm_id = book.new_perm_id()
        return order, transmit, parent

    def _reject(
        self, order_id: int, existing: SimOrder | None, exc: OrderRejected, f: Fields
    ) -> None:
        """IB's error for the order, then the status clients need to settle it: a refused
        new order is Cancelled (ib_insync keeps a PendingSubmit order waiting after a
        warning such as 110 otherwise); a refused change leaves the order as it was."""
        assert self.client_id is not None
        self.send(m.error(order_id, exc.code, str(exc)))
        if existing is not None:
            self.send(self.state.status_msg(existing))
            return
        try:
            qty = float(f[17]) if len(f) > 17 and f[17] else 0.0
            parent_id = int(f[28]) if len(f) > 28 and f[28] else 0
        except ValueError:
            qty, parent_id = 0.0, 0
        if not math.isfinite(qty) or qty >= UNSET_DOUBLE:
            qty = 0.0
        self.send(
            m.order_status(order_id, "Cancelled", 0.0, qty, 0.0, 0, parent_id, 0.0, self.client_id)
        )

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
