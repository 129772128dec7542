"""toolkit.data.load / load_many on the shipped files: types, index, cache, alignment."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.data import (
    available_symbols,
    default_data_dir,
    load,
    load_many,
    load_many_sourced,
    load_sourced,
)
from toolkit.errors import DataError


def test_shipped_symbols_cover_issue_minimum() -> None:
    symbols = available_symbols()
    assert {"SPY", "QQQ"} <= set(symbols)
    assert len(symbols) >= 10


def test_load_returns_utc_float64_ohlcv() -> None:
    df = load("SPY")
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dt == np.float64 for dt in df.dtypes)
    assert isinstance(df.index, pd.DatetimeIndex) and str(df.index.tz) == "UTC"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert df.index[0] == pd.Timestamp("1993-01-29", tz="UTC")
    assert len(df) == 8222


def test_total_return_adjustment_uses_adj_close() -> None:
    raw = load("SPY", adjust="none")
    adj = load("SPY")
    src = pd.read_csv(Path(raw.attrs["source"]["path"]))
    # the last row's factor is 1; the first row is scaled by adj_close/close
    assert adj["close"].iloc[-1] == pytest.approx(raw["close"].iloc[-1], rel=1e-12)
    factor = src["adj_close"].iloc[0] / src["close"].iloc[0]
    assert adj["open"].iloc[0] == pytest.approx(raw["open"].iloc[0] * factor, rel=1e-12)
    assert adj["close"].iloc[0] == pytest.approx(src["adj_close"].iloc[0], rel=1e-12)


def test_start_end_are_inclusive() -> None:
    df = load("QQQ", start="2020-03-02", end="2020-03-06")
    assert [d.day for d in df.index] == [2, 3, 4, 5, 6]


def test_parquet_and_csv_read_the_same(tmp_path: Path) -> None:
    csv = load("AAPL", adjust="none")
    pq = tmp_path / "AAPL.parquet"
    pd.read_csv(Path(csv.attrs["source"]["path"])).to_parquet(pq)
    back = load(pq, adjust="none", cache_dir=tmp_path / "cache")
    pd.testing.assert_frame_equal(csv, back, check_freq=False)


def test_cache_written_and_reused(tmp_path: Path) -> None:
    src = Path(load("GLD").attrs["source"]["path"])
    copy = tmp_path / "GLD.csv"
    copy.write_bytes(src.read_bytes())
    cache = tmp_path / "cache"
    first = load(copy, cache_dir=cache)
    files = list(cache.glob("*.parquet"))
    assert len(files) == 1
    second = load(copy, cache_dir=cache)
    pd.testing.assert_frame_equal(first, second)
    # changing the file's content changes the key: the stale entry is not used
    text = src.read_text().splitlines()
    copy.write_text("\n".join(text[:-1]) + "\n")
    third = load(copy, cache_dir=cache)
    assert len(third) == len(first) - 1
    assert len(list(cache.glob("*.parquet"))) == 2


def test_load_many_aligns_on_common_calendar() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_many(["SPY", "QQQ", "AAPL"], start="2015-01-01")
    assert m.columns.names == ["field", "symbol"]
    assert list(m["close"].columns) == ["SPY", "QQQ", "AAPL"]
    # AAPL's file starts 2005 and ends 2025-10-08; the ETFs end 2025-09-26
    assert m.index[-1] == pd.Timestamp("2025-09-26", tz="UTC")
    assert not m.isna().any().any()
    assert m.index.equals(load("SPY", start="2015-01-01", end="2025-09-26").index)


def test_load_many_warns_when_calendars_disagree(tmp_path: Path) -> None:
    spy = pd.read_csv(Path(load("SPY").attrs["source"]["path"])).tail(30)
    spy.to_csv(tmp_path / "AAA.csv", index=False)
    spy.drop(spy.index[10]).to_csv(tmp_path / "BBB.csv", index=False)
    with pytest.warns(UserWarning, match="AAA: 1 bars inside the common range are missing"):
        m = load_many([tmp_path / "AAA.csv", tmp_path / "BBB.csv"], cache_dir=tmp_path / "c")
    assert len(m) == 29


def test_unknown_symbol_lists_available() -> None:
    with pytest.raises(DataError, match=r"unknown symbol 'ZZZZ'.*Available symbols: .*SPY"):
        load("ZZZZ")


def test_empty_date_range_is_an_error() -> None:
    with pytest.raises(DataError, match="no bars between 1980-01-01 and 1981-01-01"):
        load("SPY", start="1980-01-01", end="1981-01-01")


def test_intraday_offsets_become_utc() -> None:
    df = load(default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv")
    # 04:00 New York (EST, -05:00) is 09:00 UTC; after the DST switch 04:00 EDT is 08:00 UTC
    assert df.index[0] == pd.Timestamp("2024-02-20 09:00", tz="UTC")
    assert df.loc["2024-04-01"].index[0] == pd.Timestamp("2024-04-01 08:00", tz="UTC")
    assert len(df) == 49720


def test_sources_travel_beside_the_frame_not_in_attrs() -> None:
    loaded = load_many_sourced(["SPY", "QQQ"], start="2020-01-01", end="2020-12-31")
    assert [s.symbol for s in loaded.sources] == ["SPY", "QQQ"]
    for s in loaded.sources:
        assert s.sha256 == hashlib.sha256(s.path.read_bytes()).hexdigest()
        rec = s.record()
        assert (rec["symbol"], rec["path"], rec["sha256"]) == (s.symbol, str(s.path), s.sha256)
    # a rebuilt frame loses attrs (pandas 3); nothing downstream reads them
    rebuilt = pd.DataFrame(loaded.frame)
    assert rebuilt.attrs == {}
    one = load_sourced("GLD", start="2020-01-01")
    assert one.sources[0].symbol == "GLD" and one.frame.index[0].year == 2020


MINUTE_FILE = default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"


def test_date_only_bounds_are_whole_new_york_dates_on_minute_bars() -> None:
    df = load(MINUTE_FILE, start="2024-05-01", end="2024-05-17")
    ny = df.index.tz_convert("America/New_York")
    # independent count: every bar of the file whose New York date is May 1..17
    every = load(MINUTE_FILE).index.tz_convert("America/New_York")
    dates = pd.Series(every.date)
    inside = (dates >= pd.Timestamp("2024-05-01").date()) & (
        dates <= pd.Timestamp("2024-05-17").date()
    )
    assert len(df) == int(inside.sum())
    assert ny[0] == every[inside.to_numpy()][0]
    assert ny[0].date() == pd.Timestamp("2024-05-01").date()
    assert int((pd.Series(ny.date) == pd.Timestamp("2024-05-17").date()).sum()) == 725
    assert ny[-1] == every[-1]  # the file's last bar is on May 17


def test_bounds_with_a_time_are_instants() -> None:
    df = load(MINUTE_FILE, start="2024-05-17 13:30", end="2024-05-17T14:00:00-00:00")
    assert df.index[0] == pd.Timestamp("2024-05-17 13:30", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2024-05-17 14:00", tz="UTC")
    assert len(df) == 31
    same = load(MINUTE_FILE, start=pd.Timestamp("2024-05-17 09:30", tz="America/New_York"))
    assert same.index[0] == pd.Timestamp("2024-05-17 13:30", tz="UTC")


def test_date_only_bounds_keep_daily_dates_in_any_exchange_zone() -> None:
    tokyo = load("QQQ", start="2020-03-02", end="2020-03-06", exchange_tz="Asia/Tokyo")
    assert [d.day for d in tokyo.index] == [2, 3, 4, 5, 6]
    with pytest.raises(DataError, match="exchange_tz='Mars/Olympus' is not a time zone"):
        load("QQQ", start="2020-03-02", exchange_tz="Mars/Olympus")
