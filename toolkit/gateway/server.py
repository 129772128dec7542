"""The simulated IB Gateway's asyncio lifecycle: listen on a TCP port, run the matcher that
moves the exchange and the streams as the simulated clock runs, stop.

Runs in the foreground (``python -m toolkit.gateway``) or in-process on a background thread
(``with Gateway(port=0) as gw: ...``) for tests and notebooks. The layers below it, each
importing only those under it: :mod:`~toolkit.gateway.session` (one connection),
:mod:`~toolkit.gateway.router` (who is connected; exchange events to messages),
:mod:`~toolkit.gateway.requests` (typed requests from a field table),
:mod:`~toolkit.gateway.streams`,
:mod:`~toolkit.gateway.exchange` (book, matching, margin, groups; emits
:mod:`~toolkit.gateway.events`), :mod:`~toolkit.gateway.market` and
:mod:`~toolkit.gateway.framing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.engine.commissions import Commission
from toolkit.errors import ConfigError
from toolkit.gateway._book_fills import BookFills
from toolkit.gateway._restart import DailyRestart, Restarts
from toolkit.gateway.depth_replay import DepthReplay
from toolkit.gateway.exchange import Exchange
from toolkit.gateway.limits import Limits
from toolkit.gateway.market import Market, SimClock
from toolkit.gateway.orders import Book
from toolkit.gateway.router import GatewayState
from toolkit.gateway.session import Session
from toolkit.gateway.streams import Streams

MATCH_INTERVAL = 0.05  # seconds between checks of working orders against new bars
log = logging.getLogger("toolkit.gateway")


class Gateway:
    """Start/stop the simulator; ``port=0`` picks a free port (see ``.port`` after start).

    ``paused`` starts with the clock held until :meth:`resume`; ``lockstep`` holds it again
    whenever a new keepUpToDate bar is sent, so an in-process client that resumes it after
    acting trades every bar in time however loaded the machine is (the live bridge's
    embedded rehearsals use both; a TWS client over the network never resumes it).
    ``costs`` gives an order's own commission schedule and slippage (a fraction) by its
    orderRef (None: ``commission``/``slippage_bps``); tiered volume is counted per schedule.
    ``depth_replay`` serves its symbol's depth and ticks from a LOBSTER day
    (:mod:`toolkit.gateway.depth_replay`) instead of the depth model.
    """

    def __init__(
        self,
        port: int = 4002,
        *,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        start: str | pd.Timestamp | None = None,
        speed: float = 1.0,
        account: str = "DU1234567",
        cash: float = 1_000_000.0,
        participation: float = 0.1,
        commission: Commission | None = None,
        slippage_bps: float = 0.0,
        costs: Callable[[str], tuple[Commission, float] | None] | None = None,
        paused: bool = False,
        lockstep: bool = False,
        limits: Limits | None = None,
        daily_restart: DailyRestart | None = None,
        depth_replay: DepthReplay | None = None,
    ) -> None:
        market = Market(data_dir)
        begin = _start_time(start) if start is not None else market.last_time()
        clock = SimClock(begin, speed, paused)
        limits = limits if limits is not None else Limits()
        book = Book(participation=participation, slippage=slippage_bps / 1e4, costs=costs)
        if commission is not None:
            book.commission = commission
        exchange = Exchange(market, clock, account, cash, book, limits.max_finished_orders)
        self.state = GatewayState(exchange, Streams(market, clock, lockstep), limits)
        if depth_replay is not None:  # its symbol's depth and ticks, from now on the clock
            depth_replay.attach(market, clock.now())
            self.state.streams.replay = depth_replay
            exchange.depth_book = BookFills(depth_replay)  # and its orders fill on its book
            market.marks[depth_replay.symbol] = exchange.depth_book.mark
        # IB Gateway's daily restart, simulated (toolkit.gateway._restart): None never restarts
        self.restarts = None if daily_restart is None else Restarts(daily_restart, clock, lockstep)
        # lockstep: the clients cut off (kept, so a new one is told apart), held until one is back
        self._cut_from: set[Any] | None = None
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._matcher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    async def start_async(self) -> None:
        await self._listen()
        self._matcher = asyncio.get_running_loop().create_task(self._match_forever())

    async def _match_forever(self) -> None:
        wake = self._wake = asyncio.Event()
        clock = self.state.clock
        while True:
            wait = MATCH_INTERVAL
            if self.state.lockstep and clock.paused_at is None and clock.ceiling is not None:
                # nothing happens before the next release: wake exactly then
                ahead = (clock.ceiling - clock.now()).total_seconds() / clock.speed
                wait = max(0.0, min(wait, ahead))
            replay = self.state.streams.replay
            if replay is not None and replay.busy and clock.paused_at is None:
                wait = 0.001  # a fast replay: its next batch once the clients have read
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)
            wake.clear()
            try:
                self.state.tick()
                if self.restarts is not None:
                    await self._restart_step(self.restarts)
                if not self._back():
                    clock.pause()  # lockstep clients cut off: held until one is back
            except Exception:  # the matcher serves every client: it must never stop
                log.exception("matching failed")
            now = asyncio.get_running_loop().time()
            for s in list(self.state.connections):
                s.check(now)  # slow readers and stalled frames (never waits on a client)

    async def serve_forever(self, ready: Callable[[int], None] | None = None) -> None:
        """Serve until cancelled; ``ready(port)`` once the port accepts connections (a
        line printed earlier sent clients to a port that refused them)."""
        await self.start_async()
        assert self._server is not None
        if ready is not None:
            ready(self.port)
        try:  # until cancelled (the listener closes and opens again at a daily restart)
            await asyncio.get_running_loop().create_future()
        finally:
            self._server.close()

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Session(self.state), self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _restart_step(self, r: Restarts) -> None:
        """The daily restart: at its start close the port and every connection (orders,
        fills and positions stay), at its end listen again on the same port."""
        if r.begins():
            self._hold_until_back()
            log.warning("daily restart: connections closed, port %d refused until %s UTC",
                        self.port, f"{r.until:%Y-%m-%d %H:%M}")  # fmt: skip
            if self._server is not None:
                self._server.close()
            for s in list(self.state.connections):
                s.close()
        elif r.ends():
            await self._listen()
            log.warning("daily restart over: listening on port %d again", self.port)
        r.hold()

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports: alive while the matcher runs (also in a restart)."""
        r, server, matcher = self.restarts, self._server, self._matcher
        return {
            "alive": matcher is not None and not matcher.done(),
            "listening": server is not None and server.is_serving(),
            "port": self.port,
            "clients": len(self.state.connections),
            "simulated_time": self.clock.now().isoformat(),
            "restarting_until": None if r is None or r.until is None else r.until.isoformat(),
            "restarts": 0 if r is None else r.count,
        }

    def start(self) -> Gateway:
        """Run on a daemon thread; returns once the port is listening."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to the caller of start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        # in the starter's context, as an asyncio task would be: a notebook session's log file
        # takes its simulator's records and not another session's (toolkit._logfiles)
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(
            target=ctx.run, args=(run,), name="toolkit-gateway", daemon=True
        )
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        """Close the listener and every client connection, then stop the thread."""
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for s in list(self.state.connections):
                s.close()
            for _ in range(100):  # connection_lost runs once each socket has closed
                if not self.state.connections:
                    break
                await asyncio.sleep(0.05)
            if self._server is not None:
                await self._server.wait_closed()
            if self._matcher is not None:
                self._matcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._matcher

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def drop_clients(self) -> None:
        """Close every client connection but keep orders, fills and positions, as IB Gateway's
        nightly restart or a network outage does; clients must reconnect."""
        loop = self._loop
        if loop is None:
            return

        def close_all() -> None:
            for s in list(self.state.connections):
                s.close()

        self._hold_until_back()
        loop.call_soon_threadsafe(close_all)

    def cut_at_order(self, when: Callable[[str], str | None] | None) -> None:
        """Fault injection: ``when(orderRef)`` is asked on every placeOrder received;
        ``"before"`` drops its client before the order is booked (lost on the wire),
        ``"after"`` books it and drops the client before the acknowledgement leaves. The
        clock is held as :meth:`drop_clients` holds it. None disarms."""

        def cut(ref: str) -> str | None:
            how = when(ref) if when is not None else None
            if how is not None:
                self._hold_until_back()
            return how

        self.state.order_cut = cut if when is not None else None

    def _hold_until_back(self) -> None:
        """Lockstep: the clients are being cut off -- hold the clock until one connects again
        (a rehearsal at 10^7 x would run days ahead while its session reconnects, and a resume
        the session sent before it saw the drop must not run it)."""
        if self.state.lockstep:
            self.state.clock.pause()
            self._cut_from = set(self.state.connections)

    def _back(self) -> bool:
        """Whether a client connected since the cut (then the clock may run again)."""
        cut = self._cut_from
        if cut is not None and any(s not in cut for s in list(self.state.connections)):
            self._cut_from = cut = None
        return cut is None

    def pause(self) -> None:
        """Stop the simulated clock."""
        self.state.clock.pause()

    def resume(self) -> None:
        """Start the simulated clock again from where it stopped (and look for new bars at
        once rather than at the next tick); a lockstep clock held for clients cut off stays
        held until one is back."""
        if not self._back():
            return
        self.state.held_bar = None
        self.state.clock.resume()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    @property
    def clock(self) -> SimClock:
        """The simulated clock (``start``, ``now()``, ``paused_at``): the one to read rather
        than ``state.clock``."""
        return self.state.clock

    @property
    def paused(self) -> bool:
        return self.state.clock.paused_at is not None

    @property
    def held_bar(self) -> pd.Timestamp | None:
        """Lockstep: the label of the bar whose release holds the clock (None: not held
        for a bar)."""
        return self.state.held_bar if self.paused else None

    def advance(self, delta: str | pd.Timedelta) -> None:
        """Move the simulated clock forward by ``delta`` (e.g. "1D")."""
        self.state.clock.advance(pd.Timedelta(delta))

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _start_time(start: str | pd.Timestamp) -> pd.Timestamp:
    """The simulated start; a text that is no date/time is the user's error, named."""
    try:
        when = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise ConfigError(
            f"simulator start {start!r} is not a date/time; use e.g. '2024-03-14 14:00' (UTC)."
        ) from None
    if pd.isna(when):
        raise ConfigError(f"simulator start {start!r} is not a date/time.")
    return when
