"""Which historical-data requests cover a span: IB's bar sizes, the longest duration each may
ask for, and the chunks (endDateTime, durationStr) of a fetch.

IB's step sizes (TWS API guide, "Historical Data Limitations",
https://interactivebrokers.github.io/tws-api/historical_limitations.html): a request must
return "only a few thousand bars", and the guide's table gives the bar sizes valid for each
duration -- 60 S: 1 sec-1 min; 120 S: 1 sec-2 mins; 1800 S: 1 sec-30 mins; 3600 S: 5 secs-1
hour; 14400 S: 10 secs-3 hours; 28800 S: 30 secs-8 hours; 1 D: 1 min-1 day; 2 D: 2 mins-1 day;
1 W: 3 mins-1 week; 1 M: 30 mins-1 month; 1 Y: 1 day-1 month. :data:`MAX_DURATION` is, for
each bar size, the longest duration of that table it appears under. ADJUSTED_LAST is served
only up to now (an endDateTime is refused: erdewit/ib_insync#504), so it is one request whose
duration reaches back to the start (``"26 Y"`` of daily bars; ib_async's docstring uses
``"10 Y"``); for intraday bars that one request may not exceed the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from toolkit.data import calendar
from toolkit.errors import DataError

# IB bar size -> (count, unit) of the longest duration the step-size table allows
MAX_DURATION: dict[str, tuple[int, str]] = {
    "1 secs": (1800, "S"),
    "5 secs": (3600, "S"),
    "10 secs": (14400, "S"),
    "15 secs": (14400, "S"),
    "30 secs": (28800, "S"),
    "1 min": (1, "D"),
    "2 mins": (2, "D"),
    "3 mins": (1, "W"),
    "5 mins": (1, "W"),
    "10 mins": (1, "W"),
    "15 mins": (1, "W"),
    "20 mins": (1, "W"),
    "30 mins": (1, "M"),
    "1 hour": (1, "M"),
    "2 hours": (1, "M"),
    "3 hours": (1, "M"),
    "4 hours": (1, "M"),
    "8 hours": (1, "M"),
    "1 day": (1, "Y"),
}
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "ADJUSTED_LAST")
_SHORT = re.compile(r"^\s*(\d+)\s*(s|sec|secs|min|mins|m|h|hour|hours|d|day)\s*$", re.I)


def bar_size(text: str) -> str:
    """IB's bar size for ``text``: IB's own (``"1 day"``, ``"5 mins"``) or a short form
    (``1d``, ``1min``, ``5min``, ``1h``, ``30s``)."""
    if text in MAX_DURATION:
        return text
    m = _SHORT.match(text)
    if m:
        n, unit = int(m.group(1)), m.group(2).lower()
        if unit in ("s", "sec", "secs"):
            ib = f"{n} secs"
        elif unit in ("min", "mins", "m"):
            ib = "1 min" if n == 1 else f"{n} mins"
        elif unit in ("h", "hour", "hours"):
            ib = "1 hour" if n == 1 else f"{n} hours"
        else:
            ib = f"{n} day"
        if ib in MAX_DURATION:
            return ib
    raise DataError(
        f"bar size {text!r} is not one IB serves; use 1d, 1h/2h/3h/4h/8h, "
        "1min/2min/3min/5min/10min/15min/20min/30min or 1s/5s/10s/15s/30s "
        "(weekly and monthly bars: fetch 1d and resample)."
    )


def short_label(ib_bar: str) -> str:
    """The bar size as written in file names: ``1d``, ``5min``, ``1h``, ``30s``."""
    n, unit = ib_bar.split()
    return n + {"secs": "s", "min": "min", "mins": "min", "hour": "h", "hours": "h"}.get(unit, "d")


def bar_length(ib_bar: str) -> pd.Timedelta:
    """How long one intraday bar of IB's size lasts (``"30 secs"``: 30 s; ``"2 hours"``)."""
    n, unit = ib_bar.split()
    seconds = {"secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600, "day": 86400}
    return pd.Timedelta(seconds=int(n) * seconds[unit])


def span(count: int, unit: str) -> pd.Timedelta | pd.DateOffset:
    """A duration as the simulator and IB measure it back from the end."""
    if unit == "S":
        return pd.Timedelta(seconds=count)
    if unit == "D":
        return pd.Timedelta(days=count)
    if unit == "W":
        return pd.Timedelta(weeks=count)
    return pd.DateOffset(months=count if unit == "M" else 12 * count)


@dataclass(frozen=True)
class Chunk:
    """One request: ``end`` None means now (IB's empty endDateTime)."""

    end: pd.Timestamp | None
    duration: str


def _has_session(lo: pd.Timestamp, hi: pd.Timestamp, use_rth: bool) -> bool:
    """True when the trading hours of a New York trading day overlap (lo, hi]: the regular
    session, or 04:00-20:00 New York with extended hours."""
    for day in calendar.trading_days(calendar.local_date(lo), calendar.local_date(hi)):
        if use_rth:
            opens, closes = calendar.session_open(day), calendar.session_close(day)
        else:
            midnight = pd.Timestamp(day).tz_localize(calendar.NEW_YORK)
            opens = (midnight + pd.Timedelta(hours=4)).tz_convert("UTC")
            closes = (midnight + pd.Timedelta(hours=20)).tz_convert("UTC")
        if opens < hi and closes > lo:
            return True
    return False


def plan(
    bar: str, what: str, start: pd.Timestamp, now: pd.Timestamp, use_rth: bool = True
) -> list[Chunk]:
    """The requests that cover bars labelled in ``(start, now]``, oldest first.

    TRADES and MIDPOINT step forward from ``start`` by the longest allowed duration, the last
    chunk ending now; chunks of a week or less that hold no trading hours are skipped.
    ADJUSTED_LAST is one request ending now.
    """
    count, unit = MAX_DURATION[bar]
    if what == "ADJUSTED_LAST":
        if unit == "Y":
            years = 1
            while now - pd.DateOffset(years=years) > start:
                years += 1
            return [Chunk(None, f"{years} Y")]
        if now - span(count, unit) > start:
            raise DataError(
                f"ADJUSTED_LAST {bar} bars come in one request ending now (IB refuses an end "
                f"date with them), at most {count} {unit} for this bar size, which does not "
                f"reach back to {start:%Y-%m-%d %H:%M} UTC. Fetch TRADES for longer intraday "
                "history, or daily ADJUSTED_LAST bars."
            )
        return [Chunk(None, f"{count} {unit}")]
    step = span(count, unit)
    short = isinstance(step, pd.Timedelta) and step <= pd.Timedelta(weeks=1)
    out: list[Chunk] = []
    end = start + step
    while end < now:
        if not short or _has_session(end - step, end, use_rth):
            out.append(Chunk(pd.Timestamp(end), f"{count} {unit}"))
        end = end + step
    out.append(Chunk(None, f"{count} {unit}"))
    return out
