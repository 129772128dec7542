"""The real ib_async client against the simulator over TCP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ib_async = pytest.importorskip("ib_async")
from ib_async import IB, Stock  # noqa: E402

import toolkit as tk  # noqa: E402
from toolkit.gateway import Gateway, con_id_for  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway():
    with Gateway(port=0) as gw:
        yield gw


@pytest.fixture(scope="module")
def intraday_gateway():
    with Gateway(port=0, start="2024-03-15 20:00") as gw:  # inside the shipped SPY 1-min range
        yield gw


def _connect(gw: Gateway, client_id: int = 1, timeout: float = 5) -> IB:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=client_id, timeout=timeout)
    return ib


def test_connect_sync_and_session_basics(gateway) -> None:
    t0 = time.perf_counter()
    ib = _connect(gateway, 11)
    try:
        assert time.perf_counter() - t0 < 2.0  # every startup request was answered
        assert ib.isConnected() and ib.managedAccounts() == ["DU1234567"]
        assert ib.client.serverVersion() == 176
        now = ib.reqCurrentTime()
        assert abs((now - gateway.state.clock.now()).total_seconds()) < 5
        values = {v.tag: v.value for v in ib.accountValues()}
        assert values["NetLiquidation"] == "1000000.00"
        summary = {v.tag: v.value for v in ib.accountSummary()}
        assert summary["TotalCashValue"] == "1000000.00"
        assert ib.positions() == [] and ib.openTrades() == []
    finally:
        ib.disconnect()


def test_contract_details_and_unknown_symbol(gateway) -> None:
    ib = _connect(gateway, 12)
    try:
        spy, qqq, bad = ib.qualifyContracts(
            Stock("SPY", "SMART", "USD"),
            Stock("QQQ", "SMART", "USD"),
            Stock("ZZZZ", "SMART", "USD"),
        )
        assert spy.conId == con_id_for("SPY") and qqq.conId == con_id_for("QQQ")
        assert bad is None  # IB's error 200 ended the request
        [details] = ib.reqContractDetails(Stock("AAPL", "SMART", "USD"))
        assert details.contract.conId == con_id_for("AAPL") and details.minTick == 0.01
        assert "TRAIL" in details.orderTypes
    finally:
        ib.disconnect()


def test_daily_history_equals_the_data_file(gateway) -> None:
    ib = _connect(gateway, 13)
    try:
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        bars = ib.reqHistoricalData(
            spy,
            endDateTime="",
            durationStr="1 Y",
            barSizeSetting="1 day",
            whatToShow="TRADES",
            useRTH=True,
        )
        data = tk.load("SPY", adjust="none")
        expected = data[data.index > data.index[-1] - pd.DateOffset(years=1)]
        assert len(bars) == len(expected)
        assert [b.date for b in bars] == [d.date() for d in expected.index]
        np.testing.assert_allclose([b.close for b in bars], expected["close"].to_numpy())
        np.testing.assert_allclose([b.volume for b in bars], expected["volume"].to_numpy())
        end = dt.datetime(2020, 3, 31, 23, 0, tzinfo=dt.UTC)
        weekly = ib.reqHistoricalData(
            spy,
            endDateTime=end,
            durationStr="3 M",
            barSizeSetting="1 week",
            whatToShow="TRADES",
            useRTH=True,
        )
        assert 12 <= len(weekly) <= 14 and weekly[-1].date <= end.date()
        mid = ib.reqHistoricalData(
            spy,
            endDateTime=end,
            durationStr="10 D",
            barSizeSetting="1 day",
            whatToShow="MIDPOINT",
            useRTH=True,
        )
        assert mid and all(b.volume == -1 for b in mid)
    finally:
        ib.disconnect()


def test_intraday_history_both_date_formats_and_rth(intraday_gateway) -> None:
    ib = _connect(intraday_gateway, 14)
    try:
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        end = dt.datetime(2024, 3, 14, 20, 0, tzinfo=dt.UTC)
        five = ib.reqHistoricalData(
            spy,
            endDateTime=end,
            durationStr="1 D",
            barSizeSetting="5 mins",
            whatToShow="TRADES",
            useRTH=True,
            formatDate=1,
        )
        epoch = ib.reqHistoricalData(
            spy,
            endDateTime=end,
            durationStr="1 D",
            barSizeSetting="5 mins",
            whatToShow="TRADES",
            useRTH=True,
            formatDate=2,
        )
        assert len(five) == len(epoch) == 78  # 09:30-16:00 in 5-minute bars
        assert all(a.date == b.date for a, b in zip(five, epoch, strict=True))
        assert five[0].date.tzinfo is not None
        ny = [b.date.astimezone(dt.timezone(dt.timedelta(hours=-4))) for b in five]
        assert ny[0].strftime("%H:%M") == "09:30" and ny[-1].strftime("%H:%M") == "15:55"
        minute = tk.load(
            tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"
        )
        first = minute.loc[
            pd.Timestamp("2024-03-14 13:30", tz="UTC") : pd.Timestamp("2024-03-14 13:34", tz="UTC")
        ]
        assert five[0].open == first["open"].iloc[0] and five[0].close == first["close"].iloc[-1]
        assert five[0].high == first["high"].max() and five[0].volume == first["volume"].sum()
        extended = ib.reqHistoricalData(
            spy,
            endDateTime=end,
            durationStr="1 D",
            barSizeSetting="1 hour",
            whatToShow="TRADES",
            useRTH=False,
        )
        assert len(extended) > 7  # pre- and post-market hours included
    finally:
        ib.disconnect()


def test_history_errors_end_the_request(gateway) -> None:
    ib = _connect(gateway, 15)
    try:
        [tlt] = ib.qualifyContracts(Stock("TLT", "SMART", "USD"))
        errors: list[tuple[int, str]] = []
        ib.errorEvent += lambda req, code, msg, contract: errors.append((code, msg))
        assert (
            len(ib.reqHistoricalData(tlt, "", "1 D", "5 mins", "TRADES", True)) == 0
        )  # no intraday file
        assert len(ib.reqHistoricalData(tlt, "", "ten days", "1 day", "TRADES", True)) == 0
        assert [c for c, _ in errors] == [162, 162]
        assert "no intraday bars for TLT" in errors[0][1] and "Invalid duration" in errors[1][1]
    finally:
        ib.disconnect()


def test_several_clients_and_a_duplicate_client_id(gateway) -> None:
    a, b = _connect(gateway, 21), _connect(gateway, 22)
    try:
        assert a.reqCurrentTime() and b.reqCurrentTime()
        dup = IB()
        with pytest.raises((TimeoutError, ConnectionError)):
            dup.connect("127.0.0.1", gateway.port, clientId=21, timeout=1.5)
        dup.disconnect()
        assert a.isConnected() and a.reqCurrentTime()  # the first holder is untouched
    finally:
        a.disconnect()
        b.disconnect()
    again = _connect(gateway, 21)  # released after disconnect
    again.disconnect()


def test_unsupported_requests_are_named_not_ignored(gateway) -> None:
    ib = _connect(gateway, 16)
    try:
        errors: list[tuple[int, str]] = []
        ib.errorEvent += lambda req, code, msg, contract: errors.append((code, msg))
        [_spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        ib.reqPnL("DU1234567")
        for _ in range(50):
            if errors:
                break
            ib.sleep(0.1)
        assert (10000, "reqPnL is not supported by the simulator yet") in errors
    finally:
        ib.disconnect()


def _raw(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    return s


def _closed(s: socket.socket) -> bool:
    """The server closed the socket (replies to the good frames before it may come first)."""
    try:
        return any(s.recv(65536) == b"" for _ in range(20))
    except (ConnectionResetError, TimeoutError, OSError):
        return True


def test_fuzz_garbage_closes_only_that_client(gateway) -> None:
    ok = _connect(gateway, 31)
    rng = np.random.default_rng(0)
    try:
        for i in range(60):
            s = _raw(gateway.port)
            if i % 3 == 0:
                s.sendall(rng.bytes(int(rng.integers(1, 200))))  # no handshake at all
            else:
                s.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..176")
                s.recv(4096)  # handshake reply
                if i % 3 == 1:
                    s.sendall(rng.bytes(int(rng.integers(1, 300))))  # random frames
                else:
                    payload = (
                        b"\0".join(rng.choice([b"71", b"2", b"x", b"", b"-5", b"999"], 5)) + b"\0"
                    )
                    s.sendall(struct.pack(">I", len(payload)) + payload)
                    s.sendall(struct.pack(">I", 0xFFFFFFF0))  # absurd length
            # an incomplete frame waits for more bytes, EOF ends it; if the server already
            # closed the connection (the outcome wanted) shutdown raises OSError
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_WR)
            assert _closed(s)
            s.close()
        assert ok.isConnected() and ok.reqCurrentTime()  # the server never stopped
        fresh = _connect(gateway, 32)
        fresh.disconnect()
    finally:
        ok.disconnect()


def test_command_line_gateway(tmp_path: Path) -> None:
    """``--port 0``: the line names the port the system gave, and is printed once that port
    accepts connections (it was printed before, so a client could be refused)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit.gateway", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"gateway simulator on 127\.0\.0\.1:(\d+) ", line)
        assert m is not None and int(m.group(1)) > 0, line
        ib = IB()
        ib.connect("127.0.0.1", int(m.group(1)), clientId=1, timeout=10)  # no retry needed
        assert ib.isConnected() and ib.qualifyContracts(Stock("GLD", "SMART", "USD"))[0].conId
        ib.disconnect()
    finally:
        proc.terminate()
        proc.wait(10)
