"""Vendor formats the loader reads: files without adj_close, Alpha Vantage's daily-adjusted
export (adjusted_close, dividend and split columns, rows newest first) and the float noise of
the yfinance stock files; each shipped format loads and malformed rows name their own line."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.data import load, load_many, load_sourced
from toolkit.errors import DataError, DataWarning

REPO = Path(__file__).resolve().parents[2]
AV = REPO / "data" / "daily" / "alphavantage"
AV_HEADER = (
    "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient\n"
)
# Oldest first; written newest first below, as Alpha Vantage does.
AV_ROWS = [
    "2020-01-02,10,11,9,10,9.5,100,0.0000,1.0",
    "2020-01-03,10,12,10,11,10.45,200,0.0000,1.0",
    "2020-01-06,11,11.5,10.5,11,10.45,150,0.5000,1.0",
    "2020-01-07,11,11.2,10.8,11.1,11.1,120,0.0000,1.0",
]


def _av(write_csv, rows: list[str]) -> Path:
    return write_csv(AV_HEADER + "\n".join(reversed(rows)) + "\n")


def test_shipped_sector_etf_stock_and_alphavantage_files_load() -> None:
    xlk = load_sourced("XLK")
    assert xlk.frame.index[0] == pd.Timestamp("1998-12-22", tz="UTC")
    assert xlk.sources[0].record()["adjustment"].startswith("total return")
    abt = load_sourced("ABT")  # no adj_close column: prices as stored, and the record says so
    assert list(abt.frame.columns) == ["open", "high", "low", "close", "volume"]
    assert abt.sources[0].adjustment == "as stored (no adj_close column)"
    raw = pd.read_csv(REPO / "data" / "daily" / "ABT.csv")
    assert abt.frame["close"].iloc[-1] == raw["close"].iloc[-1]
    gld = load(AV / "GLD.csv", adjust="none")
    assert gld.index.is_monotonic_increasing and gld.index.is_unique
    assert (gld.index[0], gld.index[-1]) == (
        pd.Timestamp("2004-11-18", tz="UTC"),
        pd.Timestamp("2020-12-11", tz="UTC"),
    )
    assert len(gld) == 4045
    assert gld["close"].iloc[0] == 44.38  # the file's last line: 2004-11-18 ... close 44.38


def test_alphavantage_adjusted_close_is_used_for_total_return() -> None:
    """EWA paid dividends: the total-return close equals the file's adjusted_close, the raw
    close the file's close (checked on the first and last rows of the file itself)."""
    src = pd.read_csv(AV / "EWA.csv")
    tr = load(AV / "EWA.csv")
    raw = load(AV / "EWA.csv", adjust="none")
    first, last = src.iloc[-1], src.iloc[0]  # newest first in the file
    assert tr["close"].iloc[0] == pytest.approx(first["adjusted_close"], rel=1e-12)
    assert raw["close"].iloc[0] == first["close"]
    assert tr["close"].iloc[-1] == pytest.approx(last["adjusted_close"], rel=1e-12)
    factor = first["adjusted_close"] / first["close"]
    assert factor < 0.6  # 21 years of dividends: raw and adjusted differ a lot
    assert tr["open"].iloc[0] == pytest.approx(first["open"] * factor, rel=1e-12)


def test_newest_first_reads_as_the_same_bars_oldest_first(write_csv) -> None:
    down_path = _av(write_csv, AV_ROWS)
    down = load(down_path, cache_dir=down_path.parent / "c1")
    up_path = write_csv(AV_HEADER + "\n".join(AV_ROWS) + "\n", name="UP.csv")
    up = load(up_path, cache_dir=up_path.parent / "c2")
    pd.testing.assert_frame_equal(down, up)
    assert list(down.index.day) == [2, 3, 6, 7]
    # hand check: total return scales by adjusted_close/close; 2020-01-03 factor 0.95
    assert down["close"].tolist() == pytest.approx([9.5, 10.45, 10.45, 11.1], rel=1e-15)
    assert down["high"].iloc[1] == pytest.approx(12 * 0.95, rel=1e-15)


@pytest.mark.parametrize(
    ("index", "bad", "message"),
    [
        # written newest first: AV_ROWS[3] is line 2, AV_ROWS[0] line 5
        (3, "2020-01-07,11,11.2,10.8,,11.1,120,0.0000,1.0", "line 2: missing or non-numeric close"),
        (1, "2020-01-03,10,12,10,11,10.45,200,-1,1.0", "line 4: negative dividend_amount"),
        (0, "2020-01-02,10,11,9,10,9.5,100,0.0000,0", "line 5: zero or negative split_coeff"),
        (
            1,
            "2020-01-08,10,12,10,11,10.45,200,0.0000,1.0",
            # lines 2-5 read 01-07, 01-06, 01-08, 01-02: line 3 is older than the line after it
            "line 3: timestamp earlier than the row after it (the file's rows run newest first)",
        ),
    ],
)
def test_malformed_row_of_a_newest_first_file_names_its_own_line(
    write_csv, index: int, bad: str, message: str
) -> None:
    rows = list(AV_ROWS)
    rows[index] = bad
    path = _av(write_csv, rows)
    with pytest.raises(DataError) as err:
        load(path, cache_dir=path.parent / "cache")
    text = str(err.value)
    assert message in text and str(path) in text, text
    assert "\n" not in text


def test_split_day_jump_is_expected_and_other_jumps_are_named(write_csv) -> None:
    """A 4:1 split quarters the raw prices: no warning on the split day (split_coefficient 4),
    the same jump on a day without a recorded split is named."""
    rows = [
        "2020-01-02,100,101,99,100,25,100,0.0000,1.0",
        "2020-01-03,25,25.5,24.5,25,25,200,0.0000,4.0",
        "2020-01-06,25,25.5,24.5,25.5,25.5,150,0.0000,1.0",
    ]
    path = _av(write_csv, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        split = load(path, cache_dir=path.parent / "cache", adjust="none")
    assert split["close"].tolist() == [100, 25, 25.5]
    assert load(path, cache_dir=path.parent / "cache")["close"].tolist() == [25, 25, 25.5]
    rows[1] = rows[1].replace(",4.0", ",1.0")
    path = _av(write_csv, rows)
    with pytest.warns(DataWarning, match=r"2020-01-03 \(open x0.25, high x0.255, low x0.245, clo"):
        load(path, cache_dir=path.parent / "cache2", adjust="none")


def test_float_noise_beyond_high_low_is_mended_but_a_real_excess_is_refused(write_csv) -> None:
    """The yfinance stock files carry closes one ulp above the high (ABT line 91)."""
    line = (REPO / "data" / "daily" / "ABT.csv").read_text().splitlines()[90]
    assert line == (
        "2006-02-16,13.48698516096511,13.597332954406737,13.352114687911156,"
        "13.597332954406738,9645060"
    )
    header = "date,open,high,low,close,volume\n"
    path = write_csv(header + line + "\n")
    bar = load(path, cache_dir=path.parent / "cache", adjust="none")
    assert bar["high"].item() == bar["close"].item() == 13.597332954406738
    excess = line.replace("13.597332954406738,", "13.5973330,")  # 5e-9 above the high
    path = write_csv(header + excess + "\n", name="EXCESS.csv")
    with pytest.raises(DataError, match=r"line 2: open/close outside the high-low range"):
        load(path, cache_dir=path.parent / "cache")


_price = st.floats(min_value=0.5, max_value=1e4, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bars=st.lists(st.tuples(_price, _price, _price, _price), min_size=2, max_size=30),
    newest_first=st.booleans(),
    bad=st.one_of(st.none(), st.tuples(st.integers(0, 29), st.sampled_from(["close", "low"]))),
)
def test_any_order_loads_the_same_bars_and_a_bad_cell_names_its_line(
    tmp_path_factory, bars, newest_first: bool, bad
) -> None:
    """Property: a valid table reads the same oldest or newest first; a corrupted cell
    raises an error naming the line it is on in the file as written."""
    tmp = tmp_path_factory.mktemp("order")
    rows = []
    for i, (a, b, c, d) in enumerate(bars):
        day = (pd.Timestamp("2001-01-01") + pd.Timedelta(days=i)).strftime("%Y-%m-%d")
        hi, lo = max(a, b, c, d), min(a, b, c, d)
        rows.append([day, repr(a), repr(hi), repr(lo), repr(d), repr(d), "10", "0", "1"])
    written = rows[::-1] if newest_first else rows
    where = None
    if bad is not None and bad[0] < len(rows):
        where = bad[0]
        written[where][1 + ["open", "high", "low", "close"].index(bad[1])] = "-1"
    path = tmp / "P.csv"
    path.write_text(AV_HEADER + "".join(",".join(r) + "\n" for r in written))
    if where is not None:
        with pytest.raises(DataError, match=rf"P.csv: line {where + 2}: zero or negative"):
            load(path, cache_dir=tmp / "cache", jump_factor=None)
        return
    out = load(path, cache_dir=tmp / "cache", adjust="none", jump_factor=None)
    assert out.index.is_monotonic_increasing
    np.testing.assert_array_equal(out["close"].to_numpy(), [float(r[4]) for r in rows])
    np.testing.assert_array_equal(out["high"].to_numpy(), [float(r[2]) for r in rows])


def test_alphavantage_gld_agrees_with_the_yahoo_file_day_by_day() -> None:
    """Two vendors, opposite row orders, one fund: read in time order, their daily returns
    agree within 1e-4 on 99% of the 4,044 common days (a reversed or shifted series would
    not); 14 days differ by more than 0.1% (2006, 2007, 2011: e.g. 2006-06-09's close is
    59.76 in one and 60.45 in the other)."""
    av = load(AV / "GLD.csv")["close"]
    yahoo = load("GLD")["close"]
    common = av.index.intersection(yahoo.index)
    assert len(common) == len(av) == 4045
    diff = (av[common].pct_change() - yahoo[common].pct_change()).dropna().abs()
    assert (diff <= 1e-4).mean() > 0.99
    assert (diff > 1e-3).sum() == 14


def test_alphavantage_pairs_load_as_one_panel_in_time_order() -> None:
    """The two classic pairs' files (each newest first) align into one (field, symbol) panel
    on their common dates, oldest first, named by file stem."""
    panel = load_many([AV / "GLD.csv", AV / "GDX.csv", AV / "EWA.csv", AV / "EWC.csv"])
    assert list(panel["close"].columns) == ["GLD", "GDX", "EWA", "EWC"]
    assert panel.index.is_monotonic_increasing and len(panel) == 3667  # GDX's 2006-05-22 on
    assert panel.index[0] == pd.Timestamp("2006-05-22", tz="UTC")
