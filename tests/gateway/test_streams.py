"""keepUpToDate bars and reqMktData quotes stream as the simulated clock advances."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("ib_async")
import itertools

from ib_async import IB, Stock

import toolkit as tk
from toolkit.gateway import Gateway

MINUTE = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"


@pytest.fixture()
def session():
    with Gateway(port=0, start="2024-03-14 14:00", speed=600) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        yield gw, ib, spy
        ib.disconnect()


def test_keep_up_to_date_appends_the_replayed_bars(session) -> None:
    _gw, ib, spy = session
    bars = ib.reqHistoricalData(
        spy, "", "3600 S", "1 min", "TRADES", False, formatDate=1, keepUpToDate=True
    )
    first = len(bars)
    for _ in range(100):  # up to 10 s of wall time, however loaded the machine is
        if len(bars) > first + 5:
            break
        ib.sleep(0.1)
    assert len(bars) > first + 5
    minute = tk.load(MINUTE)
    for b in bars[first:-1]:  # completed bars equal the file's minutes
        row = minute.loc[pd.Timestamp(b.date)]
        assert (b.open, b.high, b.low, b.close, b.volume) == (
            row.open,
            row.high,
            row.low,
            row.close,
            row.volume,
        )
    dates = [b.date for b in bars]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    ib.cancelHistoricalData(bars)
    ib.sleep(0.3)
    n = len(bars)
    ib.sleep(0.5)
    assert len(bars) == n  # cancelled: no more updates


def test_market_data_stream_and_snapshot(session) -> None:
    _gw, ib, spy = session
    ticker = ib.reqMktData(spy)
    for _ in range(50):
        if ticker.bid > 0 and ticker.ask > 0 and ticker.last > 0:
            break
        ib.sleep(0.1)
    assert 0 < ticker.bid < ticker.ask and ticker.bidSize > 0 and ticker.askSize > 0
    assert ticker.bid <= ticker.last <= ticker.ask and ticker.minTick == 0.01
    assert ticker.ask - ticker.bid == pytest.approx(
        max(0.01, round(ticker.last * 1e-4, 2)), abs=1e-9
    )
    seen = {ticker.last}
    for _ in range(100):
        if len(seen) > 2:
            break
        ib.sleep(0.1)
        seen.add(ticker.last)
    assert len(seen) > 2  # quotes move with the replayed minutes
    ib.cancelMktData(spy)
    [snap] = ib.reqTickers(spy)
    assert snap.bid > 0 and snap.ask > snap.bid and snap.close > 0


def test_market_depth_book_from_the_depth_model(session) -> None:
    _gw, ib, spy = session
    ticker = ib.reqMktDepth(spy, numRows=5)
    for _ in range(50):
        if len(ticker.domBids) == 5 and len(ticker.domAsks) == 5:
            break
        ib.sleep(0.1)
    bids = [level.price for level in ticker.domBids]
    asks = [level.price for level in ticker.domAsks]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert all(level.size > 0 for level in ticker.domBids + ticker.domAsks)
    first = bids[0]
    for _ in range(100):  # the book follows the replayed price, rows updated in place
        if ticker.domBids[0].price != first:
            break
        ib.sleep(0.1)
    assert ticker.domBids[0].price != first and len(ticker.domBids) == 5
    ib.cancelMktDepth(spy)


def test_real_time_bars_rebuild_the_replayed_minutes(session) -> None:
    _, ib, spy = session
    bars = ib.reqRealTimeBars(spy, 5, "TRADES", False)
    for _ in range(100):
        if len(bars) >= 40:
            break
        ib.sleep(0.1)
    assert len(bars) >= 40
    times = [b.time for b in bars]
    assert all((b - a).total_seconds() == 5 for a, b in itertools.pairwise(times))
    minute = tk.load(MINUTE)
    frame = pd.DataFrame(
        {
            "open": [b.open_ for b in bars],
            "high": [b.high for b in bars],
            "low": [b.low for b in bars],
            "close": [b.close for b in bars],
            "volume": [b.volume for b in bars],
        },
        index=pd.DatetimeIndex([pd.Timestamp(t) for t in times]),
    )
    agg = frame.resample("1min").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    complete = frame.groupby(frame.index.floor("1min")).size() == 12
    for ts in agg.index[complete.reindex(agg.index, fill_value=False).to_numpy()]:
        row = minute.loc[ts]  # twelve 5-second bars add up to the replayed minute exactly
        assert tuple(agg.loc[ts]) == pytest.approx(
            (row.open, row.high, row.low, row.close, row.volume)
        )
    ib.cancelRealTimeBars(bars)
