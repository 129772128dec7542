"""The embedded simulator of a rehearsal and its lockstep clock: started paused, it stops at
each new bar's release and runs on once the session has acted and its orders are acknowledged.
The session sees the simulator's clock only through :class:`ClockPort`, which the embedded
gateway implements; it never reaches into the simulator's state.
"""

from __future__ import annotations

import asyncio
import time

import pandas as pd

from toolkit.engine.commissions import Commission
from toolkit.gateway import Gateway
from toolkit.live import bars as livebars
from toolkit.live._state import SessionState
from toolkit.live.orders import OrderRef


class Rehearsal(SessionState):
    """Start the embedded gateway and release its clock bar by bar."""

    def _start_gateway(self) -> None:
        sim = self.cfg.simulator
        first = self.cfg.strategies[0].run.engine
        self.gateway = Gateway(
            port=0,
            start=pd.Timestamp(sim.start, tz="UTC") if sim.start else None,
            speed=sim.speed,
            cash=sim.cash,
            participation=sim.participation,
            commission=first.commission,  # orders that are none of the strategies'
            slippage_bps=first.slippage_bps,
            costs=self._costs_of,  # each strategy's own, as in its backtest
            paused=True,  # runs once the session has connected, loaded history and decided
            lockstep=True,  # and holds at each new bar until the session has acted on it
        ).start()
        self.sim_clock = self.gateway
        self.host, self.port = "127.0.0.1", self.gateway.port
        if sim.end is not None:
            end = pd.Timestamp(sim.end)
            end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
            self.until = (
                livebars.bar_end(end.normalize(), "1 day") if end == end.normalize() else end
            )
        self.log(
            f"embedded gateway simulator on 127.0.0.1:{self.port} "
            f"(replaying data/ from {self.sim_clock.clock.start:%Y-%m-%d %H:%M} UTC "
            f"at {sim.speed:g}x)"
        )

    def _costs_of(self, ref: str) -> tuple[Commission, float] | None:
        """The commission schedule and slippage (a fraction) of the strategy whose order
        ``ref`` is (None: not one of this session's); the simulator asks from its thread,
        and the config it reads never changes."""
        try:
            parsed = OrderRef.parse(ref)
        except ValueError:
            return None
        if parsed.session != self.sid:
            return None
        engine = self._engines.get(parsed.strategy)
        return None if engine is None else (engine.commission, engine.slippage_bps / 1e4)

    def _unstick_clock(self) -> None:
        """Fallback: a clock held over 2 s at the same instant (a symbol whose bar never
        came) runs again."""
        gw = self.sim_clock
        if gw is None or not gw.paused:
            self._held = None
            return
        at = gw.clock.paused_at
        if self._held is None or self._held[0] != at:
            self._held = (at, time.monotonic())
        elif time.monotonic() - self._held[1] > 2.0:
            gw.resume()
            self._held = None
            self.unstuck += 1

    async def _release_clock(self, newest: dict[str, set[pd.Timestamp]]) -> None:
        """Embedded rehearsal: once every strategy has acted on the newest bars (``newest``:
        each strategy's last complete bar per symbol) and the broker has acknowledged the
        orders, let the simulated clock run again."""
        gw = self.sim_clock
        if gw is None or not gw.paused:
            return
        if len(self.streams) < sum(len(slot.symbols) for slot in self.cfg.strategies):
            return  # still subscribing
        held = gw.held_bar
        if held is not None and not any(
            len(st) and livebars.bar_label(st[-1].date) >= held for st in self.streams.values()
        ):
            return  # the bar it holds for is still on its way to us
        for slot in self.cfg.strategies:
            labels = newest.get(slot.label, set())
            if len(labels) > 1:
                return  # a symbol's bar is still in flight: wait for it (the loop has a fallback)
            decided = self.last_decided.get(slot.label)
            if labels and (decided is None or decided < min(labels)):
                return  # not acted on yet
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(
            t.orderStatus.status in ("PendingSubmit", "ApiPending") for t in self.trades.values()
        ):
            await asyncio.sleep(0.005)
        gw.resume()
