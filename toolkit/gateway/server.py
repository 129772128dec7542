"""The simulated IB Gateway: an asyncio TCP server on 127.0.0.1 speaking the TWS protocol.

Runs in the foreground (``python -m toolkit.gateway``) or in-process on a background thread
(``with Gateway(port=0) as gw: ...``) for tests and notebooks.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.gateway.market import Market, SimClock
from toolkit.gateway.session import Session


@dataclass
class GatewayState:
    """State shared by all sessions: market, clock, account, client ids, order ids."""

    market: Market
    clock: SimClock
    account: str = "DU1234567"
    cash: float = 1_000_000.0
    sessions: dict[int, Session] = field(default_factory=dict)
    connections: set[Session] = field(default_factory=set)
    order_ids: dict[int, int] = field(default_factory=dict)

    def claim(self, client_id: int, session: Session) -> bool:
        """Register a client id; False when another live session holds it."""
        if client_id in self.sessions:
            return False
        self.sessions[client_id] = session
        return True

    def release(self, session: Session) -> None:
        if session.client_id is not None and self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def next_order_id(self, client_id: int) -> int:
        """One past the highest order id this client id has used (1 for a new client)."""
        return self.order_ids.get(client_id, 0) + 1


class Gateway:
    """Start/stop the simulator; ``port=0`` picks a free port (see ``.port`` after start)."""

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
    ) -> None:
        market = Market(data_dir)
        begin = pd.Timestamp(start) if start is not None else market.last_time()
        self.state = GatewayState(market, SimClock(begin, speed), account, cash)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await Session(self.state, reader, writer).run()
        finally:
            self._tasks.discard(task)

    async def start_async(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        await self.start_async()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

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

        self._thread = threading.Thread(target=run, name="toolkit-gateway", daemon=True)
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
                await self._server.wait_closed()
            for s in list(self.state.connections):
                s.writer.close()  # each session then sees end-of-stream and returns
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
