"""Malformed bar files: each problem raises a DataError naming file, line and remedy;
``repair=`` drops or fixes the rows and reports how many."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.data import load
from toolkit.errors import DataError

HEADER = "date,open,high,low,close,volume\n"
GOOD = [
    "2024-01-02,10,11,9,10.5,100",
    "2024-01-03,10.5,12,10,11,200",
    "2024-01-04,11,11.5,10.5,11.2,150",
    "2024-01-05,11.2,11.8,11,11.4,120",
]


def _file(write_csv, rows: list[str]) -> Path:
    return write_csv(HEADER + "\n".join(rows) + "\n")


def _load(path: Path, **kw):
    return load(path, cache_dir=path.parent / "cache", **kw)


@pytest.mark.parametrize(
    ("row_index", "bad_row", "message"),
    [
        (1, "2024-13-45,10.5,12,10,11,200", r"line 3: unparseable date"),
        (2, "2024-01-04,11,11.5,10.5,,150", r"line 4: missing or non-numeric close"),
        (2, "2024-01-04,11,11.5,10.5,abc,150", r"line 4: missing or non-numeric close"),
        (1, "2024-01-03,0,12,10,11,200", r"line 3: zero or negative open"),
        (3, "2024-01-05,11.2,11.8,-11,11.4,120", r"line 5: zero or negative low"),
        (1, "2024-01-03,10.5,9,12,11,200", r"line 3: high below low"),
        (1, "2024-01-03,10.5,10.8,10,11,200", r"line 3: open/close outside the high-low range"),
        (2, "2024-01-04,11,11.5,10.5,11.2,-5", r"line 4: negative volume"),
        (2, "2024-01-03,11,11.5,10.5,11.2,150", r"line 4: duplicate timestamp"),
        (2, "2024-01-01,11,11.5,10.5,11.2,150", r"line 4: timestamp earlier than the row before"),
    ],
)
def test_each_problem_names_file_line_and_remedy(write_csv, row_index, bad_row, message) -> None:
    rows = list(GOOD)
    rows[row_index] = bad_row
    path = _file(write_csv, rows)
    with pytest.raises(DataError) as err:
        _load(path)
    text = str(err.value)
    assert str(path) in text
    assert re.search(message, text), text
    assert "repair='drop'" in text  # says what to do


def test_missing_column(write_csv) -> None:
    path = write_csv("date,open,high,low,volume\n2024-01-02,1,2,0.5,10\n")
    with pytest.raises(
        DataError, match=r"missing column close; found date, open, high, low, volume"
    ):
        _load(path)


def test_no_timestamp_column(write_csv) -> None:
    path = write_csv("day,open,high,low,close,volume\n2024-01-02,1,2,0.5,1,10\n")
    with pytest.raises(DataError, match=r"no timestamp column; expected one of timestamp"):
        _load(path)


@pytest.mark.parametrize("text", ["", "\n\n", HEADER])
def test_empty_file(write_csv, text: str) -> None:
    path = write_csv(text)
    with pytest.raises(DataError, match=r"(empty|no data rows)"):
        _load(path)


def test_many_bad_rows_are_summarised(write_csv) -> None:
    rows = [f"2024-02-{d:02d},10,11,9,{'x' if d % 2 else 10},1" for d in range(1, 21)]
    with pytest.raises(DataError, match=r"lines 2, 4, 6, 8, 10 \(and 5 more\)"):
        _load(_file(write_csv, rows))


def test_repair_drop_reports_counts(write_csv) -> None:
    rows = [*GOOD, "2024-01-08,11,10,12,11,1", "2024-01-05,11.2,11.8,11,11.4,120", "bad,1,1,1,1,1"]
    path = _file(write_csv, rows)
    with pytest.warns(
        UserWarning, match=r"repaired .*1 unparseable date.*1 high below low.*dropped 3 rows"
    ):
        df = _load(path, repair="drop")
    assert len(df) == 4
    assert df.index.is_unique and df.index.is_monotonic_increasing


def test_repair_fix_widens_high_low_and_sorts(write_csv) -> None:
    rows = [GOOD[2], GOOD[0], "2024-01-03,10.5,10.8,10,11,200", GOOD[3]]
    path = _file(write_csv, rows)
    with pytest.warns(UserWarning, match=r"open/close outside the high-low range"):
        df = _load(path, repair="fix")
    assert len(df) == 4
    assert df.index.is_monotonic_increasing
    assert df.loc["2024-01-03", "high"].item() == 11.0  # widened to the close


def test_invalid_repair_value(write_csv) -> None:
    with pytest.raises(DataError, match="repair='yes' is not valid"):
        _load(_file(write_csv, GOOD), repair="yes")


_prices = st.floats(min_value=0.01, max_value=1e5, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bars=st.lists(
        st.tuples(_prices, _prices, _prices, _prices, st.integers(min_value=0, max_value=10**9)),
        min_size=1,
        max_size=40,
    ),
)
def test_valid_bars_round_trip_exactly(tmp_path_factory, bars) -> None:
    """Property: any consistent OHLCV table written to CSV loads back unchanged."""
    tmp = tmp_path_factory.mktemp("rt")
    rows = []
    for i, (a, b, c, d, v) in enumerate(bars):
        lo, hi = min(a, b, c, d), max(a, b, c, d)
        day = pd.Timestamp("2000-01-03") + pd.Timedelta(days=i)
        rows.append((day.strftime("%Y-%m-%d"), a, hi, lo, d, v))
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    path = tmp / "RT.csv"
    frame.to_csv(path, index=False, float_format="%.17g")
    out = load(path, cache_dir=tmp / "cache", adjust="none")
    np.testing.assert_array_equal(out["open"].to_numpy(), frame["open"].to_numpy())
    np.testing.assert_array_equal(out["high"].to_numpy(), frame["high"].to_numpy())
    np.testing.assert_array_equal(out["volume"].to_numpy(), frame["volume"].to_numpy(float))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    row=st.integers(min_value=0, max_value=3),
    col=st.sampled_from(["open", "high", "low", "close"]),
    value=st.sampled_from(["", "nan", "-1", "0", "NaN", "inf", "1e999", "--"]),
)
def test_any_corrupted_price_is_caught(tmp_path_factory, row, col, value) -> None:
    """Property: replacing any price with a non-positive or non-finite token never loads silently."""
    tmp = tmp_path_factory.mktemp("bad")
    frame = pd.read_csv(pd.io.common.StringIO(HEADER + "\n".join(GOOD)), dtype=str)
    frame.loc[row, col] = value
    path = tmp / "BAD.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"line {row + 2}: "):
        load(path, cache_dir=tmp / "cache")
