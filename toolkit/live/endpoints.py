"""A live session's probe endpoints, opt-in (``[endpoints]`` in the live config or
``python -m toolkit.live run --endpoints 127.0.0.1:9108``), on 127.0.0.1 unless told otherwise:

* ``/healthz`` -- the process is alive and its asyncio loop answers (200); 503 once the loop
  has not run a callback for ``stall_seconds`` (a hung session a supervisor should restart).
* ``/readyz`` -- ready to trade (200), else 503 with the failing reasons as JSON
  (:mod:`toolkit.live._readiness`: connected and synced, last bar not older than two bar
  periods, journal writable, kill switch off).
* ``/metrics`` -- Prometheus text format from the session's own registry
  (:mod:`toolkit.live._metrics`).

The server is the standard library's threaded HTTP server on a daemon thread
(:class:`toolkit.gateway.probes.ProbeServer`, which says why): a probe never runs on, nor
waits for, the session's event loop except ``/healthz``'s bounded ping of it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Self

from prometheus_client import CONTENT_TYPE_LATEST

from toolkit.gateway.probes import ProbeServer, Reply, json_reply, parse_address
from toolkit.live import _readiness
from toolkit.live._metrics import SessionMetrics
from toolkit.live._readiness import Readiness, SessionState
from toolkit.live.endpoints_config import EndpointsConfig

__all__ = ["EndpointsConfig", "ProbeEndpoints", "SessionEndpoints", "endpoints_for"]

PING_WAIT = 0.5  # seconds /healthz waits for the loop to answer before reporting how long


class ProbeEndpoints:
    """``/healthz``, ``/readyz`` and ``/metrics`` of one session, served from a thread: any
    session kind gives its id, its readiness check and its metrics page (the stock session:
    :class:`SessionEndpoints`; the option session: :mod:`toolkit.live._option_probes`)."""

    def __init__(
        self,
        sid: str,
        readiness: Callable[[], Readiness],
        metrics: Callable[[], bytes],
        loop: asyncio.AbstractEventLoop,
        cfg: EndpointsConfig,
    ) -> None:
        self.sid = sid
        self.readiness = readiness
        self.exposition = metrics
        self.loop = loop
        self.cfg = cfg
        self._pong = time.monotonic()
        self._pinged = threading.Event()
        self.server = ProbeServer(
            {"/healthz": self.healthz, "/readyz": self.readyz, "/metrics": self.metrics_page},
            cfg.host,
            cfg.port,
        )

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def _answered(self) -> None:
        self._pong = time.monotonic()
        self._pinged.set()

    def healthz(self) -> Reply:
        """Alive when the session's loop runs a callback (waits up to PING_WAIT for it)."""
        if self.loop.is_closed():
            return json_reply(503, {"alive": False, "reason": "the session's loop has ended"})
        self._pinged.clear()
        self.loop.call_soon_threadsafe(self._answered)
        answered = self._pinged.wait(PING_WAIT)
        quiet = 0.0 if answered else time.monotonic() - self._pong
        alive = quiet < self.cfg.stall_seconds
        body = {"alive": alive, "session": self.sid, "loop_quiet_seconds": round(quiet, 3)}
        if not alive:
            body["reason"] = f"the session's event loop has not answered for {quiet:.0f} s"
        return json_reply(200 if alive else 503, body)

    def readyz(self) -> Reply:
        state = self.readiness()
        return json_reply(200 if state.ready else 503, state.as_json())

    def metrics_page(self) -> Reply:
        return 200, CONTENT_TYPE_LATEST, self.exposition()


class SessionEndpoints(ProbeEndpoints):
    """The stock session's probes: :func:`toolkit.live._readiness.check` and its metrics."""

    def __init__(
        self,
        session: SessionState,
        metrics: SessionMetrics,
        loop: asyncio.AbstractEventLoop,
        cfg: EndpointsConfig,
    ) -> None:
        self.session = session
        self.metrics = metrics
        metrics.bind(session, lambda: _readiness.check(session).ready)
        super().__init__(
            session.sid, lambda: _readiness.check(session), metrics.exposition, loop, cfg
        )


def endpoints_for(cli: str | None, configured: EndpointsConfig | None) -> EndpointsConfig | None:
    """The endpoints to serve: ``--endpoints HOST:PORT`` (or PORT) over the config's table;
    None when neither asks for them."""
    if cli is None:
        return configured
    host, port = parse_address(cli)
    base = configured if configured is not None else EndpointsConfig()
    return EndpointsConfig(port=port, host=host, stall_seconds=base.stall_seconds)
