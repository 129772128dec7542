"""One client connection (server version 176): handshake, startup sync, and its requests
translated into calls on the exchange and the streams; what the exchange does comes back
through the registry (:mod:`toolkit.gateway.router`).

Requests arrive as typed values (:mod:`toolkit.gateway.requests`); each handler asks the
exchange or the streams and answers with :mod:`toolkit.gateway.messages`. A request that
fails is answered with IB's error and logged with the request; the connection stays up.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from toolkit.data import calendar
from toolkit.gateway import messages as m
from toolkit.gateway import requests as rq
from toolkit.gateway.completed import completed_orders
from toolkit.gateway.depth_replay import ReplayDepth, ReplayQuotes
from toolkit.gateway.framing import PREFIX, FrameReader, ProtocolError, encode, parse_version_range
from toolkit.gateway.head import head_timestamp
from toolkit.gateway.market import HistoryError, Instrument, bar_fields, parse_end
from toolkit.gateway.options import BAG_CON_ID, OptionContract, new_york_date
from toolkit.gateway.orders import DONE, OrderLeg, OrderRejected, SimOrder
from toolkit.gateway.pacing import history_refusal
from toolkit.gateway.router import GatewayState, exec_msg, open_order_msg, status_msg
from toolkit.gateway.subscriptions import (
    BarSubscription,
    ChainQuoteSubscription,
    DepthSubscription,
    QuoteSubscription,
    RealtimeSubscription,
)

log = logging.getLogger("toolkit.gateway")

# Requests not implemented yet, answered with an error naming the request (never silence).
_NOT_YET = {
    92: "reqPnL",
    94: "reqPnLSingle",
    81: "reqMatchingSymbols",
}
# Requests that need no reply (IB sends none either).
_IGNORED = {
    rq.REQ_AUTO_OPEN_ORDERS,
    rq.REQ_MARKET_DATA_TYPE,
    rq.CANCEL_POSITIONS,
    rq.CANCEL_ACCOUNT_UPDATES_MULTI,
    rq.CANCEL_ACCOUNT_SUMMARY,
}


def _request_id(request: rq.Request) -> int:
    """The id a failed request's error goes to, so the client's pending request ends
    (reqId, or the order id of an order; -1 for requests without one)."""
    for name in ("req_id", "order_id"):
        value = getattr(request, name, None)
        if isinstance(value, int):
            return value
    return -1


class Session(asyncio.Protocol):
    """Serve one TCP client until it disconnects, breaks the protocol or stops reading.

    An asyncio protocol rather than a reader task: every complete frame is dispatched the
    moment it arrives (so a request sent just before the client died is still served), and
    output goes straight to this connection's own transport buffer, whose size is the only
    thing a slow reader can grow (see :mod:`toolkit.gateway.limits`)."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.exchange = state.exchange
        self.streams = state.streams
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
        # message id -> handler of its typed request (see requests.LAYOUTS)
        self.handlers: dict[int, Callable[[Any], None]] = {
            rq.START_API: self._start_api,
            rq.REQ_POSITIONS: self._positions,
            rq.REQ_OPEN_ORDERS: self._open_orders,
            rq.REQ_ALL_OPEN_ORDERS: self._open_orders,
            rq.REQ_COMPLETED_ORDERS: self._completed_orders,
            rq.REQ_ACCOUNT_UPDATES: self._account_updates,
            rq.REQ_ACCOUNT_UPDATES_MULTI: self._account_updates_multi,
            rq.REQ_ACCOUNT_SUMMARY: self._account_summary,
            rq.REQ_EXECUTIONS: self._executions,
            rq.REQ_IDS: self._ids,
            rq.REQ_CURRENT_TIME: self._current_time,
            rq.REQ_CONTRACT_DETAILS: self._contract_details,
            rq.REQ_HISTORICAL_DATA: self._historical_data,
            rq.PLACE_ORDER: self._place_order,
            rq.CANCEL_ORDER: self._cancel_order,
            rq.REQ_MKT_DATA: self._mkt_data,
            rq.REQ_MKT_DEPTH: self._mkt_depth,
            rq.REQ_REAL_TIME_BARS: self._realtime_bars,
            rq.CANCEL_REAL_TIME_BARS: self._cancel_realtime_bars,
            rq.CANCEL_MKT_DEPTH: self._cancel_mkt_depth,
            rq.CANCEL_MKT_DATA: self._cancel_mkt_data,
            rq.CANCEL_HISTORICAL_DATA: self._cancel_history,
            rq.REQ_HEAD_TIMESTAMP: self._head_timestamp,
            rq.CANCEL_HEAD_TIMESTAMP: self._no_reply,
            rq.REQ_GLOBAL_CANCEL: self._global_cancel,
            rq.REQ_SEC_DEF_OPT_PARAMS: self._sec_def_opt_params,
            rq.CALC_IMPLIED_VOLAT: self._option_calc,
            rq.CALC_OPTION_PRICE: self._option_calc,
            rq.CANCEL_CALC_IMPLIED_VOLAT: self._cancel_calc,
            rq.CANCEL_CALC_OPTION_PRICE: self._cancel_calc,
        }
        assert set(self.handlers) == set(rq.LAYOUTS), "a request type without its handler"

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
        self.streams.drop_owner(id(self))

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

    def queued(self) -> int:
        """Bytes sent to this client and not yet delivered (what paces a fast replay)."""
        t = self.transport
        return (t.get_write_buffer_size() if t is not None else 0) + sum(map(len, self._out))

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

    def _dispatch(self, fields: list[str]) -> None:
        """Decode one frame and serve it. A request that fails is answered with IB's 320
        and logged with the request; only a protocol error closes the connection."""
        msg_id = rq.message_id(fields)
        if self.client_id is None and msg_id != rq.START_API:
            raise ProtocolError(f"request {msg_id} before startApi")
        try:
            request = rq.decode(fields)
        except rq.MalformedRequest as exc:
            log.warning(
                "client %s: request %d unreadable: %s (fields %r)",
                self.client_id,
                msg_id,
                exc,
                fields[:24],
            )
            self.send(m.error(-1, 320, f"Error reading request {msg_id}: {exc}"))
            return
        handler = self.handlers.get(msg_id)
        try:
            if handler is not None:
                handler(request)
            elif msg_id in _NOT_YET:
                assert isinstance(request, rq.Unhandled)
                self.send(
                    m.error(
                        request.req_id,
                        m.NOT_SUPPORTED,
                        f"{_NOT_YET[msg_id]} is not supported by the simulator yet",
                    )
                )
            elif msg_id not in _IGNORED:
                self.send(m.error(-1, 320, f"Error reading request: unknown message id {msg_id}"))
        except ProtocolError:
            raise
        except (ValueError, IndexError, OverflowError) as exc:
            log.warning("client %s: %r could not be served: %r", self.client_id, request, exc)
            self.send(m.error(_request_id(request), 320, f"Error reading request {msg_id}: {exc}"))
        except Exception as exc:  # one bad request never takes the connection (or others) down
            log.exception("client %s: %r failed", self.client_id, request)
            self.send(
                m.error(_request_id(request), 320, f"Error processing request {msg_id}: {exc!r}")
            )

    # -- session and account ------------------------------------------------------------
    def _start_api(self, r: rq.StartApi) -> None:
        if self.client_id is not None:
            return  # a second startApi on a started connection changes nothing
        client_id = r.client_id
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
        self.send(m.managed_accounts([self.exchange.account]))
        self.send(m.next_valid_id(self.exchange.next_order_id(client_id)))

    def _positions(self, r: rq.NoArguments) -> None:
        self.wants_positions = True
        ex = self.exchange
        for symbol, pos in ex.book.positions.items():
            inst = ex.market.instruments[symbol]
            self.send(m.position(ex.account, inst.block(""), pos.quantity, pos.avg_cost))
        self.send(m.end_marker(m.POSITION_END))

    def _open_orders(self, r: rq.NoArguments) -> None:
        mine = r.msg_id == rq.REQ_OPEN_ORDERS
        for o in self.exchange.book.orders.values():
            if o.status not in DONE and (not mine or o.client_id == self.client_id):
                self.send(open_order_msg(o, self.exchange.account))
                self.send(status_msg(o))
        self.send(m.end_marker(m.OPEN_ORDER_END))

    def _completed_orders(self, r: rq.NoArguments) -> None:
        book = self.exchange.book
        for msg in completed_orders(book.orders.values(), book.fills, self.exchange.account):
            self.send(msg)
        self.send(m.end_marker(m.COMPLETED_ORDERS_END))

    def _account_updates(self, r: rq.AccountUpdates) -> None:
        self.wants_account = r.subscribe
        if not self.wants_account:
            return
        self.send_bytes(self.state.account_bytes())
        self.send(m.end_marker(m.ACCT_DOWNLOAD_END, self.exchange.account))

    def _account_updates_multi(self, r: rq.ById) -> None:
        self.send(m.end_marker(m.ACCOUNT_UPDATE_MULTI_END, r.req_id))

    def _account_summary(self, r: rq.ById) -> None:
        for key, value in self.exchange.account_values():
            self.send(m.account_summary(r.req_id, self.exchange.account, key, value, "USD"))
        self.send(m.end_marker(m.ACCOUNT_SUMMARY_END, r.req_id))

    def _executions(self, r: rq.Executions) -> None:
        account = self.exchange.account
        for fill in self.exchange.book.fills:
            if r.client_id in (0, fill.order.client_id):
                self.send(exec_msg(fill, account, r.req_id))
                self.send(m.commission_report(fill.exec_id, fill.commission, fill.realized))
        self.send(m.end_marker(m.EXECUTION_DATA_END, r.req_id))

    def _ids(self, r: rq.NoArguments) -> None:
        assert self.client_id is not None
        self.send(m.next_valid_id(self.exchange.next_order_id(self.client_id)))

    def _current_time(self, r: rq.NoArguments) -> None:
        self.send(m.current_time(int(self.exchange.clock.now().timestamp())))

    # -- contracts and history ----------------------------------------------------------
    def _today(self) -> pd.Timestamp:
        return new_york_date(self.exchange.clock.now())

    def _options(
        self, contract: rq.Contract, include_expired: bool = False
    ) -> list[OptionContract]:
        """The shipped option contracts a request's contract block matches."""
        return self.exchange.market.options.find(
            con_id=contract.con_id or 0,
            symbol=contract.symbol,
            last_trade=contract.last_trade,
            strike=contract.strike,
            right=contract.right,
            trading_class=contract.trading_class,
            local_symbol=contract.local_symbol,
            multiplier=contract.multiplier,
            as_of=None if include_expired else self._today(),
        )

    def _instrument(self, contract: rq.Contract) -> Instrument | None:
        if contract.con_id is None:
            return None  # a conId that is no integer names no contract
        market = self.exchange.market
        if contract.sec_type == "OPT":
            found = self._options(contract)
            return market.option_instrument(found[0]) if len(found) == 1 else None
        return market.find(contract.symbol, contract.sec_type, contract.con_id)

    def _require_instrument(self, contract: rq.Contract, req_id: int) -> Instrument | None:
        """The requested instrument, or None after IB's error 200 for an unknown one."""
        inst = self._instrument(contract)
        if inst is None:
            self.send(
                m.error(
                    req_id,
                    m.NO_SECURITY_DEFINITION,
                    "No security definition has been found for the request",
                )
            )
        return inst

    def _option_details(self, r: rq.ContractDetails) -> None:
        """contractDetails for every shipped option the request matches (a whole expiry
        when only the symbol and expiry are given), then the end marker; none: IB's 200."""
        req = r.req_id
        market = self.exchange.market
        found = self._options(r.contract, r.include_expired)
        if not found:
            self._require_instrument(r.contract, req)  # IB's 200
            return
        for c in found:
            inst = market.option_instrument(c)
            under = market.underlying(c.symbol)
            self.send(
                m.contract_details(
                    req,
                    inst.block(r.contract.exchange or "SMART"),
                    market_name=c.trading_class,
                    min_tick=inst.min_tick,
                    order_types="LMT,MKT",
                    valid_exchanges="SMART,CBOE",
                    under_con_id=under.con_id if under is not None else 0,
                    long_name=f"{c.symbol} {c.expiry:%b%d'%y} {c.strike:g} "
                    f"{'Call' if c.right == 'C' else 'Put'}",
                    primary_exchange="",
                    contract_month=c.expiry.strftime("%Y%m"),
                    under_symbol=c.symbol,
                    under_sec_type=c.underlying_sec_type,
                    real_expiration=c.last_trade,
                    stock_type="",
                )
            )
        self.send(m.end_marker(m.CONTRACT_DATA_END, req))

    def _contract_details(self, r: rq.ContractDetails) -> None:
        req = r.req_id
        market = self.exchange.market
        if r.contract.sec_type == "BAG":  # IB's answer: a combo has no contract details
            self.send(
                m.error(
                    req,
                    321,
                    "Error validating request.-'bI' : cause - 'BAG' isn't supported for "
                    "contract data request. Please enter a valid security type",
                )
            )
            return
        con_id = r.contract.con_id
        by_id = market.find("", "", con_id) if con_id else None
        if con_id is not None and (
            r.contract.sec_type == "OPT" or (con_id and (by_id is None or by_id.option))
        ):
            self._option_details(r)
            return
        stock = self._require_instrument(r.contract, req)
        if stock is None:
            return
        inst = stock
        exchange = r.contract.exchange or inst.exchange
        if inst.sec_type != "STK":  # an index underlying (SPX)
            self.send(
                m.contract_details(
                    req,
                    inst.block(exchange),
                    market_name=inst.symbol,
                    min_tick=inst.min_tick,
                    order_types="",
                    valid_exchanges=inst.exchange,
                    under_con_id=0,
                    long_name=inst.symbol,
                    primary_exchange=inst.primary_exchange,
                    contract_month="",
                    under_symbol="",
                    under_sec_type="",
                    real_expiration="",
                    stock_type="",
                )
            )
            self.send(m.end_marker(m.CONTRACT_DATA_END, req))
            return
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

    def _historical_data(self, r: rq.HistoricalData) -> None:
        req = r.req_id
        inst = self._require_instrument(r.contract, req)
        if inst is None:
            return
        market = self.exchange.market
        try:
            refused = history_refusal(self.state.history_pacing, inst.con_id, r)
            if refused:
                raise HistoryError(refused)
            end = parse_end(r.end, self.exchange.clock)
            bars = market.history(inst.symbol, end, r.duration, r.bar_size, r.what, r.use_rth)
        except HistoryError as exc:
            log.info("client %s: %r refused: %s", self.client_id, r, exc)
            self.send(
                m.error(
                    req,
                    m.HISTORICAL_DATA_ERROR,
                    f"Historical Market Data Service error message:{exc}",
                )
            )
            return
        daily = r.bar_size in calendar.DAILY_BAR_SIZES
        start_s = pd.Timestamp(bars.index[0]).strftime("%Y%m%d %H:%M:%S UTC")
        end_s = pd.Timestamp(end).strftime("%Y%m%d %H:%M:%S UTC")
        self.send(
            [
                m.HISTORICAL_DATA,
                req,
                start_s,
                end_s,
                len(bars),
                *bar_fields(bars, daily, r.format_date),
            ]
        )
        if r.keep_up_to_date:  # later bars follow as historicalDataUpdate
            sub = BarSubscription(
                self.send,
                req,
                inst.symbol,
                r.bar_size,
                r.what,
                r.use_rth,
                r.format_date,
                daily,
                pd.Timestamp(bars.index[-1]),
                tuple(float(x) for x in bars.iloc[-1]),
            )
            self.streams.add_bars((id(self), req), sub)

    def _head_timestamp(self, r: rq.HeadTimestamp) -> None:
        inst = self._require_instrument(r.contract, r.req_id)
        if inst is None:
            return
        try:
            self.send(head_timestamp(self.exchange.market, inst.symbol, r))
        except HistoryError as exc:  # no bars at all (a symbol only a depth replay has)
            self.send(m.error(r.req_id, m.HISTORICAL_DATA_ERROR, f"{exc}"))

    def _no_reply(self, r: rq.ById) -> None:
        """cancelHeadTimeStamp: nothing is pending after the one answer."""

    def _cancel_history(self, r: rq.ById) -> None:
        self.streams.cancel(self.streams.bar_subs, (id(self), r.req_id))

    def _mkt_data(self, r: rq.MarketData) -> None:
        req = r.req_id
        market = self.exchange.market
        if r.contract.sec_type == "BAG":
            legs = self._legs(r.contract)
            if isinstance(legs, OrderRejected):
                self.send(m.error(req, legs.code, str(legs)))
                return
            self.send([m.MARKET_DATA_TYPE, 1, req, 1])
            chain = ChainQuoteSubscription(
                self.send,
                req,
                None,
                tuple((market.instruments[g.symbol], g.ratio, g.side) for g in legs),
            )
            self.streams.add_chain_quotes((id(self), req), chain, r.snapshot)
            if r.snapshot:
                self.send([m.TICK_SNAPSHOT_END, 1, req])
            return
        inst = self._require_instrument(r.contract, req)
        if inst is None:
            return
        self.send([m.MARKET_DATA_TYPE, 1, req, 1])
        self.send([m.TICK_REQ_PARAMS, req, inst.min_tick, "SMART", 3])
        if market.quoted(inst.symbol):
            chain = ChainQuoteSubscription(self.send, req, inst)
            self.streams.add_chain_quotes((id(self), req), chain, r.snapshot)
            if r.snapshot:
                self.send([m.TICK_SNAPSHOT_END, 1, req])
            return
        replay = self.streams.replay
        if replay is not None and replay.symbol == inst.symbol:  # ticks from the replay
            quotes = ReplayQuotes(self.send, req, self.queued)
            replay.add_quotes((id(self), req), quotes, r.snapshot)
        else:
            sub = QuoteSubscription(self.send, req, inst.symbol, inst.min_tick)
            self.streams.add_quotes((id(self), req), sub, r.snapshot)
        if r.snapshot:
            self.send([m.TICK_SNAPSHOT_END, 1, req])

    def _mkt_depth(self, r: rq.MarketDepth) -> None:
        req = r.req_id
        inst = self._require_instrument(r.contract, req)
        if inst is None:
            return
        rows = max(1, min(r.rows, 10))
        replay = self.streams.replay
        if replay is not None and replay.symbol == inst.symbol:  # LOBSTER's book
            replay.add_depth((id(self), req), ReplayDepth(self.send_bytes, req, rows, self.queued))
            return
        sub = DepthSubscription(self.send, req, inst.symbol, rows, inst.min_tick)
        self.streams.add_depth((id(self), req), sub)

    def _realtime_bars(self, r: rq.RealTimeBars) -> None:
        req = r.req_id
        inst = self._require_instrument(r.contract, req)
        if inst is None:
            return
        if self.exchange.market.intraday(inst.symbol) is None:
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
        sub = RealtimeSubscription(self.send, req, inst.symbol, self.exchange.clock.now())
        self.streams.add_realtime((id(self), req), sub)

    def _cancel_realtime_bars(self, r: rq.ById) -> None:
        self.streams.cancel(self.streams.rt_subs, (id(self), r.req_id))

    def _cancel_mkt_depth(self, r: rq.ById) -> None:
        self.streams.cancel(self.streams.depth_subs, (id(self), r.req_id))
        if self.streams.replay is not None:
            self.streams.replay.cancel((id(self), r.req_id))

    def _cancel_mkt_data(self, r: rq.ById) -> None:
        self.streams.cancel(self.streams.quote_subs, (id(self), r.req_id))
        self.streams.cancel(self.streams.chain_subs, (id(self), r.req_id))
        if self.streams.replay is not None:
            self.streams.replay.cancel((id(self), r.req_id))

    # -- option chains and calculations ---------------------------------------------------
    def _sec_def_opt_params(self, r: rq.SecDefOptParams) -> None:
        """One reply per trading class of the underlying's unexpired contracts (exchange
        SMART), then the end marker; an underlying without a chain gets only the end."""
        market = self.exchange.market
        under = market.underlying(r.underlying) or market.find(r.underlying, "", 0)
        con_id = under.con_id if under is not None else r.underlying_con_id
        for cls, contracts in market.options.chains(r.underlying, self._today()).items():
            expirations = sorted({c.last_trade for c in contracts})
            strikes = sorted({c.strike for c in contracts})
            mult = f"{contracts[0].multiplier:g}"
            self.send(
                m.sec_def_opt_params(r.req_id, "SMART", con_id, cls, mult, expirations, strikes)
            )
        self.send([m.SEC_DEF_OPT_PARAMS_END, r.req_id])

    def _option_calc(self, r: rq.OptionCalc) -> None:
        """calculateImpliedVolatility / calculateOptionPrice: one option computation (tick
        type 53) on the request's id, from our pricer with the rates implied by the chain on
        the quote date in force (no carry before the first) and the given underlying price
        (the chain's when 0)."""
        req = r.req_id
        inst = self._require_instrument(r.contract, req)
        if inst is None:
            return
        c = inst.option
        if c is None:
            self.send(m.error(req, 321, "Error validating request:-'contract' : cause - "
                                        "option calculations need an option contract"))  # fmt: skip
            return
        chains = self.exchange.market.options
        now = self.exchange.clock.now()
        day = chains.quote_date(c.symbol, now) or self._today()
        spot = r.under_price if r.under_price > 0 else chains.underlying_price(c.symbol, now)
        pricing = chains.pricing(c, day, spot)
        if pricing is None:
            why = f"no underlying price, or {c.local_symbol} has expired"
            self.send(m.error(req, 321, f"Error validating request:-'underPrice' : cause - {why}"))
            return
        if r.msg_id == rq.CALC_IMPLIED_VOLAT:
            comp = chains.computation(c, r.value, pricing)
        else:
            comp = chains.computation(c, math.nan, pricing, sigma=r.value)
        self.send(
            m.tick_option_computation(
                req, m.CUST_OPTION, comp.iv, comp.delta, comp.price, comp.pv_dividend,
                comp.gamma, comp.vega, comp.theta, comp.und_price,
            )
        )  # fmt: skip

    def _cancel_calc(self, r: rq.ById) -> None:
        """A calculation is answered at once: nothing is left to cancel."""

    # -- orders ---------------------------------------------------------------------------
    def _place_order(self, r: rq.PlaceOrder) -> None:
        """Book an order; a cut armed on the gateway (``GatewayState.order_cut``) drops the
        connection before it is booked or before its acknowledgement leaves."""
        cut = self.state.order_cut(r.order_ref) if self.state.order_cut is not None else None
        if cut == "before":
            self.drop(f"fault: placeOrder {r.order_ref!r} lost on the wire")
            return
        self._book_order(r)
        if cut == "after":  # the queued openOrder/orderStatus are discarded with the socket
            self.drop(f"fault: placeOrder {r.order_ref!r} booked, its acknowledgement lost")

    def _book_order(self, r: rq.PlaceOrder) -> None:
        """Check and book an order in IB's order of checks: the order id, the contract,
        whether the id may be (re)used, the fields, then the exchange's own checks."""
        assert self.client_id is not None
        existing = self.exchange.book.orders.get((self.client_id, r.order_id))
        try:
            if r.order_id <= 0:
                raise OrderRejected(10149, f"Invalid order id: {r.order_id}")
            if r.contract.sec_type == "BAG":
                legs = self._legs(r.contract)
                if isinstance(legs, OrderRejected):
                    raise legs
                first = self.exchange.market.instruments[legs[0].symbol]
                inst = Instrument(first.wire_symbol, BAG_CON_ID, sec_type="BAG")
            else:
                legs = []
                found = self._instrument(r.contract)
                if found is None:
                    raise OrderRejected(
                        m.NO_SECURITY_DEFINITION,
                        "No security definition has been found for the request",
                    )
                inst = found
            self.exchange.replaceable(self.client_id, r.order_id)
            if r.error is not None:
                raise r.error
            order = self._order(r, inst, existing.perm_id if existing is not None else 0)
            if legs:
                order.legs, order.quoted = tuple(legs), True
                order.block = (
                    BAG_CON_ID,
                    inst.symbol,
                    "BAG",
                    "",
                    0.0,
                    "",
                    "",
                    "SMART",
                    "USD",
                    "",
                    "",
                )
            elif inst.option is not None:
                order.block, order.quoted = tuple(inst.block()), True
                order.multiplier = inst.multiplier
            if r.what_if:  # a margin preview: answered with openOrder, never booked
                margins, fee = self.exchange.preview(order, inst.min_tick)
                self.send(open_order_msg(order, self.exchange.account, margins, fee))
                return
            self.exchange.place(order, r.transmit, existing, inst.min_tick)
        except OrderRejected as exc:
            log.info(
                "client %s: order %d refused (%d %s): %r",
                self.client_id,
                r.order_id,
                exc.code,
                exc,
                r,
            )
            self._reject(r, existing, exc)

    def _order(self, r: rq.PlaceOrder, inst: Instrument, perm_id: int) -> SimOrder:
        """The simulator's order for a placeOrder whose fields all parsed."""
        assert self.client_id is not None
        order = SimOrder(
            client_id=self.client_id,
            order_id=r.order_id,
            perm_id=perm_id,
            symbol=inst.symbol,
            con_id=inst.con_id,
            action=r.action,
            quantity=0.0 if r.quantity is None else r.quantity,
            order_type=r.order_type,
            lmt_price=r.lmt_price,
            aux_price=r.aux_price,
            tif=r.tif or "DAY",
            order_ref=r.order_ref,
            parent_id=r.parent_id,
        )
        order.oca_group = r.oca_group
        order.account = r.account
        order.display_size = r.display_size
        order.algo_strategy, order.algo_params = r.algo_strategy, r.algo_params
        if order.order_type == "TRAIL":
            order.trailing_percent = r.trailing_percent
            order.trail_stop = r.trail_stop_price
        return order

    def _legs(self, contract: rq.Contract) -> list[OrderLeg] | OrderRejected:
        """A BAG's legs as shipped option contracts of one underlying (IB's 321 for a BAG
        without legs, 200 for a leg that names no contract)."""
        if not contract.legs:
            return OrderRejected(
                321,
                "Error validating request:-'bN' : cause - Security type 'BAG' requires combo "
                "leg details.",
            )
        market = self.exchange.market
        out = []
        for g in contract.legs:
            found = market.options.find(con_id=g.con_id, as_of=self._today())
            if not found:
                return OrderRejected(
                    m.NO_SECURITY_DEFINITION,
                    f"No security definition has been found for the request: combo leg "
                    f"conId {g.con_id} is no unexpired shipped option (stock legs are not "
                    "supported by the simulator)",
                )
            if g.ratio <= 0 or g.action not in ("BUY", "SELL"):
                return OrderRejected(
                    321,
                    f"Error validating request:-'comboLegs' : cause - leg {g.con_id}: ratio "
                    f"{g.ratio} and action {g.action!r} (a positive ratio; BUY or SELL)",
                )
            inst = market.option_instrument(found[0])
            out.append(
                OrderLeg(
                    inst.symbol, inst.con_id, g.ratio, g.action, g.exchange or "SMART",
                    inst.multiplier, tuple(inst.block()),
                )
            )  # fmt: skip
        if len({market.instruments[g.symbol].wire_symbol for g in out}) > 1:
            return OrderRejected(
                321,
                "Error validating request:-'comboLegs' : cause - a combo's legs must share "
                "one underlying",
            )
        if len({g.con_id for g in out}) < len(out):
            return OrderRejected(
                321, "Error validating request:-'comboLegs' : cause - a contract appears twice"
            )
        return out

    def _reject(self, r: rq.PlaceOrder, existing: SimOrder | None, exc: OrderRejected) -> None:
        """IB's error for the order, then the status clients need to settle it: a refused
        new order is Cancelled (ib_insync keeps a PendingSubmit order waiting after a
        warning such as 110 otherwise); a refused change leaves the order as it was."""
        assert self.client_id is not None
        self.send(m.error(r.order_id, exc.code, str(exc)))
        if existing is not None:
            self.send(status_msg(existing))
            return
        qty = r.quantity if r.quantity is not None and math.isfinite(r.quantity) else 0.0
        self.send(
            m.order_status(
                r.order_id, "Cancelled", 0.0, qty, 0.0, 0, r.parent_id, 0.0, self.client_id
            )
        )

    def _cancel_order(self, r: rq.CancelOrder) -> None:
        assert self.client_id is not None
        order = self.exchange.working(self.client_id, r.order_id)
        if order is None:
            self.send(
                m.error(
                    r.order_id,
                    m.CANCEL_NOT_FOUND,
                    f"OrderId {r.order_id} that needs to be cancelled is not found.",
                )
            )
            return
        self.exchange.cancel(order)

    def _global_cancel(self, r: rq.NoArguments) -> None:
        self.exchange.cancel_all()
