"""The exchange calendar (toolkit.data.calendar): NYSE sessions against exchange_calendars'
XNYS, early closes and holidays by name, IB's bar sizes, and exchange dates of bars and
date-only bounds as properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toolkit.data import calendar
from toolkit.data.calendar import bounds_mask, is_date_only, session_days

NY = "America/New_York"
# minutes since 2024-01-01 00:00 UTC across a year (both DST switches)
minutes = st.lists(st.integers(0, 366 * 24 * 60), min_size=1, max_size=200, unique=True)
days = st.dates(dt.date(2023, 12, 30), dt.date(2025, 1, 2))


def _index(mins: list[int]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(
        pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(sorted(mins), unit="min")
    )


@settings(max_examples=200, deadline=None)
@given(minutes, days, days)
def test_date_only_bounds_select_whole_new_york_dates(mins: list[int], a: dt.date, b: dt.date):
    # stamps all at midnight UTC are daily bars by convention (dated in UTC, tested below)
    assume(any(m % (24 * 60) for m in mins))
    idx = _index(mins)
    start, end = min(a, b), max(a, b)
    local = [t.tz_convert(NY).date() for t in idx]
    expected = np.array([start <= d <= end for d in local])
    got = bounds_mask(idx, start.isoformat(), end.isoformat(), NY)
    np.testing.assert_array_equal(got, expected)
    # a date object means the same as its ISO string
    np.testing.assert_array_equal(bounds_mask(idx, start, end, NY), expected)


@settings(max_examples=200, deadline=None)
@given(minutes, st.integers(0, 366 * 24 * 60))
def test_bounds_with_a_time_are_instants(mins: list[int], cut: int) -> None:
    idx = _index(mins)
    t = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=cut)
    naive = t.tz_localize(None).isoformat()  # a naive time is UTC
    np.testing.assert_array_equal(bounds_mask(idx, naive, None), idx >= t)
    np.testing.assert_array_equal(bounds_mask(idx, None, t.tz_convert(NY)), idx <= t)


def test_daily_stamps_keep_their_date_and_date_only_detection() -> None:
    daily = pd.date_range("2024-03-08", periods=5, freq="D", tz="UTC")
    assert list(session_days(daily, "Asia/Tokyo") - session_days(daily, NY)) == [0] * 5
    assert is_date_only("2024-05-17") and is_date_only(dt.date(2024, 5, 17))
    assert not is_date_only("2024-05-17 00:00") and not is_date_only(pd.Timestamp("2024-05-17"))


# exchange_calendars' own use of Series.values under pandas 3, not ours
@pytest.mark.filterwarnings("ignore:Series.values returning:Warning")
def test_sessions_equal_exchange_calendars_xnys_1993_to_2026() -> None:
    # the independent oracle: exchange_calendars (dev extra), the calendars zipline used
    import exchange_calendars as xc

    xnys = xc.get_calendar("XNYS", start="1993-01-01", end="2026-12-31")
    schedule = xnys.schedule
    theirs = [d.date() for d in schedule.index]
    ours = calendar.trading_days(dt.date(1993, 1, 1), dt.date(2026, 12, 31))
    assert ours == theirs  # every holiday and every unscheduled closing
    opens = [calendar.session_open(d) for d in ours]
    closes = [calendar.session_close(d) for d in ours]
    assert opens == list(schedule["open"].dt.tz_convert("UTC"))
    assert closes == list(schedule["close"].dt.tz_convert("UTC"))  # early closes at 13:00
    early = {d for d in ours if calendar.close_time(d) == dt.time(13, 0)}
    assert early == {d.date() for d in xnys.early_closes}
    assert len(early) == 75  # the comparison covers all of them (none would pass too)


def test_holidays_and_early_closes_by_name() -> None:
    assert not calendar.is_trading_day(dt.date(2024, 3, 29))  # Good Friday
    assert not calendar.is_trading_day(dt.date(2024, 7, 4))
    assert not calendar.is_trading_day(dt.date(2025, 1, 9))  # Jimmy Carter's day of mourning
    assert not calendar.is_trading_day(dt.date(2022, 12, 26))  # Christmas on a Sunday
    assert calendar.is_trading_day(dt.date(2021, 12, 31))  # New Year on a Saturday: open
    assert calendar.next_trading_day(dt.date(2024, 3, 28)) == dt.date(2024, 4, 1)
    assert calendar.previous_trading_day(dt.date(2024, 7, 5)) == dt.date(2024, 7, 3)
    for day in ("2024-07-03", "2024-11-29", "2024-12-24", "2013-07-03"):
        assert calendar.close_time(dt.date.fromisoformat(day)) == dt.time(13, 0), day
    # 13:00 New York in winter is 18:00 UTC
    assert calendar.session_close(dt.date(2024, 11, 29)) == pd.Timestamp("2024-11-29 18:00Z")
    assert calendar.session_close(dt.date(2024, 11, 27)) == pd.Timestamp("2024-11-27 21:00Z")


def test_a_day_after_its_early_close_is_over() -> None:
    friday = pd.Timestamp("2024-11-29 18:30Z")  # 13:30 New York, after the 13:00 close
    assert calendar.last_closed_day(friday) == dt.date(2024, 11, 29)
    assert calendar.last_closed_day(pd.Timestamp("2024-11-29 17:59Z")) == dt.date(2024, 11, 27)
    assert calendar.working_day(friday) == dt.date(2024, 12, 2)
    assert calendar.working_day(pd.Timestamp("2024-11-29 17:59Z")) == dt.date(2024, 11, 29)
    assert calendar.next_open_day(pd.Timestamp("2024-03-28 14:00Z")) == dt.date(2024, 4, 1)
    # regular hours of 1-minute bars end at the early close
    idx = pd.date_range("2024-11-29 14:29Z", "2024-11-29 21:00Z", freq="1min")
    rth = idx[calendar.in_regular_hours(idx)]
    assert rth[0] == pd.Timestamp("2024-11-29 14:30Z") and rth[-1] == pd.Timestamp(
        "2024-11-29 17:59Z"
    )
    assert not calendar.in_regular_hours(pd.DatetimeIndex([pd.Timestamp("2024-03-29 15:00Z")]))[0]


def test_ib_bar_sizes() -> None:
    from toolkit.live.config import BAR_SIZES as LIVE_BAR_SIZES

    assert set(LIVE_BAR_SIZES) <= set(calendar.BAR_SIZES)  # live streams IB's sizes
    assert calendar.bar_length("5 mins") == dt.timedelta(minutes=5)
    assert calendar.bar_length("1 hour") == dt.timedelta(hours=1)
    assert calendar.BAR_SIZES["1 day"] == "1D" and calendar.BAR_SIZES["1 secs"] is None
