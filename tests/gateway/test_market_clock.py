"""The simulated clock's ceiling (lockstep): once the clock has stopped at its ceiling it
stays there, even when a client resumes it, until the matcher sets the next ceiling -- a
resume that came before the bar at the ceiling was released let the clock run free past every
later bar (a rehearsal's parent then sent its children hours late)."""

from __future__ import annotations

import time

import pandas as pd

from toolkit.gateway.market import SimClock

T0 = pd.Timestamp("2024-03-20 13:39", tz="UTC")


def test_a_resume_at_the_ceiling_does_not_run_past_it() -> None:
    clock = SimClock(T0, speed=8_640_000.0)  # a simulated day per 10 ms of wall time
    ceiling = T0 + pd.Timedelta(minutes=1)
    clock.hold_at(ceiling)
    time.sleep(0.01)
    assert clock.now() == ceiling and clock.paused_at == ceiling  # stopped exactly there
    clock.resume()  # the lockstep client, before the matcher released the bar at 13:40
    time.sleep(0.01)
    assert clock.now() == ceiling  # still there: not a day later
    nxt = ceiling + pd.Timedelta(minutes=1)
    clock.hold_at(nxt)  # the matcher released the bar and set the next ceiling
    clock.resume()
    time.sleep(0.01)
    assert clock.now() == nxt


def test_a_ceiling_behind_the_clock_is_ignored() -> None:
    clock = SimClock(T0, speed=1.0, paused=True)
    clock.hold_at(T0 + pd.Timedelta(seconds=30))
    clock.advance(pd.Timedelta(hours=1))  # a test fast-forwards past it
    clock.resume()
    assert clock.now() >= T0 + pd.Timedelta(hours=1)
