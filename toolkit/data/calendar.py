"""The exchange's calendar, in one place: trading days, regular sessions, early closes and
holidays of the New York Stock Exchange, IB's bar sizes, and the exchange dates of bars.

Engine, gateway simulator, live bridge, risk limits and session replays ask this module
(nothing else knows that New York closes at 16:00, or at 13:00 on an early-close day, or that
Good Friday has no session). It is our own table, not a library's (why: the commit that made
it): NYSE Rule 7.2's holidays and the 13:00 early closes as rules, plus the closings no rule
knows. They hold from 1993 (the shipped SPY history starts in January 1993, the year the early
close moved from 14:00 to 13:00) on; before 1993 the same rules are applied, without that
era's 14:00 closes and older holidays. tests/data/test_calendar.py checks every session of
1993-2026 against exchange_calendars' XNYS (dev extra). To extend it: a new holiday or
early-close rule goes into :func:`holidays` / :func:`early_closes` from its first year; an
unscheduled closing (a national day of mourning, a storm) or a one-off early close goes into
``_CLOSED`` / ``_EARLY`` when the NYSE announces it
(https://www.nyse.com/markets/hours-calendars), and the test's end year moves on.

Daily bars are stamped at midnight UTC of their session date (the loader's convention), so
their date is the UTC date; intraday bars carry real instants, whose date is taken in the
exchange's time zone. A 20:00 New York bar on May 16 is 00:00 UTC on May 17, and still belongs
to May 16.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from toolkit.errors import DataError

NEW_YORK = "America/New_York"
EXCHANGE_TZ = NEW_YORK  # the shipped instruments' exchange
OPEN = time(9, 30)
CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)

# IB's bar sizes (reqHistoricalData's barSizeSetting) and the pandas frequency each is; None:
# built from ticks, which are not shipped. https://interactivebrokers.github.io/tws-api/
# historical_bars.html#hd_barsize
BAR_SIZES: dict[str, str | None] = {
    "1 secs": None,
    "5 secs": None,
    "1 min": "1min",
    "2 mins": "2min",
    "3 mins": "3min",
    "5 mins": "5min",
    "10 mins": "10min",
    "15 mins": "15min",
    "20 mins": "20min",
    "30 mins": "30min",
    "1 hour": "1h",
    "2 hours": "2h",
    "3 hours": "3h",
    "4 hours": "4h",
    "8 hours": "8h",
    "1 day": "1D",
    "1 week": "1W",
    "1 month": "1M",
}
DAILY_BAR_SIZES = ("1 day", "1 week", "1 month")  # a bar is one or more whole sessions

# Closings no rule knows (NYSE closings history): 9/11, presidents' funerals, Hurricane Sandy
_CLOSED = frozenset(
    date.fromisoformat(d)
    for d in (
        "1994-04-27",  # Richard Nixon
        "2001-09-11",
        "2001-09-12",
        "2001-09-13",
        "2001-09-14",
        "2004-06-11",  # Ronald Reagan
        "2007-01-02",  # Gerald Ford
        "2012-10-29",  # Hurricane Sandy
        "2012-10-30",
        "2018-12-05",  # George H. W. Bush
        "2025-01-09",  # Jimmy Carter
    )
)
# One-off 13:00 closes (the day after Christmas on a Friday, the eve of 2000)
_EARLY = frozenset(date.fromisoformat(d) for d in ("1997-12-26", "1999-12-31", "2003-12-26"))
_DAY_NS = 86_400_000_000_000
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}/\d{2}/\d{2}|\d{8}")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Monday 0) of the month; n = -1 for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Western Easter Sunday: the anonymous Gregorian algorithm (Meeus, Astronomical
    Algorithms, ch. 8)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _observed(day: date) -> date:
    """A fixed-date holiday on a weekend is observed on the Friday before or Monday after."""
    return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


@lru_cache(maxsize=256)
def holidays(year: int) -> frozenset[date]:
    """Weekdays of ``year`` without a session (NYSE Rule 7.2 and the closings above)."""
    days = {
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),  # Christmas
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() < 5:
        days.add(new_year)
    elif new_year.weekday() == 6:
        days.add(new_year + timedelta(days=1))  # on a Saturday it is not observed at all
    if year >= 1998:
        days.add(_nth_weekday(year, 1, 0, 3))  # Martin Luther King Jr. Day
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))  # Juneteenth
    days |= {d for d in _CLOSED if d.year == year}
    return frozenset(d for d in days if d.year == year and d.weekday() < 5)


@lru_cache(maxsize=256)
def early_closes(year: int) -> frozenset[date]:
    """Sessions of ``year`` that close at 13:00 New York: the day after Thanksgiving,
    Christmas Eve on a Monday-Thursday, and the day before Independence Day (since 1995; on a
    Friday July 5th instead until 2012, when July 4th was a Thursday)."""
    days = {_nth_weekday(year, 11, 3, 4) + timedelta(days=1)}
    eve = date(year, 12, 24)
    if eve.weekday() < 4:
        days.add(eve)
    if year >= 1995:
        july3 = date(year, 7, 3)
        if july3.weekday() in (0, 1, 3) or (july3.weekday() == 2 and year >= 2013):
            days.add(july3)
        if year < 2013 and date(year, 7, 5).weekday() == 4:
            days.add(date(year, 7, 5))
    days |= {d for d in _EARLY if d.year == year}
    return frozenset(d for d in days if d.weekday() < 5) - holidays(year)


def is_trading_day(day: date) -> bool:
    """True when the exchange holds a session on ``day``."""
    return day.weekday() < 5 and day not in holidays(day.year)


def next_trading_day(day: date) -> date:
    """The first trading day after ``day``."""
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def previous_trading_day(day: date) -> date:
    """The last trading day before ``day``."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def trading_days(start: date, end: date) -> list[date]:
    """Every trading day in ``[start, end]``."""
    out, day = [], start
    while day <= end:
        if is_trading_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def close_time(day: date) -> time:
    """The regular session's close on ``day`` in New York: 13:00 on an early-close day."""
    return EARLY_CLOSE if day in early_closes(day.year) else CLOSE


def _at(day: date, when: time) -> pd.Timestamp:
    local = pd.Timestamp(datetime.combine(day, when)).tz_localize(NEW_YORK)
    return local.tz_convert("UTC")


def session_open(day: date) -> pd.Timestamp:
    """The regular session's open on ``day`` (09:30 New York) as a UTC instant."""
    return _at(day, OPEN)


def session_close(day: date) -> pd.Timestamp:
    """The regular session's close on ``day`` (16:00 New York, 13:00 on an early-close day)
    as a UTC instant."""
    return _at(day, close_time(day))


def trading_date(ts: pd.Timestamp) -> date:
    """The exchange date of a bar: a daily bar's own date (midnight UTC), an intraday bar's
    New York date (naive stamps are UTC)."""
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts == ts.normalize():
        return ts.date()
    return ts.tz_convert(NEW_YORK).date()


def local_date(ts: pd.Timestamp) -> date:
    """The New York calendar date of an instant (naive stamps are UTC)."""
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.tz_convert(NEW_YORK).date()


def last_closed_day(now: pd.Timestamp) -> date:
    """The latest trading day whose regular session had closed by ``now``."""
    day = local_date(now)
    if not is_trading_day(day) or now < session_close(day):
        day = previous_trading_day(day)
    return day


def next_open_day(now: pd.Timestamp) -> date:
    """The trading day of the first opening auction after ``now`` (one at ``now`` itself is
    already under way): today's before 09:30 on a trading day, else the next session's."""
    day = local_date(now)
    if not is_trading_day(day) or now >= session_open(day):
        day = next_trading_day(day)
    return day


def working_day(now: pd.Timestamp) -> date:
    """The session an order placed at ``now`` works in: today's until its close (an
    early close included), the next one after it or on a day without a session."""
    day = local_date(now)
    if not is_trading_day(day) or now >= session_close(day):
        day = next_trading_day(day)
    return day


def bar_length(bar_size: str) -> timedelta:
    """How long an intraday bar of IB's ``bar_size`` lasts (``"5 mins"``: five minutes)."""
    rule = BAR_SIZES.get(bar_size)
    if rule is None or bar_size in DAILY_BAR_SIZES:
        raise ValueError(f"{bar_size!r} is not an intraday bar size")
    return pd.Timedelta(rule).to_pytimedelta()


def in_regular_hours(index: pd.DatetimeIndex) -> np.ndarray:
    """Which intraday bars start inside their day's regular session (09:30 to the close,
    13:00 on an early-close day), as IB's useRTH keeps them."""
    local = pd.DatetimeIndex(index).tz_convert(NEW_YORK)
    minutes = np.asarray(local.hour * 60 + local.minute)
    days = np.asarray(local.normalize().tz_localize(None).as_unit("s").asi8) // 86_400
    unique, at = np.unique(days, return_inverse=True)
    close = np.zeros(len(unique), dtype=np.int64)
    for j, n in enumerate(unique):
        day = date(1970, 1, 1) + timedelta(days=int(n))
        if is_trading_day(day):
            c = close_time(day)
            close[j] = c.hour * 60 + c.minute
    return np.asarray((minutes >= OPEN.hour * 60 + OPEN.minute) & (minutes < close[at]))


def check_zone(tz: str, what: str) -> str:
    """``tz`` if it names an IANA time zone, else a DataError saying which argument."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DataError(
            f"{what}={tz!r} is not a time zone; use an IANA name such as 'America/New_York'."
        ) from None
    return tz


def session_days(index: pd.DatetimeIndex, tz: str = EXCHANGE_TZ) -> np.ndarray:
    """Exchange date of each bar as whole days since 1970-01-01 (int64).

    All stamps at midnight UTC: daily bars, dated by their stamp. Otherwise each instant's
    date in ``tz`` (naive stamps are taken as UTC, as the loader does).
    """
    idx = pd.DatetimeIndex(index)
    ns = idx.as_unit("ns").asi8
    if len(ns) and not (ns % _DAY_NS).any():
        return np.asarray(ns // _DAY_NS, dtype=np.int64)
    utc = idx.tz_localize("UTC") if idx.tz is None else idx
    local = utc.tz_convert(tz).tz_localize(None)
    return np.asarray(local.normalize().as_unit("ns").asi8 // _DAY_NS, dtype=np.int64)


def is_date_only(value: object) -> bool:
    """True for a calendar date without a time of day: ``"2024-05-17"`` or a ``date``."""
    if isinstance(value, str):
        return _DATE_ONLY.fullmatch(value.strip()) is not None
    return isinstance(value, date) and not isinstance(value, datetime)


def bounds_mask(
    index: pd.DatetimeIndex,
    start: str | date | pd.Timestamp | None,
    end: str | date | pd.Timestamp | None,
    tz: str = EXCHANGE_TZ,
) -> np.ndarray:
    """Bars inside ``[start, end]``, both inclusive.

    A date-only bound is that exchange date, whole (from its first bar to its last, in
    ``tz``); a bound with a time is that instant (naive times are UTC).
    """
    idx = pd.DatetimeIndex(index)
    keep = np.ones(len(idx), dtype=bool)
    days: np.ndarray | None = None
    for bound, is_start in ((start, True), (end, False)):
        if bound is None:
            continue
        try:
            ts = pd.Timestamp(bound)
        except ValueError:
            raise DataError(
                f"{'start' if is_start else 'end'}={bound!r} is not a date or time; "
                "write it as 2024-05-17 or 2024-05-17 09:30-04:00."
            ) from None
        if is_date_only(bound):
            if days is None:
                days = session_days(idx, tz)
            day = int(ts.normalize().as_unit("ns").value // _DAY_NS)
            keep &= days >= day if is_start else days <= day
        else:
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            keep &= idx >= ts if is_start else idx <= ts
    return keep
