"""A live parent's schedule is toolkit.execution's, fed with what the session knows at the
decision: the VWAP cap sized on a forecast of each minute's volume (the profile's share of the
lookback sessions' average day), checked here against the minute file by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.data import calendar
from toolkit.errors import DataError
from toolkit.execution import pov, twap, vwap
from toolkit.live._parent_plan import (
    check_supported,
    history_duration,
    plan,
    pov_so_far,
    window_minutes,
)
from toolkit.live._startup import LiveError
from toolkit.live.execution_config import ExecutionSpec

MINUTES = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"
START = pd.Timestamp("2024-03-20 13:30", tz="UTC")
END = pd.Timestamp("2024-03-20 14:00", tz="UTC")


@pytest.fixture(scope="module")
def rth() -> pd.DataFrame:
    bars = tk.load(MINUTES, adjust="none")
    return bars[calendar.in_regular_hours(pd.DatetimeIndex(bars.index))]


@pytest.fixture(scope="module")
def history(rth: pd.DataFrame) -> pd.DataFrame:
    return rth[rth.index < START]  # what a session knows before the window opens


def test_pov_known_minute_by_minute_is_the_backtests_pov(rth: pd.DataFrame) -> None:
    spec = ExecutionSpec("pov", end="+30min", params={"rate": 0.0002})
    window = rth[(rth.index >= START) & (rth.index < END)]
    full = pov(400, window, 0.0002)  # the execution backtest's call, lag 1
    assert len(full) >= 4 and full.quantity.sum() == 400
    for now in ("13:30", "13:31", "13:34", "13:34:30", "13:59"):
        t = pd.Timestamp(f"2024-03-20 {now}", tz="UTC")
        done = rth[rth.index + pd.Timedelta("1min") <= t]  # the minutes complete at t
        so_far = pov_so_far(spec, 400, START, END, done, t)
        known = full.time <= t.tz_localize(None).to_datetime64()
        np.testing.assert_array_equal(so_far.time, full.time[known])
        np.testing.assert_array_equal(so_far.quantity, full.quantity[known])


def test_twap_is_the_library_twap_on_the_window(history: pd.DataFrame) -> None:
    spec = ExecutionSpec("twap", end="+30min", params={"size_jitter": 0.3, "seed": 7})
    got = plan(spec, 1000, START, END, None)
    want = twap(1000, START, END, 30, size_jitter=0.3, seed=7)
    np.testing.assert_array_equal(got.quantity, want.quantity)
    np.testing.assert_array_equal(got.time, want.time)
    assert got.quantity.sum() == 1000 and len(window_minutes(START, END)) == 30


def test_vwap_cap_uses_a_forecast_of_each_minutes_volume(history: pd.DataFrame) -> None:
    spec = ExecutionSpec("vwap", end="+30min", params={"lookback": 5, "max_pct_vol": 0.01})
    got = plan(spec, 200_000, START, END, history)
    # by hand: the 5 sessions before the 20th, each minute's share averaged, times their
    # average regular-session volume
    local = history.index.tz_convert(calendar.NEW_YORK)
    days = sorted(set(local.date))[-5:]
    day_volume = np.array([history["volume"][local.date == d].sum() for d in days])
    minute = (local.hour - 9) * 60 + local.minute - 30
    shares = np.zeros(390)
    for d, total in zip(days, day_volume, strict=True):
        on = local.date == d
        np.add.at(shares, minute[on], history["volume"][on].to_numpy() / total)
    shares /= 5
    forecast = shares[:30] / shares.sum() * day_volume.mean()
    cap = np.floor(0.01 * forecast).astype(int)
    assert (got.quantity <= cap[got.bar]).all()
    assert got.remaining == 200_000 - got.quantity.sum() > 0  # the cap binds: the rest unplaced
    np.testing.assert_array_equal(got.quantity, cap[got.bar])
    # without a cap: vwap() on the window with the hand-made profile
    free = plan(
        ExecutionSpec("vwap", end="+30min", params={"lookback": 5}), 500, START, END, history
    )
    window = pd.DataFrame({"volume": 0.0}, index=window_minutes(START, END))
    want = vwap(500, window, shares / shares.sum())
    np.testing.assert_array_equal(free.quantity, want.quantity)
    np.testing.assert_array_equal(free.time, want.time)


def test_short_history_and_unsupported_algos_are_refused(history: pd.DataFrame) -> None:
    spec = ExecutionSpec("vwap", end="+30min", params={"lookback": 60})
    with pytest.raises(DataError, match="60-session volume profile needs 60 sessions"):
        plan(spec, 100, START, END, history)
    assert history_duration(spec) == "90 D"
    with pytest.raises(LiveError, match=r"strategy s: execution algo 'iceberg' is not worked"):
        check_supported([("s", ExecutionSpec("iceberg", params={"display_size": 100}))])
    with pytest.raises(LiveError, match=r"set \[strategies.execution\] lag = 1"):
        check_supported([("s", ExecutionSpec("pov", end="+30min", params={"lag": 0}))])
    check_supported([("s", ExecutionSpec("pov", end="+30min"))])
    check_supported([("s", ExecutionSpec("ib_vwap", end="+30min"))])  # the broker's: fine
