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
from toolkit.execution import twap, vwap
from toolkit.live._parent_plan import check_supported, history_duration, plan, window_minutes
from toolkit.live._startup import LiveError
from toolkit.live.execution_config import ExecutionSpec

MINUTES = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"
START = pd.Timestamp("2024-03-20 13:30", tz="UTC")
END = pd.Timestamp("2024-03-20 14:00", tz="UTC")


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    bars = tk.load(MINUTES, adjust="none")
    rth = bars[calendar.in_regular_hours(pd.DatetimeIndex(bars.index))]
    return rth[rth.index < START]  # what a session knows before the window opens


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
    with pytest.raises(LiveError, match=r"strategy s: execution algo 'pov' is not worked"):
        check_supported([("s", ExecutionSpec("pov", end="+30min"))])
    check_supported([("s", ExecutionSpec("ib_vwap", end="+30min"))])  # the broker's: fine
