"""IB Gateway's daily restart, simulated: at a configured local time the gateway closes every
client connection and stops listening for a window, then listens again on the same port.

What a client sees is what it sees of IB Gateway (its auto-restart, "Lock and Exit" settings,
default around 23:45 New York): the API socket closes without a goodbye (ib_async reports a
disconnect), and connects are *refused* (ECONNREFUSED: the restarting Java process has no
listener) until the restart is over; orders working at IB, executions and positions survive
it (they live at IB's servers, here in the simulator's book). So the port is closed, not
accept-and-close.

Times are simulated: the restart starts when the simulated clock crosses ``at`` and ends
``window`` later. A lockstep rehearsal (the live bridge's embedded simulator) holds its clock
at the restart's start so no bar is released meanwhile, keeps the port closed for
``window / speed`` wall seconds but at least ``min_wall`` (so the client really meets the
refusals), then moves the clock past the window and leaves it held until the client is back
and has acted -- a rehearsal at 10^7 x would otherwise run days ahead while it reconnects.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import pandas as pd

from toolkit.errors import ConfigError
from toolkit.gateway.market import SimClock

NEW_YORK = "America/New_York"


@dataclass(frozen=True)
class DailyRestart:
    """When the simulated gateway restarts each day and for how long (simulated time)."""

    at: dt.time = dt.time(23, 45)
    window: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(minutes=5))
    tz: str = NEW_YORK
    min_wall: float = 1.0  # seconds the port stays closed at least (lockstep only)

    @classmethod
    def parse(cls, at: str, window: str = "5min", min_wall: float = 1.0) -> DailyRestart:
        """From ``HH:MM`` (New York) and a duration such as ``5min``; bad text is named."""
        try:
            when = dt.time.fromisoformat(at)
        except ValueError:
            raise ConfigError(
                f"daily restart time {at!r}: expected HH:MM in New York time, e.g. 23:45"
            ) from None
        try:
            length = pd.Timedelta(window)
            good = pd.Timedelta(0) < length < pd.Timedelta(hours=23)
        except ValueError:
            good = False
        if not good:
            raise ConfigError(
                f"daily restart window {window!r}: expected a duration under 23 hours, e.g. 5min"
            )
        return cls(when, length, NEW_YORK, min_wall)

    def next_after(self, now: pd.Timestamp) -> pd.Timestamp:
        """The first restart strictly after ``now`` (UTC)."""
        local = now.tz_convert(self.tz)
        day = local.normalize().tz_localize(None)
        for k in range(3):
            start = (day + pd.Timedelta(days=k)).replace(
                hour=self.at.hour, minute=self.at.minute, second=self.at.second
            )
            at = start.tz_localize(self.tz, nonexistent="shift_forward", ambiguous=False)
            if at > local:
                return at.tz_convert("UTC")
        raise AssertionError("unreachable: a restart within three days")


class Restarts:
    """The restart schedule of one gateway, stepped by its matcher after every tick."""

    def __init__(self, spec: DailyRestart, clock: SimClock, lockstep: bool) -> None:
        self.spec = spec
        self.clock = clock
        self.lockstep = lockstep
        self.next_at = spec.next_after(clock.now())
        self.down_at: pd.Timestamp | None = None  # simulated start of the restart under way
        self._down_wall = 0.0
        self.count = 0  # restarts begun

    @property
    def down(self) -> bool:
        return self.down_at is not None

    @property
    def until(self) -> pd.Timestamp | None:
        """When the restart under way ends (simulated), None when up."""
        return None if self.down_at is None else self.down_at + self.spec.window

    def hold(self) -> None:
        """Lockstep: never run past the next restart (the clock stops there), and stay put
        while it is under way (a client's late resume must not run it)."""
        if self.lockstep and self.down:
            self.clock.pause()
        elif self.lockstep:
            ceiling = self.clock.ceiling
            if ceiling is None or ceiling > self.next_at:
                self.clock.hold_at(self.next_at)

    def begins(self) -> bool:
        """True when the clock has reached the next restart (then it is under way)."""
        if self.down or self.clock.now() < self.next_at:
            return False
        self.down_at = self.next_at
        self._down_wall = time.monotonic()
        self.count += 1
        if self.lockstep:
            self.clock.pause()
        return True

    def ends(self) -> bool:
        """True when the restart under way is over (then the gateway listens again)."""
        if self.down_at is None:
            return False
        waited = time.monotonic() - self._down_wall
        if self.lockstep:
            if waited < max(self.spec.window.total_seconds() / self.clock.speed,
                            self.spec.min_wall):  # fmt: skip
                return False
            self.clock.pause()
            self.clock.hold_at(None)
            self.clock.advance(self.down_at + self.spec.window - self.clock.now())
        elif self.clock.now() < self.down_at + self.spec.window:
            return False
        self.next_at = self.spec.next_after(self.clock.now())
        self.down_at = None
        return True
