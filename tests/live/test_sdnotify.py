"""systemd's notify protocol (toolkit.live._sdnotify) over a real unix datagram socket: what
a Type=notify unit with WatchdogSec= receives (a bridge process's messages are checked in
tests/live/test_reload.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.live._sdnotify import Notifier, watchdog


@pytest.fixture()
def sock(tmp_path: Path) -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "notify"))
    s.settimeout(5)
    yield s
    s.close()


def test_ready_status_stopping_reach_the_socket(sock: socket.socket) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": sock.getsockname()})
    assert n.enabled and n.interval is None  # no watchdog asked for
    assert n.ready("trading")
    assert sock.recv(4096) == b"READY=1\nSTATUS=trading"
    assert n.stopping()
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"
    assert not n.ping()  # no WatchdogSec: no pings


def test_the_abstract_namespace_socket() -> None:
    name = f"toolkit-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(5)
        assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).status("x")
        assert s.recv(64) == b"STATUS=x"


def test_watchdog_pings_at_half_the_interval_while_the_loop_runs(sock: socket.socket) -> None:
    env = {"NOTIFY_SOCKET": sock.getsockname(), "WATCHDOG_USEC": "200000"}
    n = Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())})
    assert n.interval == pytest.approx(0.1)
    assert n.ping() and not n.ping()  # at most one per half interval

    async def run_for_a_while() -> None:
        task = asyncio.ensure_future(watchdog(n))
        await asyncio.sleep(0.55)
        task.cancel()

    asyncio.run(run_for_a_while())
    sock.settimeout(0.2)
    pings = [sock.recv(64) for _ in range(4)]  # ~5 pings in 0.55 s, besides the first
    assert set(pings) == {b"WATCHDOG=1"}
    # WATCHDOG_PID of another process (a parent's setting inherited): no watchdog here
    assert Notifier.from_env({**env, "WATCHDOG_PID": "1"}).interval is None


def test_nothing_to_tell_without_the_variable() -> None:
    n = Notifier.from_env({})
    assert not n.enabled and not n.ready() and not n.ping()
    assert not Notifier.from_env({"NOTIFY_SOCKET": "/nonexistent/socket"}).ready()
