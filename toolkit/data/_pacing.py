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

import json
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PacingRules:
    """The three limits (IB's values by default; tests shrink the windows, never the logic)."""

    identical_seconds: float = 15.0
    burst_seconds: float = 2.0
    burst_max: int = 5  # "six or more ... within two seconds" violates: five may go
    window_seconds: float = 600.0
    window_max: int = 60

    def scaled(self, factor: float) -> PacingRules:
        """The same counts over windows ``factor`` times as long (below 1: a simulator)."""
        return PacingRules(
            self.identical_seconds * factor,
            self.burst_seconds * factor,
            self.burst_max,
            self.window_seconds * factor,
            self.window_max,
        )


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
    wait, so a gateway whose clock runs a little ahead of ours still sees the rule kept.

    IB counts a login's requests whoever sends them, so a fetch run right after another one
    must know the earlier run's requests: :meth:`save` and :meth:`load` keep the log in a file
    (wall-clock times, the default clock) between runs."""

    rules: PacingRules = field(default_factory=PacingRules)
    margin: float = 0.05
    clock: Callable[[], float] = time.time
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, burst, identical)

    def delay(self, key: HistoryKey) -> float:
        """Seconds to wait before sending ``key`` (0 when it may go now)."""
        now = self.clock()
        self._forget(now)
        r = self.rules
        burst, identical = repr(key.burst), repr(key.identical)
        ready = now
        same = [t for t, _, i in self.log if i == identical and t > now - r.identical_seconds]
        if same:
            ready = max(ready, same[-1] + r.identical_seconds + self.margin)
        recent = [t for t, b, _ in self.log if b == burst and t > now - r.burst_seconds]
        need = len(recent) + key.weight - r.burst_max  # sends that must age out first
        if need > 0:
            ready = max(ready, recent[need - 1] + r.burst_seconds + self.margin)
        window = [t for t, _, _ in self.log if t > now - r.window_seconds]
        need = len(window) + key.weight - r.window_max
        if need > 0:
            ready = max(ready, window[need - 1] + r.window_seconds + self.margin)
        return max(0.0, ready - now)

    def sent(self, key: HistoryKey) -> None:
        """Record that ``key`` went out now."""
        now = self.clock()
        self._forget(now)
        entry = (now, repr(key.burst), repr(key.identical))
        self.log.extend([entry] * key.weight)

    def _forget(self, now: float) -> None:
        r = self.rules
        horizon = max(r.window_seconds, r.identical_seconds, r.burst_seconds)
        self.log = [e for e in self.log if e[0] > now - horizon]

    def save(self, path: Path) -> None:
        """Keep the log for the next run (written whole through a rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"requests": self.log}))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, rules: PacingRules | None = None) -> Pacer:
        """A wall-clock pacer that remembers the requests logged in ``path`` (if readable)."""
        pacer = cls(rules or PacingRules())
        try:
            entries = json.loads(path.read_text())["requests"]
            pacer.log = sorted((float(t), str(b), str(i)) for t, b, i in entries)
        except (OSError, ValueError, KeyError, TypeError):
            pacer.log = []  # no file yet, or an unreadable one: start afresh
        return pacer
