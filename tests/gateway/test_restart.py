"""IB Gateway's daily restart in the simulator (issue 19.2): at the configured New York time
every connection closes and connects are refused (no listener, as the restarting gateway) for
the window; then the same port serves the same book. ``python -m toolkit.gateway
--healthz-port`` answers /healthz, during a restart too."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
from ib_async import IB, LimitOrder, Stock

from tests.gateway._client import wait_for
from tests.live.conftest import REPO
from toolkit.errors import ConfigError
from toolkit.gateway import Gateway
from toolkit.gateway._restart import DailyRestart


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_next_restart_follows_new_york_time() -> None:
    r = DailyRestart.parse("23:45", "5min")
    winter = pd.Timestamp("2023-03-10 12:00", tz="UTC")
    assert r.next_after(winter) == pd.Timestamp("2023-03-11 04:45", tz="UTC")  # EST
    summer = pd.Timestamp("2023-03-13 04:00", tz="UTC")  # Monday 00:00 EDT
    assert r.next_after(summer) == pd.Timestamp("2023-03-14 03:45", tz="UTC")  # EDT
    at = pd.Timestamp("2023-03-11 04:45", tz="UTC")
    # strictly after; Saturday 23:45 is still EST (the clocks change at 02:00 Sunday)
    assert r.next_after(at) == pd.Timestamp("2023-03-12 04:45", tz="UTC")


@pytest.mark.parametrize(("at", "window"), [("25:00", "5min"), ("23:45", "0s"), ("x", "1h")])
def test_bad_restart_settings_are_named(at: str, window: str) -> None:
    with pytest.raises(ConfigError, match="daily restart"):
        DailyRestart.parse(at, window)


def test_the_restart_drops_refuses_then_serves_the_same_book() -> None:
    restart = DailyRestart.parse("23:45", "5min")
    # Thursday 23:44 New York; the clock barely moves, the test moves it
    with Gateway(port=0, start="2023-03-10 04:44", speed=1.0, daily_restart=restart) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=7, timeout=5)
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        trade = ib.placeOrder(spy, LimitOrder("BUY", 10, 100.0, tif="GTC"))
        wait_for(ib, lambda: trade.orderStatus.status == "Submitted")
        port = gw.port
        gw.advance("90s")  # 23:45:30: the restart is under way
        with contextlib.suppress(ConnectionError):  # ib_async raises 'Socket disconnect'
            wait_for(ib, lambda: not ib.isConnected())
        assert _refused(port)  # no listener: ECONNREFUSED, as while IB Gateway restarts
        health = gw.health()
        assert health["alive"] and not health["listening"] and health["restarts"] == 1
        assert health["restarting_until"] == "2023-03-10T04:50:00+00:00"
        gw.advance("4min")  # 23:49:30: still within the window
        time.sleep(0.2)
        assert _refused(port)
        gw.advance("1min")  # 23:50:30: over
        deadline = time.monotonic() + 10
        while _refused(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        again = IB()
        again.connect("127.0.0.1", port, clientId=7, timeout=5)
        try:  # the order worked on at IB through the restart
            assert [t.order.lmtPrice for t in again.openTrades()] == [100.0]
            assert gw.health()["listening"] and gw.restarts is not None
            assert gw.restarts.next_at == pd.Timestamp("2023-03-11 04:45", tz="UTC")
        finally:
            again.disconnect()
            ib.disconnect()


def test_the_command_line_gateway_serves_healthz() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit.gateway", "--port", "0", "--healthz-port", "0",
         "--daily-restart", "23:45", "--restart-window", "10min"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        m = re.search(r"healthz on (http://127\.0\.0\.1:\d+/healthz)", lines[1])
        assert m is not None, lines
        with urllib.request.urlopen(m.group(1), timeout=10) as r:
            assert r.status == 200
            body = json.loads(r.read())
        assert body["alive"] and body["listening"] and body["restarts"] == 0
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_a_bad_restart_time_is_one_line(capsys) -> None:
    from toolkit.app.gateway import main

    assert main(["--port", "0", "--daily-restart", "noon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "daily restart time 'noon'" in err
