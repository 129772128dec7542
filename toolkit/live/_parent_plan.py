"""A live parent's schedule: :mod:`toolkit.execution`'s own functions called with what the
session knows when it decides (no second copy of any schedule rule).

* ``twap``: :func:`toolkit.execution.twap` over the working window, one slice per window
  minute unless ``slices`` says otherwise (the execution backtest's default), with the
  config's ``min_size`` and seeded jitter;
* ``pov``: :func:`toolkit.execution.pov` with ``lag = 1`` on the window's minutes so far, each
  child sized from the previous minute's volume as that minute ends: the children are known
  one minute at a time (:func:`pov_so_far`), and equal the execution backtest's on the same
  minutes (a live POV cannot use ``lag = 0``, the minute's own volume, before it trades);
* ``vwap``: :func:`toolkit.execution.vwap` on the window's minutes with the causal
  :func:`toolkit.execution.volume_profile` of the ``lookback`` sessions before the traded one,
  from the session's 1-minute history. Its participation cap (``max_pct_vol``) needs each
  bar's volume before the bar trades: a live plan passes a forecast, the profile's share of
  the minute times the lookback sessions' average volume (the module docstring of
  :mod:`toolkit.execution.vwap`); the execution backtest passes the realised volume, so the
  two agree exactly without a cap and differ only where a minute's volume departs from its
  forecast.

``iceberg`` and ``adaptive_limit`` show or price each child from what happens while the
parent works (the fills of the shown tranche, the quote): they are not worked live yet and a
session refuses them at start (:func:`check_supported`), as it refuses a POV with ``lag = 0``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from toolkit.data.calendar import NEW_YORK
from toolkit.errors import DataError
from toolkit.execution import ChildOrders, pov, sessions, twap, volume_profile, vwap
from toolkit.live._startup import LiveError
from toolkit.live.execution_config import ExecutionSpec

LIVE_ALGOS = ("twap", "vwap", "pov")  # our schedules a live session works child by child


def check_supported(specs: Iterable[tuple[str, ExecutionSpec]]) -> None:
    """Refuse a session whose slot asks for one of our schedules not worked live yet."""
    for label, spec in specs:
        if spec.ours and spec.algo not in LIVE_ALGOS:
            raise LiveError(
                f"strategy {label}: execution algo {spec.algo!r} is not worked by the live "
                f"bridge yet (it works {', '.join(LIVE_ALGOS)}; IB's own algos ib_twap, "
                "ib_vwap, ib_adaptive, ib_iceberg go to the broker); change "
                "[strategies.execution] algo."
            )
        if spec.algo == "pov" and spec.param("lag") == 0:
            raise LiveError(
                f"strategy {label}: a live POV cannot size a child from its own minute's volume "
                "before the minute trades; set [strategies.execution] lag = 1."
            )


def history_duration(spec: ExecutionSpec) -> str:
    """The IB duration of 1-minute history a slot's schedule needs (a VWAP profile's
    ``lookback`` sessions in calendar days, with room for weekends and holidays)."""
    lookback = int(spec.param("lookback") or 1) if spec.algo == "vwap" else 1
    return f"{lookback * 7 // 5 + 6} D"


def window_minutes(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The starts of the 1-minute bars in [start, end) (a start inside a minute: the next)."""
    first = start.ceil("1min")
    return pd.date_range(first, end, freq="1min", inclusive="left", tz="UTC", name="time")


def plan(
    spec: ExecutionSpec,
    quantity: int,
    start: pd.Timestamp,
    end: pd.Timestamp,
    minutes: pd.DataFrame | None,
    later: bool = False,
) -> ChildOrders:
    """The children of a ``quantity``-share parent worked over [start, end) by ``spec``'s
    schedule; ``minutes``: the 1-minute bars completed before the window (regular hours, a UTC
    index, a ``volume`` column), which the VWAP profile is read from. Raises
    :class:`DataError` when the window has no minute or the history is too short. ``later``:
    no children yet (a POV, or a VWAP waiting for its minute history), only the checks."""
    grid = window_minutes(start, end)
    if grid.empty:
        raise DataError(f"the working window {start} .. {end} holds no whole minute")
    if later:
        return _none(quantity)
    if spec.algo == "twap":
        slices = spec.param("slices")
        seed = spec.param("seed")
        return twap(
            quantity,
            start,
            end,
            int(slices) if slices is not None else len(grid),
            min_size=int(spec.param("min_size") or 1),
            time_jitter=float(spec.param("time_jitter") or 0.0),
            size_jitter=float(spec.param("size_jitter") or 0.0),
            seed=None if seed is None else int(seed),
        )
    if spec.algo == "vwap":
        if minutes is None or minutes.empty:
            raise DataError("a VWAP schedule needs the 1-minute history of past sessions")
        day = grid[0].tz_convert(NEW_YORK).date()
        past = minutes[minutes.index < grid[0]][["open", "high", "low", "close", "volume"]]
        # the traded session's row on the grid (its minutes unknown yet: no volume)
        today = pd.DataFrame(
            {"open": np.nan, "high": np.nan, "low": np.nan, "close": np.nan, "volume": 0.0},
            index=grid[:1],
        )
        lookback = int(spec.param("lookback") or 20)
        profile = volume_profile(sessions(pd.concat([past, today])), day, lookback)
        cap = spec.param("max_pct_vol")
        window = pd.DataFrame({"volume": _forecast(past, profile, grid, lookback)}, index=grid)
        return vwap(quantity, window, profile, max_pct_vol=None if cap is None else float(cap))
    if spec.algo == "pov":  # known one minute at a time: pov_so_far
        return _none(quantity)
    raise DataError(f"execution algo {spec.algo!r} is not worked live (see check_supported)")


def pov_so_far(
    spec: ExecutionSpec,
    quantity: int,
    start: pd.Timestamp,
    end: pd.Timestamp,
    minutes: pd.DataFrame | None,
    now: pd.Timestamp,
) -> ChildOrders:
    """A POV parent's children up to the minute in progress at ``now``:
    :func:`toolkit.execution.pov` (lag 1) on the window's minutes started by then, the minute
    in progress with no volume yet (its child is sized from the minute before)."""
    grid = window_minutes(start, end)
    grid = grid[grid <= now]
    volume = (
        np.zeros(len(grid))
        if minutes is None or minutes.empty
        else minutes["volume"].reindex(grid).fillna(0.0).to_numpy(float)
    )
    if grid.empty:
        return plan(spec, quantity, start, end, None)
    return pov(
        quantity, pd.DataFrame({"volume": volume}, index=grid), float(spec.param("rate") or 0.05)
    )


def _forecast(
    past: pd.DataFrame, profile: np.ndarray, grid: pd.DatetimeIndex, lookback: int
) -> np.ndarray:
    """Each window minute's expected volume: its profile share times the average regular-
    session volume of the last ``lookback`` past sessions."""
    days = sessions(past)
    totals = days.volume.sum(axis=1)
    mean = float(totals[totals > 0][-lookback:].mean())
    local = grid.tz_convert(NEW_YORK)
    minute = np.asarray((local.hour - 9) * 60 + local.minute - 30)
    return np.asarray(profile[minute] * mean)


def _none(quantity: int) -> ChildOrders:
    """No children (yet) of a ``quantity``-share parent."""
    return ChildOrders(
        quantity,
        np.array([], "datetime64[ns]"),
        np.array([], np.int64),
        np.array([], np.int64),
        np.array([], str),
        np.array([], float),
    )
