"""Resource limits of the simulator over TCP: a client that stops reading is dropped without
freezing the others, sockets that never finish the handshake and frames that are oversized or
never finish are closed, idle API clients are kept (as IB does), IB's 32-client cap, finished
orders are pruned, and a request sent just before a client dies is still served."""

from __future__ import annotations

import logging
import socket
import struct
import time

import pytest

pytest.importorskip("ib_async")
from ib_async import IB, LimitOrder, Order, Stock

from toolkit.gateway import Gateway
from toolkit.gateway.limits import Limits

START = "2024-03-14 14:00"  # inside the SPY 1-minute file


def _wait(cond, seconds: float = 10.0, ib: IB | None = None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return
        if ib is not None:
            ib.sleep(0.05)
        else:
            time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _frame(*fields: str | int) -> bytes:
    payload = b"".join(str(f).encode() + b"\0" for f in fields)
    return struct.pack(">I", len(payload)) + payload


def _raw_client(port: int, client_id: int | None) -> socket.socket:
    """A raw socket through the handshake (and startApi when ``client_id`` is given)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..176")
    s.recv(4096)
    if client_id is not None:
        s.sendall(_frame(71, 2, client_id, ""))
    return s


def _closed_by_server(s: socket.socket, seconds: float) -> bool:
    """True once the server has closed ``s`` (reads and discards whatever comes first)."""
    s.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if s.recv(1 << 20) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def _history_request(req_id: int) -> bytes:
    """reqHistoricalData for every SPY minute bar shipped (a reply of a few megabytes)."""
    contract = [0, "SPY", "STK", "", 0.0, "", "", "SMART", "", "USD", "", ""]
    return _frame(20, req_id, *contract, 0, "", "1 min", "3 M", 0, "TRADES", 1, 0, "")


def _place_order_fields(order_id: int, ref: str) -> list[str | int]:
    """A plain MKT BUY 1 SPY placeOrder (115 fields, as the clients send at version 176)."""
    f: list[str | int] = [""] * 115
    f[0], f[1], f[2], f[3], f[4], f[9], f[11] = 3, order_id, 0, "SPY", "STK", "SMART", "USD"
    f[16], f[17], f[18], f[21], f[26], f[27], f[28] = "BUY", "1", "MKT", "DAY", ref, 1, 0
    return f


def test_a_client_that_stops_reading_is_dropped_and_never_freezes_the_others(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="toolkit.gateway")
    limits = Limits(slow_consumer_seconds=3.0)
    with Gateway(port=0, start=START, speed=120, limits=limits) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            ticker = ib.reqMktData(spy)
            stalled = _raw_client(gw.port, 2)
            for k in range(6):  # megabytes of replies it will never read
                stalled.sendall(_history_request(100 + k))
            ib.sleep(1.5)  # its replies have filled the socket buffers by now
            for _ in range(3):  # quotes keep coming on time while the other is stuck
                seen = ticker.time
                _wait(lambda seen=seen: ticker.time != seen, 3.0, ib)
            _wait(lambda: 2 not in gw.state.sessions, 10, ib)
            assert _closed_by_server(stalled, 5)
            assert "slow consumer" in caplog.text and "client id 2" in caplog.text
            seen = ticker.time
            _wait(lambda: ticker.time != seen, 3.0, ib)
            assert ib.isConnected() and ib.reqCurrentTime()
        finally:
            ib.disconnect()


def test_the_last_request_of_a_client_killed_after_sending_it_is_served() -> None:
    with Gateway(port=0, start=START, speed=60) as gw:
        s = _raw_client(gw.port, 7)
        for k in range(6):  # its replies back up (it never reads them)
            s.sendall(_history_request(200 + k))
        time.sleep(4)  # its replies are built and back up in the socket buffers
        s.sendall(_frame(*_place_order_fields(50, "last-words")))
        # served as soon as it arrives, however far behind the client's replies are (before,
        # it sat unread behind a blocked drain and died with the connection); a reset
        # discards what the kernel has not handed over yet, so kill only once it is received
        _wait(lambda: (7, 50) in gw.state.book.orders, 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # killed with unread replies: the kernel resets the connection
        _wait(lambda: 7 not in gw.state.sessions, 10)
        again = IB()
        again.connect("127.0.0.1", gw.port, clientId=7, timeout=5)
        try:
            _wait(lambda: any(f.execution.orderRef == "last-words" for f in again.fills()), 10)
        finally:
            again.disconnect()


def test_sockets_that_never_finish_the_handshake_are_closed_idle_clients_are_kept() -> None:
    with Gateway(port=0, limits=Limits(handshake_seconds=1.0)) as gw:
        silent = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        no_start = _raw_client(gw.port, None)  # version exchange, never startApi
        idle = _raw_client(gw.port, 3)  # a started API client that then says nothing
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=4, timeout=5)
        try:
            assert _closed_by_server(silent, 5) and _closed_by_server(no_start, 5)
            time.sleep(1.5)  # well past the handshake limit
            assert 3 in gw.state.sessions and 4 in gw.state.sessions
            idle.sendall(_frame(49, 1))  # reqCurrentTime: still served
            idle.settimeout(5)
            assert idle.recv(4096)[4:6] == b"15"  # managedAccounts came first, then the rest
            assert ib.isConnected() and ib.reqCurrentTime()
        finally:
            ib.disconnect()
            idle.close()


def test_oversized_and_unfinished_frames_close_the_connection_at_once() -> None:
    with Gateway(port=0, limits=Limits(partial_frame_seconds=1.0)) as gw:
        ok = IB()
        ok.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            huge = _raw_client(gw.port, 2)
            huge.sendall(struct.pack(">I", 16 * 1024 * 1024 - 1) + b"\0" * 65536)
            assert _closed_by_server(huge, 2)  # refused on its length, nothing buffered
            stuck = _raw_client(gw.port, 3)
            stuck.sendall(struct.pack(">I", 100) + b"49\0")  # 3 of 100 bytes, then nothing
            assert _closed_by_server(stuck, 5)
            assert ok.isConnected() and ok.reqCurrentTime()
        finally:
            ok.disconnect()


def test_ib_cap_of_32_api_clients() -> None:
    with Gateway(port=0) as gw:
        clients: list[IB] = []
        try:
            for cid in range(1, 33):
                ib = IB()
                ib.connect("127.0.0.1", gw.port, clientId=cid, timeout=5)
                clients.append(ib)
            extra = IB()
            errors: list[int] = []
            extra.errorEvent += lambda req, code, msg, contract: errors.append(code)
            with pytest.raises((TimeoutError, ConnectionError)):
                extra.connect("127.0.0.1", gw.port, clientId=33, timeout=1.5)
            extra.disconnect()
            assert errors == [502] and 33 not in gw.state.sessions
            clients.pop().disconnect()  # a free slot again
            _wait(lambda: len(gw.state.sessions) == 31)
            late = IB()
            late.connect("127.0.0.1", gw.port, clientId=33, timeout=5)
            late.disconnect()
        finally:
            for ib in clients:
                ib.disconnect()


def test_finished_orders_are_pruned_working_ones_and_recent_fills_kept() -> None:
    with Gateway(port=0, start=START, limits=Limits(max_finished_orders=20)) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=5, timeout=5)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            working = ib.placeOrder(spy, LimitOrder("BUY", 1, 100.0, orderRef="keep"))
            trades = [
                ib.placeOrder(spy, Order(action="BUY", totalQuantity=1, orderType="MKT"))
                for _ in range(60)
            ]
            _wait(lambda: all(t.orderStatus.status == "Filled" for t in trades), 20, ib)
            book = gw.state.book
            assert len(book.orders) <= 1 + 20 + 2  # the working order + at most ~20 finished
            assert (5, working.order.orderId) in book.orders
            assert len(book.fills) <= 22
            assert book.positions["SPY"].quantity == 60  # positions never forget
        finally:
            ib.disconnect()
        again = IB()
        again.connect("127.0.0.1", gw.port, clientId=5, timeout=5)
        try:
            assert [t.order.orderRef for t in again.openTrades()] == ["keep"]
            refs = {f.execution.orderId for f in again.fills()}
            assert trades[-1].order.orderId in refs and trades[0].order.orderId not in refs
        finally:
            again.disconnect()


def test_sockets_beyond_the_cap_are_closed_at_once_and_free_again_after_the_handshake_limit() -> (
    None
):
    with Gateway(port=0, limits=Limits(max_sockets=5, handshake_seconds=1.0)) as gw:
        idle = [socket.create_connection(("127.0.0.1", gw.port), timeout=5) for _ in range(5)]
        _wait(lambda: len(gw.state.connections) == 5)
        extra = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        assert _closed_by_server(extra, 1)  # refused while five sockets say nothing
        assert all(_closed_by_server(s, 5) for s in idle)  # the handshake limit frees them
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            assert ib.isConnected() and ib.reqCurrentTime()
        finally:
            ib.disconnect()
