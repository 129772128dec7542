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


FIELD_NAMES = ("open", "high", "low", "close", "volume")


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 6),
    m=st.integers(1, 3),
    cell=st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from(FIELD_NAMES)),
    value=st.sampled_from([0.0, -1.0, np.nan, np.inf, -np.inf, 0.5, 1.0, 2.0, 3.0, 1e300]),
)
def test_the_one_pass_value_check_agrees_with_the_numpy_checks(n, m, cell, value) -> None:
    # the numba pass that lets good bars through must refuse exactly what the numpy checks
    # (which name the problem) refuse: one cell of consistent bars set to an edge value
    from toolkit.engine._bars import _values_ok

    a = {
        f: np.full((n, m), x) for f, x in zip(FIELD_NAMES, (1.5, 2.0, 1.0, 1.5, 100.0), strict=True)
    }
    i, j, f = cell
    a[f][i % n, j % m] = value
    o, h, lo, c, v = (a[f] for f in FIELD_NAMES)
    with np.errstate(invalid="ignore"):
        fine = bool(
            all((np.isfinite(x) & (x > 0)).all() for x in (o, h, lo, c))
            and (np.isfinite(v) & (v >= 0)).all()
            and (h >= np.maximum(o, c)).all()
            and (lo <= np.minimum(o, c)).all()
        )
    assert _values_ok(a) == fine


def test_bars_changed_in_place_are_checked_again(good) -> None:
    # nothing about a frame is remembered between runs: a price zeroed in place after a
    # first run is refused by the next one
    bars = good.copy()
    first = tk.backtest(bars, "sma_cross", PARAMS)
    bars.iloc[300, bars.columns.get_loc("close")] = 0.0
    with pytest.raises(DataError, match="close missing, zero or negative"):
        tk.backtest(bars, "sma_cross", PARAMS)
    bars.iloc[300, bars.columns.get_loc("close")] = good["close"].iloc[300]
    again = tk.backtest(bars, "sma_cross", PARAMS)
    pd.testing.assert_series_equal(again.equity, first.equity)


def test_the_fast_path_gives_the_panel_path_arrays(good) -> None:
    # one-symbol float bars skip building the panel's frames; same arrays, symbol and index
    # as the general path, whatever the column order or a non-float volume
    from toolkit.engine._bars import as_panel, bar_arrays, bars_of

    for bars in (
        good,
        good[["volume", "close", "open", "low", "high"]],
        good.astype({"volume": int}),
    ):
        b = bars_of(bars)
        expected = bar_arrays(as_panel(bars))
        assert b.symbols == ["SPY"] and b.index.equals(good.index)
        for f in FIELD_NAMES:
            np.testing.assert_array_equal(b.arrays[f], expected[f])
            assert b.arrays[f].flags.c_contiguous and not b.arrays[f].flags.writeable


def test_the_panel_fast_path_gives_the_panel_path_arrays() -> None:
    # (field, symbol) bars are gated from one copy of their values: same arrays (writable,
    # as before, so numba compiles nothing new), symbols and index as the panel's frames,
    # whatever the column order, an extra field or an int volume; a symbol missing from one
    # field still gets the panel path's error
    from toolkit.engine._bars import as_panel, bar_arrays, bars_of

    panel = tk.load_many(["SPY", "QQQ", "TLT"], start="2019-01-01", end="2020-12-31")
    shuffled = panel[panel.columns[::-1]]
    extra = pd.concat([panel, pd.concat({"vwap": panel["close"]}, axis=1)], axis=1)
    ints = panel.astype({("volume", "QQQ"): int})
    for bars in (panel, shuffled, extra, ints):
        b = bars_of(bars)
        close = as_panel(bars)["close"]
        expected = bar_arrays(as_panel(bars))
        assert b.symbols == list(close.columns) and b.index.equals(close.index)
        for f in FIELD_NAMES:
            np.testing.assert_array_equal(b.arrays[f], expected[f])
            assert b.arrays[f].flags.c_contiguous and b.arrays[f].flags.writeable
    missing = panel.drop(columns=[("high", "TLT")])
    with pytest.raises(Exception) as fast:
        bars_of(missing)
    with pytest.raises(Exception) as slow:
        bar_arrays(as_panel(missing))
    assert type(fast.value) is type(slow.value) and str(fast.value) == str(slow.value)
