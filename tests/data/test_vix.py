"""Cboe VIX-family files: the shipped files' faults are handled by the documented policy
(holiday rows dropped, close-only and inconsistent rows flagged with NaN fields), and a
corrupt file is refused naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.data import load_vix, load_vix_sourced, vix_term_structure
from toolkit.errors import DataError

HEADER = "DATE,OPEN,HIGH,LOW,CLOSE\n"
GOOD = [
    "07/01/2024,12.9,13.1,12.3,12.22",  # close below low: range fault
    "07/02/2024,12.5,12.9,12.1,12.03",  # close below low too
    "07/03/2024,12.1,12.4,11.9,12.09",
    "07/04/2024,12.1,12.2,11.8,12.0",  # Independence Day: NYSE closed
    "07/05/2024,12.4,12.5,12.0,12.48",
    "07/08/2024,12.6,12.6,12.6,12.6",  # close only
    "07/09/2024,13.0,13.5,12.7,12.9",
    "07/10/2024,14.0,13.5,12.7,12.9",  # open above high
]


def _file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "VIX_History.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_the_policy_on_a_small_file(tmp_path: Path) -> None:
    frame, report = load_vix_sourced(_file(tmp_path, GOOD))
    assert list(frame.columns) == ["open", "high", "low", "close", "close_only", "range_fault"]
    assert pd.Timestamp("2024-07-04") not in frame.index and len(frame) == 7
    assert report.holiday_rows == ("2024-07-04",) and report.missing_days == ()
    row = frame.loc["2024-07-08"]
    assert row["close_only"] and np.isnan(row[["open", "high", "low"]].astype(float)).all()
    assert row["close"] == 12.6
    bad = frame.loc["2024-07-10"]
    assert bad["range_fault"] and np.isnan(bad["open"]) and bad["high"] == 13.5
    assert frame.loc["2024-07-01", ["open", "high", "low"]].isna().all()  # close outside
    assert frame["range_fault"].sum() == 3 == report.range_faults
    assert report.close_only == 1
    kept = load_vix(_file(tmp_path, GOOD), holidays="keep")
    assert pd.Timestamp("2024-07-04") in kept.index
    # a day missing from the file is reported, never filled
    _, report = load_vix_sourced(_file(tmp_path, [r for r in GOOD if "07/05" not in r]))
    assert report.missing_days == ("2024-07-05",) and "1 NYSE trading days missing" in str(report)


def test_shipped_files_faults_counted() -> None:
    vix, report = load_vix_sourced("VIX")
    assert len(report.holiday_rows) == 33 and "2004-06-11" in report.holiday_rows
    assert report.missing_days == ("1991-03-01", "1997-01-31", "1997-11-26", "1999-12-31")
    assert report.close_only == 505 and report.range_faults == 47
    assert vix.index[0] == pd.Timestamp("1990-01-02") and len(vix) == 9234 - 33
    assert vix.loc["2008-10-24", "close"] == 79.13  # the 2008 closing high
    assert vix["close"].notna().all() and vix.index.is_monotonic_increasing
    six = load_vix("vix6m")
    assert six.loc["2019-07-05", "range_fault"] and np.isnan(six.loc["2019-07-05", "high"])
    for name, close_only in (("VIX9D", 722), ("VIX3M", 0), ("VIX6M", 1488)):
        _, r = load_vix_sourced(name)
        assert r.close_only == close_only and r.holiday_rows == () and r.missing_days == ()


@pytest.mark.parametrize(
    ("index", "row", "message"),
    [
        (2, "2024-07-03,12.1,12.4,11.9,12.09", r"line 4: date '2024-07-03' is not MM/DD/YYYY"),
        (2, "07/03/2024,12.1,,11.9,12.09", r"line 4: high '' is empty or not a number"),
        (2, "07/03/2024,12.1,12.4,11.9,n/a", r"line 4: close 'n/a' is empty or not a number"),
        (2, "07/03/2024,12.1,12.4,-1,12.09", r"line 4: low -1 is not positive"),
        (2, "07/02/2024,12.1,12.4,11.9,12.09", r"line 4: date repeated"),
        (2, "06/28/2024,12.1,12.4,11.9,12.09", r"line 4: date earlier than the row before"),
    ],
)
def test_corrupt_rows_are_refused(tmp_path: Path, index: int, row: str, message: str) -> None:
    rows = list(GOOD)
    rows[index] = row
    with pytest.raises(DataError, match=message) as err:
        load_vix(_file(tmp_path, rows))
    assert "VIX_History.csv" in str(err.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing column low"):
        load_vix(_write(tmp_path, "DATE,OPEN,HIGH,CLOSE\n07/01/2024,1,2,1.5\n"))
    with pytest.raises(DataError, match=r"no data rows"):
        load_vix(_write(tmp_path, HEADER))
    with pytest.raises(DataError, match=r"file not found. Pass a path or one of VIX"):
        load_vix("VXV")
    with pytest.raises(DataError, match=r"holidays='skip' is not valid"):
        load_vix("VIX", holidays="skip")  # type: ignore[arg-type]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.csv"
    path.write_text(text)
    return path


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(*(st.integers(900, 9000) for _ in range(4))), min_size=1, max_size=30))
def test_flags_follow_the_values(tmp_path: Path, bars: list[tuple[int, int, int, int]]) -> None:
    days = pd.bdate_range("2019-01-02", periods=len(bars))
    rows = [
        f"{d:%m/%d/%Y},{o / 100},{h / 100},{lo / 100},{c / 100}"
        for d, (o, h, lo, c) in zip(days, bars, strict=True)
    ]
    frame, report = load_vix_sourced(_file(tmp_path, rows), holidays="keep")
    o, h, lo, c = (np.array([b[i] for b in bars]) / 100 for i in range(4))
    flat = (o == h) & (h == lo) & (lo == c)
    broken = (h < lo) | (c > h) | (c < lo)
    assert np.array_equal(frame["close"].to_numpy(), c)  # the close is always kept
    assert np.array_equal(frame["close_only"].to_numpy(), flat)
    assert np.array_equal(frame["high"].isna().to_numpy(), flat | broken)
    assert np.array_equal(frame["open"].isna().to_numpy(), flat | broken | (o > h) | (o < lo))
    ok = frame.dropna()
    assert (ok["low"] <= ok[["open", "close"]].min(axis=1)).all()
    assert (ok["high"] >= ok[["open", "close"]].max(axis=1)).all()
    assert report.close_only == int(flat.sum())


def test_term_structure_of_the_vix_family() -> None:
    frame = vix_term_structure()
    assert list(frame.columns) == ["VIX9D", "VIX", "VIX3M", "VIX6M", "contango"]
    assert frame.index[0] == pd.Timestamp("2011-01-04")  # VIX9D's first day
    assert frame.index[-1] == pd.Timestamp("2026-04-24")  # VIX6M's last day
    spike = frame.loc["2018-02-05"]  # backwardation: 9-day 59.34 > VIX 37.32 > 3M 28.13
    assert spike["VIX9D"] > spike["VIX"] > spike["VIX3M"] > spike["VIX6M"]
    assert spike["contango"] == pytest.approx(28.13 / 37.32)
    assert (frame["contango"] > 1).mean() > 0.9  # contango is the rule
