"""Probe endpoints over HTTP for supervisors (systemd, Docker, Kubernetes, Prometheus): a
small server whose routes are functions returning ``(status, content type, body)``.

Why the standard library's ``ThreadingHTTPServer`` on a daemon thread rather than an ASGI
server or prometheus-client's own ``start_http_server``: it adds no dependency, it serves
several paths (prometheus-client's server answers every path with the metrics, so no
``/readyz`` beside them), and on its own thread a probe is answered even while the asyncio
loop it watches is busy or stuck -- an ASGI app inside that loop would go silent exactly when
a liveness probe matters. ``stop()`` shuts the listener and joins the thread. The gateway
simulator serves ``/healthz`` with it; a live session serves ``/healthz``, ``/readyz`` and
``/metrics`` (:mod:`toolkit.live.endpoints`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from toolkit.errors import ConfigError

Reply = tuple[int, str, bytes]
Route = Callable[[], Reply]
log = logging.getLogger("toolkit.probes")

JSON = "application/json; charset=utf-8"


def json_reply(status: int, body: Mapping[str, Any]) -> Reply:
    """A JSON answer (``default=str``: timestamps as text)."""
    return status, JSON, (json.dumps(body, default=str, indent=1) + "\n").encode()


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``host:port`` or ``port`` (then on ``default_host``); a bad one is the user's error."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else default_host
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"endpoint address {text!r}: expected PORT or HOST:PORT, e.g. 127.0.0.1:9108"
        )
    return host or default_host, int(port)


class ProbeServer:
    """Routes served on ``host:port`` (port 0 picks a free one: read ``.port`` after
    :meth:`start`) from a daemon thread, one thread per request."""

    def __init__(self, routes: Mapping[str, Route], host: str = "127.0.0.1", port: int = 0):
        self.routes = dict(routes)
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ProbeServer:
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server calls it by this name
                path = self.path.split("?", 1)[0]
                route = routes.get(path)
                if route is None:
                    status, kind, body = 404, "text/plain; charset=utf-8", b"not found\n"
                else:
                    try:
                        status, kind, body = route()
                    except Exception as exc:  # a probe that fails says so, never hangs
                        log.exception("probe %s failed", path)
                        status, kind = 500, "text/plain; charset=utf-8"
                        body = f"probe failed: {type(exc).__name__}: {exc}\n".encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

        try:
            server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve probe endpoints on {self.host}:{self.port}: {exc.strerror or exc}"
                " (is another program on that port? choose another one)"
            ) from None
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="toolkit-probes",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> ProbeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
