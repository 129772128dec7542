"""The simulator enforces IB's historical-data pacing rules (off unless asked for).

With ``Limits(history_pacing=PacingRules(...))`` every reqHistoricalData is checked against
the three rules of :mod:`toolkit.data._pacing` (identical request within 15 s, six or more for
one contract/exchange/whatToShow within 2 s, more than 60 in ten minutes, BID_ASK counting
twice) across all clients of the gateway, as IB counts them for the login, and a violation is
answered with IB's 162 "Historical Market Data Service error message:Historical data request
pacing violation" (the wording of IB's API users' guide). Every request counts, refused ones
too: a client that ignores the answer keeps violating.

This is a violation *detector* over the requests as they arrived, written apart from the
client's :class:`toolkit.data._pacing.Pacer` (which schedules), so a test that fetches
through it shows the client really paces rather than agreeing with itself. It is off by
default because the live bridge's reconnect replays its history requests, which IB paces
softly for bars above 30 seconds.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from toolkit.data._pacing import PacingRules
from toolkit.gateway.requests import HistoricalData

log = logging.getLogger("toolkit.gateway")

PACING_VIOLATION = "Historical data request pacing violation"


class HistoryPacing:
    """Counts historical-data requests and names the rule a new one breaks."""

    def __init__(self, rules: PacingRules, clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = rules
        self.clock = clock
        self.log: deque[tuple[float, tuple[object, ...], tuple[object, ...]]] = deque()
        self.violations = 0

    def check(self, burst: tuple[object, ...], identical: tuple[object, ...], weight: int) -> str:
        """Record a request; '' when it keeps the rules, else which rule it broke."""
        now = self.clock()
        r = self.rules
        horizon = max(r.window_seconds, r.identical_seconds, r.burst_seconds)
        while self.log and self.log[0][0] < now - horizon:
            self.log.popleft()
        in_window = sum(1 for t, _, _ in self.log if t > now - r.window_seconds)
        same = sum(1 for t, b, _ in self.log if b == burst and t > now - r.burst_seconds)
        repeat = any(i == identical and t > now - r.identical_seconds for t, _, i in self.log)
        for _ in range(weight):
            self.log.append((now, burst, identical))
        broken = ""
        if repeat:
            broken = f"identical request within {r.identical_seconds:g} s"
        elif same + weight > r.burst_max:
            broken = (
                f"{same + weight} requests for one contract and tick type within "
                f"{r.burst_seconds:g} s"
            )
        elif in_window + weight > r.window_max:
            broken = f"more than {r.window_max} requests within {r.window_seconds:g} s"
        if broken:
            self.violations += 1
        return broken


def history_refusal(pacing: HistoryPacing | None, con_id: int, r: HistoricalData) -> str:
    """Why IB would refuse this reqHistoricalData before looking at the data ('' if not):
    ADJUSTED_LAST with an endDateTime (IB serves adjusted bars only up to now; the client
    libraries say so: erdewit/ib_insync#504, wboayue/rust-ibapi#210), then pacing."""
    if r.what == "ADJUSTED_LAST" and r.end.strip():
        return (
            "End date not supported with adjusted last: request ADJUSTED_LAST with an "
            "empty endDateTime"
        )
    if pacing is None:
        return ""
    exchange = r.contract.exchange
    weight = 2 if r.what == "BID_ASK" else 1
    broken = pacing.check(
        (con_id, exchange, r.what),
        (con_id, exchange, r.what, r.end, r.duration, r.bar_size, r.use_rth, r.format_date),
        weight,
    )
    if broken:
        log.info("historical data pacing violation: %s", broken)
        return PACING_VIOLATION
    return ""
