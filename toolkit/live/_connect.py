"""Connecting a session: waits a stop request can cut short, and the connect with
exponential backoff (a first connect tries a few times only, then says what is wrong)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from toolkit.live._broker import Broker, ClientIdInUse
from toolkit.live._startup import LiveError
from toolkit.live.config import Endpoint


async def unless_stopped(work: Any, stop_asked: asyncio.Event) -> bool:
    """Await ``work`` unless a stop request (``stop_asked``) comes first (then cancel it):
    False if stopped. Waits that can last (connecting, backoff) go through here, so a stop is
    never held up by an unreachable gateway."""
    job = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stop_asked.wait())
    try:
        await asyncio.wait({job, stop}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        job.cancel()
        raise
    finally:
        stop.cancel()
    if not job.done():
        # cancel, and again if the first was swallowed (asyncio.wait_for in Python 3.11
        # drops a cancel that lands as its inner wait completes); never wait on it long
        for _ in range(3):
            job.cancel()
            await asyncio.wait({job}, timeout=0.5)
            if job.done():
                break
        if job.done() and not job.cancelled():
            job.exception()  # retrieved: a late failure of abandoned work is not an error
        return False
    job.result()  # its exception, if any
    return True


async def connect(
    broker: Broker,
    cfg: Endpoint,
    host: str,
    port: int,
    *,
    first: bool,
    stop: asyncio.Event,
    stop_asked: asyncio.Event,
    log: Callable[[str], None],
) -> None:
    """Connect, retrying with exponential backoff (first connect: a few tries only); a stop
    request ends the attempt and the retries at once (the broker stays disconnected)."""
    conn = cfg.connection
    delay, tries = 0.5, 0
    while not stop.is_set():
        tries += 1
        try:
            done = await unless_stopped(
                broker.connect(host, port, conn.client_id, conn.timeout), stop_asked
            )
            if not done:
                with contextlib.suppress(Exception):
                    broker.disconnect()
            return
        except Exception as exc:  # refused, timed out, client id still held, ...
            with contextlib.suppress(Exception):
                broker.disconnect()
            if first and isinstance(exc, ClientIdInUse):
                raise LiveError(
                    f"IB Gateway/TWS at {host}:{port} refused client id "
                    f"{conn.client_id} (IB error 326: {exc}). Another "
                    "program or session is connected with it: stop that one, or set another "
                    f"[connection] client_id in {cfg.source}."
                ) from None
            if first and tries >= 3:
                raise LiveError(
                    f"cannot connect to IB Gateway/TWS at {host}:{port} "
                    f"(client id {conn.client_id}): {exc or type(exc).__name__}. "
                    "Is it running with the API enabled on that port, and is the client id "
                    "free?"
                ) from None
            if stop.is_set():
                return
            log(f"connect failed ({exc or type(exc).__name__}); retry in {delay:.1f} s")
            await unless_stopped(asyncio.sleep(delay), stop_asked)
            delay = min(delay * 2.0, cfg.session.max_backoff)
