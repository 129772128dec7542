"""Bar sizes and the requests that cover a span (IB's step-size table)."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from toolkit.data import calendar
from toolkit.data._history_plan import (
    MAX_DURATION,
    bar_length,
    bar_size,
    plan,
    short_label,
    span,
)
from toolkit.errors import DataError

NOW = pd.Timestamp("2024-05-17 21:00", tz="UTC")


@pytest.mark.parametrize(
    ("text", "ib", "label"),
    [
        ("1d", "1 day", "1d"),
        ("1 day", "1 day", "1d"),
        ("1min", "1 min", "1min"),
        ("5min", "5 mins", "5min"),
        ("30 mins", "30 mins", "30min"),
        ("1h", "1 hour", "1h"),
        ("4h", "4 hours", "4h"),
        ("30s", "30 secs", "30s"),
    ],
)
def test_bar_sizes(text: str, ib: str, label: str) -> None:
    assert bar_size(text) == ib and short_label(ib) == label
    seconds = {"1d": 86400, "1min": 60, "5min": 300, "30min": 1800, "1h": 3600, "4h": 14400}
    assert bar_length(ib).total_seconds() == seconds.get(label, 30)


@pytest.mark.parametrize("text", ["7min", "1w", "1 month", "day", "2d"])
def test_bar_sizes_ib_does_not_serve_are_named(text: str) -> None:
    with pytest.raises(DataError, match="not one IB serves"):
        bar_size(text)


def test_daily_trades_step_a_year_and_end_now() -> None:
    start = pd.Timestamp("1999-12-31 23:59:59", tz="UTC")
    chunks = plan("1 day", "TRADES", start, NOW)
    assert len(chunks) == 25 and chunks[-1].end is None
    assert [c.duration for c in chunks] == ["1 Y"] * 25
    ends = [c.end for c in chunks[:-1]]
    assert ends[0] == start + pd.DateOffset(years=1) and ends[-1] < NOW
    # consecutive chunks meet: each covers (end - 1 Y, end], the last (NOW - 1 Y, NOW]
    for a, b in itertools.pairwise(ends):
        assert b - pd.DateOffset(years=1) == a
    assert NOW - pd.DateOffset(years=1) < ends[-1]


def test_minute_chunks_are_one_day_and_only_on_sessions() -> None:
    start = pd.Timestamp("2024-04-30 23:59:59", tz="UTC")
    rth = plan("1 min", "TRADES", start, NOW)
    days = calendar.trading_days(pd.Timestamp("2024-05-01").date(), NOW.date())
    assert len(rth) == len(days) == 13 and all(c.duration == "1 D" for c in rth)
    # with extended hours the Friday evening (to 20:00 New York = 00:00 UTC) is still asked
    assert len(plan("1 min", "TRADES", start, NOW, use_rth=False)) >= len(rth)


def test_adjusted_last_is_one_request_ending_now() -> None:
    [daily] = plan("1 day", "ADJUSTED_LAST", pd.Timestamp("2000-01-01", tz="UTC"), NOW)
    assert daily.end is None and daily.duration == "25 Y"
    assert NOW - pd.DateOffset(years=25) <= pd.Timestamp("2000-01-01", tz="UTC")
    [recent] = plan("1 min", "ADJUSTED_LAST", NOW - pd.Timedelta(hours=5), NOW)
    assert recent == type(recent)(None, "1 D")
    with pytest.raises(DataError, match="one request ending now"):
        plan("1 min", "ADJUSTED_LAST", NOW - pd.Timedelta(days=3), NOW)


def test_every_bar_size_has_a_duration_from_the_table() -> None:
    assert set(MAX_DURATION) >= {"1 min", "5 mins", "1 hour", "1 day"}
    for bar, (count, unit) in MAX_DURATION.items():
        assert unit in "SDWMY" and count > 0, bar
        assert span(count, unit) is not None


def test_the_least_time_a_fetch_takes_under_ibs_rules() -> None:
    from toolkit.data._pacing import Pacer, PacingRules
    from toolkit.data.ibkr_history import IbHistory

    client = IbHistory(None, Pacer(PacingRules()))  # type: ignore[arg-type]  # no requests made
    assert client.least_seconds(1) == 0.0
    assert client.least_seconds(26) == 10.0  # 5 per 2 s: the 26th goes after 5 bursts
    assert client.least_seconds(61) == 600.0  # the 61st waits for the first to be 10 min old
    assert client.least_seconds(252) == 4 * 600.0  # a year of 1-minute sessions: 40 min
    assert IbHistory(None).least_seconds(252) == 0.0  # type: ignore[arg-type]
