"""Resource limits of the simulated gateway, set the way IB Gateway/TWS behaves where IB
documents it, and bounded where a well-behaved client never comes near.

* ``max_clients`` = 32: "each TWS session can receive up to 32 different client applications
  simultaneously" (IB's TWS API guide, *Connectivity*). The 33rd startApi gets an error and is
  closed.
* No idle timeout once a client has started the API: IB Gateway keeps an idle API connection
  open indefinitely (the protocol has no heartbeat; ib_async/ib_insync send nothing while
  idle), so a quiet client must never be dropped for being quiet.
* ``handshake_seconds``: a socket must send ``API\\0``, its version range and startApi within
  this time (clients do it in milliseconds), otherwise it is closed; ``max_sockets`` bounds
  sockets that are still handshaking or refused, so idle sockets cannot crowd out clients.
* ``max_request_bytes``: the largest client message accepted. Real requests are small (a
  placeOrder is about 1 KB; IB's C++ client caps a message at ``MAX_MSG_LEN`` = 0xFFFFFF
  bytes, 16 MB - 1, in CommonDefs.h); a longer length prefix closes the connection at once,
  before anything is buffered, and a frame left incomplete for ``partial_frame_seconds`` too.
* Slow consumers: replies and streams to one client are queued on its own connection and
  never wait for it; a client whose queue stays above ``output_high_water`` for
  ``slow_consumer_seconds``, or exceeds ``max_output_bytes``, is disconnected with a logged
  reason. IB documents no figure for this; what matters, as at IB, is that one client that
  stops reading never holds the others up. Its requests keep being served until then, so
  nothing it sent is lost.
* ``max_finished_orders``: finished orders (and their executions) kept for reconnect replay;
  the oldest beyond it are forgotten. Working orders are always kept.
* ``history_pacing``: IB's historical-data pacing rules, enforced when given (None: off; see
  :mod:`toolkit.gateway.pacing`).
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.data._pacing import PacingRules


@dataclass(frozen=True)
class Limits:
    """Per-gateway limits (defaults as documented in the module docstring)."""

    max_clients: int = 32
    max_sockets: int = 64
    handshake_seconds: float = 10.0
    max_request_bytes: int = 1 << 20
    partial_frame_seconds: float = 30.0
    output_high_water: int = 1 << 20
    max_output_bytes: int = 64 << 20
    slow_consumer_seconds: float = 10.0
    max_finished_orders: int = 10_000
    history_pacing: PacingRules | None = None
