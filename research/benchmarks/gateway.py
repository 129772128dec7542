"""Gateway simulator under load: the real ib_async client, many connections at once.

The simulator runs as its own process (``python -m toolkit.gateway``) so its memory can be
read from /proc. Each client places orders one after another (alternately a market order
that fills and a far limit order that is acknowledged and then cancelled) and times each
from ``placeOrder`` to the gateway's answer (Filled, or Submitted). Reported: clients, orders
per second over the run, p50/p95/max latency, and the gateway's resident memory before, at
the end of the load and after every client has gone. ib_async's own pacing (45 requests a
second per client) is turned off so the figures are the gateway's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ib_async import IB, LimitOrder, MarketOrder, Stock

REPO = Path(__file__).resolve().parents[2]
ACK = ("Submitted", "Filled", "Cancelled")
START = ("--start", "2024-03-14 14:00", "--speed", "60")  # inside the SPY minute file


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _client(port: int, cid: int, orders: int, latencies: list[float]) -> None:
    ib = IB()
    ib.client.MaxRequests = 0  # no client-side pacing: time the gateway, not the throttle
    await ib.connectAsync("127.0.0.1", port, clientId=cid, timeout=30)
    try:
        [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        for k in range(orders):
            order = MarketOrder("BUY" if k % 4 == 0 else "SELL", 1) if k % 2 == 0 else None
            answered = asyncio.Event()
            t0 = time.perf_counter()
            trade = ib.placeOrder(spy, order or LimitOrder("BUY", 1, 100.0))
            trade.statusEvent += lambda t, e=answered: (
                e.set() if t.orderStatus.status in ACK else None
            )
            await asyncio.wait_for(answered.wait(), 30)
            latencies.append(time.perf_counter() - t0)
            if order is None:
                ib.cancelOrder(trade.order)
    finally:
        ib.disconnect()


async def _load(port: int, clients: int, orders: int, first_id: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, first_id + c, orders, latencies) for c in range(clients)))
    return time.perf_counter() - t0, latencies


def main() -> None:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)  # 202 per cancel, by design
    port = _free_port()
    gw = subprocess.Popen(
        [sys.executable, "-m", "toolkit.gateway", "--port", str(port), *START],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert gw.stdout is not None
        gw.stdout.readline()  # listening
        time.sleep(0.5)
        print("== gateway simulator under load (ib_async clients over TCP, gateway process) ==")
        asyncio.run(_load(port, 1, 50, 100))  # warm-up: loads the minute bars, caches
        print(f"gateway resident memory after a warm-up order flow: {_rss_mb(gw.pid):,.0f} MB")
        # 1 client, then 20 clients twice: 12,000 orders, past the 10,000 finished orders kept
        cases = [(1, 200), (20, 300), (20, 300)]
        first_id = 1
        for clients, orders in cases:
            before, cpu = _rss_mb(gw.pid), _cpu_s(gw.pid)
            wall, lat = asyncio.run(_load(port, clients, orders, first_id))
            first_id += clients
            during, cpu = _rss_mb(gw.pid), _cpu_s(gw.pid) - cpu
            time.sleep(1.0)  # every client gone, its connection closed
            after = _rss_mb(gw.pid)
            ms = np.array(lat) * 1e3
            print(
                f"{clients:>3} clients x {orders} orders: {len(ms) / wall:,.0f} orders/s, "
                f"latency p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
                f"max {ms.max():.1f} ms; gateway CPU {cpu / wall:.0%} of a core, "
                f"{cpu / len(ms) * 1e3:.2f} ms per order; memory "
                f"{before:,.0f} MB before, {during:,.0f} MB at the end, {after:,.0f} MB after "
                "the clients left"
            )
    finally:
        gw.terminate()
        gw.wait(10)


if __name__ == "__main__":
    main()
