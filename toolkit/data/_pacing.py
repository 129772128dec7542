"""IB's historical-data pacing rules, and a pacer that waits just long enough to keep them.

IB's "Historical Data Limitations" (TWS API guide,
https://interactivebrokers.github.io/tws-api/historical_limitations.html, and the older API
users' guide, ``apiguide/api/historical_data_limitations.htm``) call it a pacing violation,
answered with error 162 "Historical Market Data Service error message: Historical data request
pacing violation", to make

* identical historical data requests within 15 seconds;
* six or more historical data requests for the same contract, exchange and tick type
  (whatToShow) within two seconds;
* more than 60 requests within any ten-minute period.

A BID_ASK request counts twice. The current guide states these for bars of 30 seconds or
less and throttles larger bars softly; the older guide applies them to every request, and so
does the pacer (a fetch of daily bars since 2000 needs 26 requests per symbol: the rules cost
it seconds, a violation costs a restart). The same :class:`PacingRules` drive the gateway
simulator's enforcement (``toolkit.gateway.pacing``), with its own violation check.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PacingRules:
    """The three limits (IB's values by default; tests shrink the windows, never the logic)."""

    identical_seconds: float = 15.0
    burst_seconds: float = 2.0
    burst_max: int = 5  # "six or more ... within two seconds" violates: five may go
    window_seconds: float = 600.0
    window_max: int = 60


@dataclass(frozen=True)
class HistoryKey:
    """What the rules compare: ``burst`` is (contract, exchange, whatToShow); ``identical``
    adds every other field of the request (end, duration, bar size, RTH, date format)."""

    burst: Hashable
    identical: Hashable
    weight: int = 1  # BID_ASK counts twice


@dataclass
class Pacer:
    """Client side: :meth:`delay` says how long to wait before a request so that sending it
    then keeps all three rules; :meth:`sent` records it. ``margin`` (seconds) is added to every
    wait, so a gateway whose clock runs a little ahead of ours still sees the rule kept."""

    rules: PacingRules = field(default_factory=PacingRules)
    margin: float = 0.05
    clock: Callable[[], float] = time.monotonic
    _all: deque[float] = field(default_factory=deque)
    _by_contract: dict[Hashable, deque[float]] = field(default_factory=dict)
    _identical: dict[Hashable, float] = field(default_factory=dict)

    def delay(self, key: HistoryKey) -> float:
        """Seconds to wait before sending ``key`` (0 when it may go now)."""
        now = self.clock()
        self._forget(now)
        r = self.rules
        ready = now
        last = self._identical.get(key.identical)
        if last is not None:
            ready = max(ready, last + r.identical_seconds + self.margin)
        recent = self._by_contract.get(key.burst, deque())
        need = len(recent) + key.weight - r.burst_max  # sends that must age out first
        if need > 0:
            ready = max(ready, recent[need - 1] + r.burst_seconds + self.margin)
        need = len(self._all) + key.weight - r.window_max
        if need > 0:
            ready = max(ready, self._all[need - 1] + r.window_seconds + self.margin)
        return ready - now

    def sent(self, key: HistoryKey) -> None:
        """Record that ``key`` went out now."""
        now = self.clock()
        self._forget(now)
        self._identical[key.identical] = now
        recent = self._by_contract.setdefault(key.burst, deque())
        for _ in range(key.weight):
            recent.append(now)
            self._all.append(now)

    def _forget(self, now: float) -> None:
        r = self.rules
        while self._all and self._all[0] <= now - r.window_seconds:
            self._all.popleft()
        for recent in self._by_contract.values():
            while recent and recent[0] <= now - r.burst_seconds:
                recent.popleft()
        for k in [k for k, t in self._identical.items() if t <= now - r.identical_seconds]:
            del self._identical[k]
