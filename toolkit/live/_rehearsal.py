"""A rehearsal: the embedded simulator and its lockstep clock. The simulator is started
paused; it stops at each new bar's release and runs on once the session has acted and its
orders are acknowledged. :class:`Lockstep` holds the simulator's clock through
:class:`~toolkit.live._clock.ClockPort` (which the embedded gateway implements, handed in by
whoever started it): it never reaches into the simulator's state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import pandas as pd

from toolkit.engine.commissions import Commission
from toolkit.gateway import Gateway
from toolkit.gateway._restart import DailyRestart
from toolkit.live import bars as livebars
from toolkit.live._clock import ClockPort
from toolkit.live._depth_sim import depth_replay
from toolkit.live.config import LiveConfig
from toolkit.live.orders import OrderRef


class StrategyCosts:
    """The commission schedule and slippage (a fraction) of the strategy whose order a ref
    is, as in its own backtest (None: not one of this session's). The simulator asks from
    its thread; the config read never changes."""

    def __init__(self, cfg: LiveConfig, session_id: str) -> None:
        self._sid = session_id
        self._engines = {s.label: s.run.engine for s in cfg.strategies}

    def __call__(self, ref: str) -> tuple[Commission, float] | None:
        try:
            parsed = OrderRef.parse(ref)
        except ValueError:
            return None
        if parsed.session != self._sid:
            return None
        engine = self._engines.get(parsed.strategy)
        return None if engine is None else (engine.commission, engine.slippage_bps / 1e4)


def start_simulator(cfg: LiveConfig, session_id: str) -> Gateway:
    """The embedded gateway of a rehearsal, started paused and in lockstep, billing each
    strategy's orders with its own costs."""
    sim = cfg.simulator
    first = cfg.strategies[0].run.engine
    return Gateway(
        port=0,
        start=pd.Timestamp(sim.start, tz="UTC") if sim.start else None,
        speed=sim.speed,
        cash=sim.cash,
        participation=sim.participation,
        commission=first.commission,  # orders that are none of the strategies'
        slippage_bps=first.slippage_bps,
        costs=StrategyCosts(cfg, session_id),  # each strategy's own, as in its backtest
        paused=True,  # runs once the session has connected, loaded history and decided
        lockstep=True,  # and holds at each new bar until the session has acted on it
        daily_restart=None
        if sim.daily_restart is None
        else DailyRestart.parse(sim.daily_restart, sim.restart_window),
        depth_replay=depth_replay(sim),  # [simulator] depth_replay: one symbol's LOBSTER book
    ).start()


def rehearsal_end(cfg: LiveConfig) -> pd.Timestamp | None:
    """The instant a rehearsal stops (``[simulator] end``; a bare date: its close)."""
    if cfg.simulator.end is None:
        return None
    end = pd.Timestamp(cfg.simulator.end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    return livebars.bar_end(end.normalize(), "1 day") if end == end.normalize() else end


def all_acted(newest: Mapping[str, set[pd.Timestamp]], decided: Mapping[str, pd.Timestamp]) -> bool:
    """Whether every strategy has decided on its newest bars (``newest``: its symbols' last
    complete bars per strategy label; ``decided``: its last decided bar)."""
    for label, bars in newest.items():
        if len(bars) > 1:
            return False  # a symbol's bar is still in flight (the loop has a fallback)
        done = decided.get(label)
        if bars and (done is None or done < min(bars)):
            return False  # not acted on yet
    return True


class Lockstep:
    """Releases the rehearsal's held clock once the session has acted on the bar it holds."""

    def __init__(self, clock: ClockPort) -> None:
        self.clock = clock
        self.unstuck = 0  # times the clock had to be released by the fallback
        self.ack_timeouts = 0  # times it ran on after 2 s without the orders' acknowledgement
        self._held: tuple[pd.Timestamp | None, float] | None = None
        self._refused: pd.Timestamp | None = None  # the held instant a look declined to release
        self._end_wait: float | None = None  # when may_end first found the end's bar pending
        self._hold_from: pd.Timestamp | None = None  # a wait's instant (see hold)
        self.holding: pd.Timestamp | None = None  # the instant the clock stays at for it

    def hold(self, when: pd.Timestamp | None) -> None:
        """Keep the clock at the first instant it stops at, at or after ``when``, once the
        session has acted on the bars released there and the broker has acknowledged its
        orders (a notebook's ``wait_until``: what it then shows is that instant's, not a bar
        or two later); None lets it run on. A hold at or after the instant held now keeps
        it; a later one lets the clock run to it."""
        self._hold_from = when
        if self.holding is not None and (when is None or when > self.holding):
            self.holding = None
            self.clock.resume()

    def unstick(self, busy: bool = False) -> None:
        """Fallback: a clock held over 2 s at the same instant although the session has
        looked at the bars there and is idle (``busy``: a look is under way) runs again --
        a symbol whose bar never came. A slow look under load never counts: releasing the
        clock in the middle of one sends its orders after the next open."""
        at = self.clock.clock.paused_at if self.clock.paused else None
        if at is None or busy or self._refused != at or self.holding is not None:
            self._held = None  # (a wait's hold is no stuck clock)
            return
        if self._held is None or self._held[0] != at:
            self._held = (at, time.monotonic())
        elif time.monotonic() - self._held[1] > 2.0:
            self.clock.resume()
            self._held = None
            self.unstuck += 1

    async def release(
        self,
        acted: Callable[[pd.Timestamp | None], bool],
        unacknowledged: Callable[[], bool],
        looked_at: pd.Timestamp | None = None,
    ) -> None:
        """Let the clock run again once ``acted(held bar)`` says the session has acted on
        the newest bars and the broker has acknowledged its orders (up to 2 s).

        ``looked_at``: the broker time the session's look at the streams read. A look from
        before the instant the clock holds at never releases it: the bars released there
        may have reached the streams while the look awaited that time, left out of its
        decisions as not yet complete -- releasing then sends their orders after the next
        open (fills a bar late; seen under load). IB's clock has whole seconds."""
        at = self.clock.clock.paused_at if self.clock.paused else None
        if at is None:
            return
        if looked_at is not None and looked_at < at.floor("s"):
            return  # a stale look: the next one (queued with the bars) decides
        if not acted(self.clock.held_bar):
            self._refused = at
            return
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and unacknowledged():
            await asyncio.sleep(0.005)
        if unacknowledged():
            self.ack_timeouts += 1
        if self._hold_from is not None and at >= self._hold_from:
            self.holding = at  # a wait's instant: the clock stays (hold)
            return
        self.clock.resume()

    def may_end(self, until: pd.Timestamp, acted: Callable[[pd.Timestamp | None], bool]) -> bool:
        """Whether a session whose broker time reached the rehearsal's end ``until`` may stop:
        not while the clock is held at or before the end for a bar the session has not
        acted on (``acted(held bar)``), nor while it has stopped at a release whose bar the
        simulator has yet to send. A look can read the end time before the end's bar
        reaches the session (the clock stops at the release, the simulator's next step sends
        the bar); stopping on that look lost the last bar's orders (CI, under load). A bar
        that never comes holds the end 2 s at most."""
        at = self.clock.clock.paused_at if self.clock.paused else None
        held = self.clock.held_bar
        if at is None or at > until or (held is not None and acted(held)):
            self._end_wait = None
            return True
        if self._end_wait is None:
            self._end_wait = time.monotonic()
        return time.monotonic() - self._end_wait > 2.0
