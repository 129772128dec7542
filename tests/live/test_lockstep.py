"""The rehearsal's lockstep release rule (toolkit.live._rehearsal): the clock held for a bar
runs on only once the session has decided with that bar.

The defect it pins: the release looked at the streams as they were after a look at them, so
bars that arrived while the look awaited the broker's time (and so were left out as not yet
complete) counted as acted on. The clock ran on, the decision on those bars went out after
the next open, and its fill came a bar late (tests/live/test_portfolio_guards.py failed in CI
under load, about 1 rehearsal in 15 with the machine busy). A look now releases the clock
only when the broker time it read is the instant the clock holds at."""

from __future__ import annotations

import asyncio

import pandas as pd

from toolkit.gateway import Gateway
from toolkit.live import _rehearsal
from toolkit.live._rehearsal import Lockstep, all_acted

FRI = pd.Timestamp("2023-02-17", tz="UTC")
THU = pd.Timestamp("2023-02-16", tz="UTC")


def test_a_look_from_before_the_hold_never_releases_the_clock() -> None:
    gw = _held_gateway()
    at = gw.clock.paused_at
    assert at is not None
    step = Lockstep(gw)
    # the look read the broker's time before Friday's bars were released: it decided on
    # Thursday's, which is all it saw -- but the clock now holds where Friday's went out
    asyncio.run(step.release(lambda held: True, lambda: False, looked_at=at - pd.Timedelta("1D")))
    assert gw.paused
    asyncio.run(step.release(lambda held: True, lambda: False, looked_at=at))
    assert not gw.paused  # a look at the held instant that acted releases it


def test_every_strategy_must_have_decided() -> None:
    newest = {"book": {FRI}, "other": {FRI}}
    assert all_acted(newest, {"book": FRI, "other": FRI})
    assert not all_acted(newest, {"book": FRI, "other": THU})  # one strategy still to act
    assert not all_acted(newest, {"book": FRI})  # one never decided


def test_symbols_on_different_bars_wait() -> None:
    # one symbol's Friday bar is in, another's is still in flight
    assert not all_acted({"book": {THU, FRI}}, {"book": FRI})


def test_a_strategy_with_no_complete_bar_yet_does_not_hold_the_others() -> None:
    assert all_acted({"book": {FRI}, "new": set()}, {"book": FRI})


class _Wall:
    """The wall clock the fallback reads, moved by the test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _held_gateway() -> Gateway:
    return Gateway(port=0, start="2023-02-17 21:30", speed=1.0, paused=True, lockstep=True)


def test_the_fallback_never_releases_the_clock_in_the_middle_of_a_look(monkeypatch) -> None:
    wall = _Wall()
    monkeypatch.setattr(_rehearsal.time, "monotonic", wall)
    gw = _held_gateway()
    step = Lockstep(gw)
    asyncio.run(step.release(lambda held: False, lambda: False))  # a look declined
    for _ in range(5):  # a look under way for 10 s of a loaded machine
        step.unstick(busy=True)
        wall.t += 2.5
    assert gw.paused and step.unstuck == 0


def test_the_fallback_waits_for_a_look_at_the_held_instant(monkeypatch) -> None:
    wall = _Wall()
    monkeypatch.setattr(_rehearsal.time, "monotonic", wall)
    gw = _held_gateway()
    step = Lockstep(gw)
    for _ in range(5):  # idle, but no look has seen the bars here yet
        step.unstick()
        wall.t += 2.5
    assert gw.paused and step.unstuck == 0
    asyncio.run(step.release(lambda held: False, lambda: False))  # the look declines
    step.unstick()
    wall.t += 1.0
    step.unstick()
    assert gw.paused  # not yet 2 s
    wall.t += 1.5
    step.unstick()
    assert not gw.paused and step.unstuck == 1  # a bar that never came: time runs on


# -- the rehearsal's end (Lockstep.may_end) --------------------------------------------------
# The defect it pins: a look read the end time with the clock stopped at the end's release and
# the bar not yet sent (the simulator sends it at its next step); the session stopped on that
# look and the last bar's orders were lost (tests/live/test_depth_rehearsal.py, CI under load).


def test_the_end_waits_for_the_bar_released_there(monkeypatch) -> None:
    wall = _Wall()
    monkeypatch.setattr(_rehearsal.time, "monotonic", wall)
    gw = _held_gateway()  # stopped at Friday's release; the simulator has not sent the bar
    at = gw.clock.paused_at
    assert at is not None and gw.held_bar is None
    step = Lockstep(gw)
    assert not step.may_end(at, lambda held: True)
    gw.state.held_bar = FRI  # the simulator's step sends it: the clock is held for it
    wall.t += 0.5
    assert not step.may_end(at, lambda held: held != FRI)  # not acted on yet
    assert step.may_end(at, lambda held: held == FRI)  # decided: the session may stop
    assert gw.paused  # and the clock stays at the end


def test_an_end_before_the_held_instant_or_a_running_clock_stops_at_once() -> None:
    gw = _held_gateway()
    at = gw.clock.paused_at
    assert at is not None
    step = Lockstep(gw)
    # held at a release after the end (a weekend's end, Monday's bar): that bar is not traded
    assert step.may_end(at - pd.Timedelta("1D"), lambda held: False)
    gw.resume()
    assert step.may_end(at, lambda held: False)  # time runs: nothing is held for the session


def _held_step(monkeypatch) -> tuple[_Wall, Gateway, pd.Timestamp, Lockstep]:
    """A held gateway, the instant it holds at and its lockstep, on a wall clock the test
    moves."""
    wall = _Wall()
    monkeypatch.setattr(_rehearsal.time, "monotonic", wall)
    gw = _held_gateway()
    at = gw.clock.paused_at
    assert at is not None
    return wall, gw, at, Lockstep(gw)


def test_a_bar_that_never_comes_holds_the_end_two_seconds(monkeypatch) -> None:
    wall, _, at, step = _held_step(monkeypatch)
    assert not step.may_end(at, lambda held: False)
    wall.t += 1.9
    assert not step.may_end(at, lambda held: False)
    wall.t += 0.2
    assert step.may_end(at, lambda held: False)


def test_a_wait_holds_the_clock_where_it_asked_once_the_bar_is_acted_on(monkeypatch) -> None:
    """A notebook's wait_until: the clock stays at the first held instant at or after the
    wait's time once the session has acted there -- the fallback never releases that hold --
    and runs on for a later wait or none."""
    wall, gw, at, step = _held_step(monkeypatch)
    step.hold(at - pd.Timedelta("1D"))  # a wait for a time the clock has passed: held here
    asyncio.run(step.release(lambda held: False, lambda: False, looked_at=at))
    assert gw.paused and step.holding is None  # not acted on yet: no hold, just waiting
    asyncio.run(step.release(lambda held: True, lambda: False, looked_at=at))
    assert gw.paused and step.holding == at
    for _ in range(5):  # idle for 12.5 s: no stuck clock, a deliberate hold
        step.unstick(busy=False)
        wall.t += 2.5
    assert gw.paused and step.unstuck == 0
    step.hold(at)  # the same instant again: stays
    assert gw.paused and step.holding == at
    step.hold(at + pd.Timedelta("1D"))  # a later wait: the clock runs to it
    assert not gw.paused and step.holding is None


def test_no_wait_no_hold() -> None:
    gw = _held_gateway()
    at = gw.clock.paused_at
    step = Lockstep(gw)
    step.hold(at)
    step.hold(None)  # wait() / no wait: the lockstep's own rule alone
    asyncio.run(step.release(lambda held: True, lambda: False, looked_at=at))
    assert not gw.paused and step.holding is None
