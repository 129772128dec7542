"""Exchange dates of bars and date-only bounds (toolkit.data._calendar), as properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toolkit.data._calendar import bounds_mask, is_date_only, session_days

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
