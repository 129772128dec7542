"""One input gate for bars: every entry point refuses the same bad bars with the same error.

Before, ``tk.sweep`` only checked for NaN: a zero price crashed its numba kernel and a
negative one returned rows as if nothing were wrong, while ``tk.backtest`` refused both.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toolkit as tk
from toolkit.analysis import stress
from toolkit.engine.backtest import month_ids
from toolkit.errors import DataError

GRID = {"fast": [3, 5], "slow": [10, 20]}
PARAMS = {"fast": 5, "slow": 20}


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return tk.load("SPY", start="2019-01-01", end="2020-12-31")


def _targets(bars: pd.DataFrame) -> pd.Series:
    return pd.Series(1.0, index=bars.index)


ENTRY_POINTS: dict[str, Callable[[pd.DataFrame], object]] = {
    "backtest": lambda b: tk.backtest(b, "sma_cross", PARAMS),
    "simulate": lambda b: tk.simulate(b, _targets(b)),
    "backtest_panel": lambda b: tk.backtest(
        pd.concat({"SPY": b}, axis=1).swaplevel(0, 1, axis=1), "sma_cross", PARAMS
    ),
    "sweep": lambda b: tk.sweep(b, "sma_cross", GRID, progress=False),
    "sweep_mapping": lambda b: tk.sweep({"SPY": b}, "sma_cross", GRID, progress=False),
    "walk_forward": lambda b: tk.walk_forward(b, "sma_cross", GRID, n_folds=2),
    "stress": lambda b: stress(b, "sma_cross", PARAMS, tk.EngineSettings(), noise_runs=1),
}


def _set(bars: pd.DataFrame, row: int, col: str, value: float) -> pd.DataFrame:
    out = bars.copy()
    out.iloc[row, out.columns.get_loc(col)] = value
    return out


FAULTS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str]] = {
    "zero close": (lambda b: _set(b, 300, "close", 0.0), "close missing, zero or negative"),
    "negative open": (lambda b: _set(b, 300, "open", -5.0), "open missing, zero or negative"),
    "nan high": (lambda b: _set(b, 300, "high", np.nan), "high missing, zero or negative"),
    "inf low": (lambda b: _set(b, 300, "low", np.inf), "low missing, zero or negative"),
    "negative volume": (lambda b: _set(b, 300, "volume", -1.0), "volume missing or negative"),
    "high below close": (
        lambda b: _set(b, 300, "high", b["close"].iloc[300] * 0.5),
        "high below open or close",
    ),
    "unsorted": (lambda b: b.iloc[[*range(300), 301, 300, *range(302, len(b))]], "increasing"),
    "repeated": (lambda b: b.iloc[[*range(301), 300, *range(301, len(b))]], "increasing"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_entry_point_refuses_bad_bars_with_the_same_error(good, fault) -> None:
    corrupt, expected = FAULTS[fault]
    bars = corrupt(good)
    messages = set()
    for name, call in ENTRY_POINTS.items():
        with pytest.raises(DataError) as err:
            call(bars)
        text = str(err.value)
        assert expected in text, (name, text)
        messages.add(text.replace("bars for asset", "bars for SPY"))
    # one gate: every entry point says exactly the same thing, naming the bar's time
    assert len(messages) == 1, messages
    assert str(good.index[300]) in messages.pop() or fault in ("unsorted", "repeated")


def test_the_error_names_symbol_field_and_time(good) -> None:
    panel = tk.load_many(["SPY", "QQQ"], start="2019-01-01", end="2020-12-31")
    panel.loc[panel.index[7], ("close", "QQQ")] = 0.0
    with pytest.raises(
        DataError, match=rf"bars for QQQ: close .* at {re.escape(str(panel.index[7]))}"
    ):
        tk.sweep(panel, "sma_cross", GRID, progress=False)


def test_good_bars_pass_every_entry_point(good) -> None:
    for call in ENTRY_POINTS.values():
        call(good)


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(-2_000_000_000, 4_000_000_000),
    step=st.sampled_from(["1min", "7h", "1D", "13D"]),
    n=st.integers(1, 400),
    tz=st.sampled_from([None, "UTC", "America/New_York"]),
)
def test_month_ids_are_the_calendar_month_of_each_bar(start, step, n, tz) -> None:
    # the commission tiers' month: equal to pandas' own year/month on any index
    idx = pd.date_range(pd.Timestamp(start, unit="s"), periods=n, freq=step)
    # bar times are instants: localise as UTC, then show them in the zone (no DST ambiguity)
    idx = idx.tz_localize("UTC").tz_convert(tz) if tz is not None else idx
    np.testing.assert_array_equal(month_ids(idx), np.asarray(idx.year * 12 + idx.month))
