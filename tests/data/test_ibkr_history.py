"""Fetching history end to end: the real ib_async client against the gateway simulator over
TCP, into a real data folder. The oracle is the simulator's own source, the shipped files
loaded with ``toolkit.load``: what lands on disk must be those bars exactly."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import RequestError

import toolkit as tk
from toolkit.data import load_file
from toolkit.data._fetch_manifest import read_records
from toolkit.data._pacing import Pacer, PacingRules
from toolkit.data.ibkr_history import (
    STATE_DIR,
    FetchOutcome,
    IbHistory,
    Series,
    _request_error,
    connect,
    disconnect,
    fetch,
    fetch_all,
    fetch_async,
)
from toolkit.errors import DataError
from toolkit.gateway import Gateway
from toolkit.gateway.limits import Limits

REPO = Path(__file__).resolve().parents[2]
MINUTES = REPO / "data" / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"
# IB's rules with the windows shrunk: 3 requests per contract in 0.5 s, 100 in 30 s
FAST = PacingRules(
    identical_seconds=1.0, burst_seconds=0.5, burst_max=3, window_seconds=30, window_max=100
)
SINCE = pd.Timestamp("2024-01-01", tz="UTC")
_client_ids = iter(range(300, 400))


def _fetch(
    gw: Gateway,
    root: Path,
    series: list[Series],
    *,
    pacer: Pacer | None,
    update: bool = False,
    replace: bool = False,
) -> tuple[list[FetchOutcome], IbHistory]:
    async def go() -> tuple[list[FetchOutcome], IbHistory]:
        ib = await connect("127.0.0.1", gw.port, next(_client_ids))
        try:
            client = IbHistory(ib, pacer, timeout=30)
            out = await fetch_all(
                client, series, root, update=update, replace=replace,
                source=client.source("127.0.0.1", gw.port),
            )  # fmt: skip
            return out, client
        finally:
            disconnect(ib)

    return asyncio.run(go())


def _file(root: Path, rel: str) -> pd.DataFrame:
    frame, _ = load_file(root / rel, adjust="none", use_cache=False)
    return frame


def test_daily_bars_are_the_source_bars_with_their_record(tmp_path: Path) -> None:
    # 14:00 New York on 2024-05-17: that day's bar is still forming and is not stored
    with Gateway(port=0, start="2024-05-17 18:00") as gw:
        [out], client = _fetch(
            gw, tmp_path, [Series("SPY", "1 day", "TRADES", since=SINCE)], pacer=Pacer(FAST)
        )
    got = _file(tmp_path, "daily/SPY.csv")
    want = tk.load("SPY", "2024-01-01", "2024-05-16", adjust="none")
    pd.testing.assert_frame_equal(got, want, check_freq=False)
    assert (out.action, out.rows, out.added) == ("fetched", len(want), len(want))
    assert out.requests == client.requests == 2  # head time stamp + one "1 Y" chunk ending now
    [rec] = read_records(tmp_path).values()
    data = (tmp_path / "daily/SPY.csv").read_bytes()
    assert rec.sha256 == hashlib.sha256(data).hexdigest() and rec.bytes == len(data)
    assert (rec.symbol, rec.bar, rec.what_to_show, rec.use_rth) == ("SPY", "1 day", "TRADES", True)
    assert rec.rows == len(want) and rec.end.startswith("2024-05-16") and rec.con_id > 0
    assert "ib_async" in rec.source and "server version 176" in rec.source
    assert not list((tmp_path / STATE_DIR).glob("*"))  # no partial state left
    assert tk.load("SPY", data_dir=tmp_path, adjust="none").index[-1].date().isoformat() == (
        "2024-05-16"
    )  # the loader finds it by symbol in the fetched folder


def test_a_paced_fetch_resumes_where_a_violation_stopped_it(tmp_path: Path) -> None:
    series = [Series("SPY", "1 min", "TRADES", since=pd.Timestamp("2024-05-01", tz="UTC"))]
    with Gateway(port=0, start="2024-05-17 21:00", limits=Limits(history_pacing=FAST)) as gw:
        pacing = gw.state.history_pacing
        assert pacing is not None
        with pytest.raises(DataError, match="pacing") as err:  # no pacer: a burst of requests
            _fetch(gw, tmp_path, series, pacer=None)
        assert "resumes where it stopped" in str(err.value) and pacing.violations == 1
        assert not (tmp_path / series[0].file).exists()  # nothing half-written
        kept = list((tmp_path / STATE_DIR).glob("*.partial.csv"))
        assert len(kept) == 1
        time.sleep(FAST.identical_seconds)  # the unpaced run's requests age out ("wait")
        log = tmp_path / STATE_DIR / "pacing.json"
        pacer = Pacer.load(log, FAST)
        [out], _ = _fetch(gw, tmp_path, series, pacer=pacer)
        pacer.save(log)
        assert pacing.violations == 1  # the paced run broke no rule
        # a run straight after it repeats its last request ("1 D" ending now): the saved
        # log makes it wait out the identical-request rule instead of violating it
        [same], _ = _fetch(gw, tmp_path, series, pacer=Pacer.load(log, FAST), update=True)
        assert same.action == "up to date" and pacing.violations == 1
    assert out.action == "resumed" and 0 < out.requests < 13 + 1  # 13 sessions + the head
    minutes = tk.load(MINUTES, "2024-05-01", "2024-05-17", adjust="none")
    want = minutes[calendar_rth(minutes.index)]
    got = _file(tmp_path, series[0].file)
    pd.testing.assert_frame_equal(got, want, check_freq=False)
    assert out.rows == len(want) == 13 * 390
    assert not list((tmp_path / STATE_DIR).glob("intraday__*"))  # only the pacing log stays


def calendar_rth(index: pd.Index) -> np.ndarray:
    from toolkit.data import calendar

    return calendar.in_regular_hours(pd.DatetimeIndex(index))


def test_update_appends_only_the_new_bars(tmp_path: Path) -> None:
    series = [Series("SPY", "1 day", "TRADES", since=SINCE), Series("QQQ", "1 day", "MIDPOINT")]
    with Gateway(port=0, start="2024-05-10 21:00") as gw:
        _fetch(gw, tmp_path, series[:1], pacer=Pacer(FAST))
        with pytest.raises(DataError, match="nothing fetched"):
            _fetch(gw, tmp_path, series[1:], pacer=Pacer(FAST), update=True)
    before = _file(tmp_path, "daily/SPY.csv")
    with Gateway(port=0, start="2024-05-17 21:00") as gw:
        [out], _ = _fetch(gw, tmp_path, series[:1], pacer=Pacer(FAST), update=True)
        assert (out.action, out.added, out.requests) == ("updated", 5, 1)
        again, _ = _fetch(gw, tmp_path, series[:1], pacer=Pacer(FAST), update=True)
        assert (again[0].action, again[0].added) == ("up to date", 0)
    after = _file(tmp_path, "daily/SPY.csv")
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    want = tk.load("SPY", "2024-01-01", "2024-05-17", adjust="none")
    pd.testing.assert_frame_equal(after, want, check_freq=False)
    assert read_records(tmp_path)["daily/SPY.csv"].action == "updated"


def _gateway_folder(folder: Path, last: str, dividend: float) -> None:
    """A one-symbol data folder for the simulator: SPY up to ``last`` with adj_close
    scaled by ``dividend`` before 2024-05-13 (a distribution re-adjusts older bars)."""
    raw = pd.read_csv(REPO / "data" / "daily" / "SPY.csv", dtype={"date": str})
    raw = raw[raw["date"] <= last].copy()
    older = raw["date"] < "2024-05-13"
    raw.loc[older, "adj_close"] = raw.loc[older, "adj_close"] * dividend
    (folder / "daily").mkdir(parents=True, exist_ok=True)
    raw.to_csv(folder / "daily" / "SPY.csv", index=False)


def test_a_re_adjusted_history_is_fetched_again_not_spliced(tmp_path: Path) -> None:
    src, root = tmp_path / "ib", tmp_path / "mine"
    series = [Series("SPY", "1 day", "ADJUSTED_LAST", since=SINCE)]
    _gateway_folder(src, "2024-05-10", 1.0)
    with Gateway(port=0, data_dir=src, start="2024-05-10 21:00") as gw:
        [first], _ = _fetch(gw, root, series, pacer=Pacer(FAST))
    assert first.action == "fetched"
    _gateway_folder(src, "2024-05-17", 0.99)  # a dividend between the two fetches
    with Gateway(port=0, data_dir=src, start="2024-05-17 21:00") as gw:
        [out], _ = _fetch(gw, root, series, pacer=Pacer(FAST), update=True)
    assert out.action == "refetched" and "changed" in out.note
    got = _file(root, "daily/SPY.csv")
    want = tk.load("SPY", "2024-01-01", "2024-05-17", data_dir=src)  # total return, as IB's
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)
    assert got.index.equals(want.index)


def test_refusals_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "daily").mkdir()
    (tmp_path / "daily" / "QQQ.csv").write_text("date,open,high,low,close,volume\n")
    with Gateway(port=0, start="2024-05-17 21:00") as gw:
        with pytest.raises(DataError, match=r"unknown symbol 'NOPE'.*IB error 200"):
            _fetch(gw, tmp_path, [Series("NOPE", "1 day", since=SINCE)], pacer=Pacer(FAST))
        with pytest.raises(DataError, match="was not fetched by `toolkit data`"):
            _fetch(gw, tmp_path, [Series("QQQ", "1 day", since=SINCE)], pacer=Pacer(FAST))
        with pytest.raises(DataError, match="not reach back"):
            _fetch(
                gw, tmp_path, [Series("SPY", "1 min", "ADJUSTED_LAST", since=SINCE)],
                pacer=Pacer(FAST),
            )  # fmt: skip
        [out], _ = _fetch(
            gw, tmp_path, [Series("QQQ", "1 day", since=SINCE)], pacer=Pacer(FAST), replace=True
        )
    assert out.rows > 90 and not (tmp_path / "daily" / "NOPE.csv").exists()
    assert sorted(read_records(tmp_path)) == ["daily/QQQ.csv"]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (354, "Requested market data is not subscribed.", "no market data permission"),
        (
            162,
            "Historical Market Data Service error message:No market data permissions for "
            "ISLAND STK",
            "no market data permission",
        ),
        (
            162,
            "Historical Market Data Service error message:Historical data request pacing violation",
            "pacing",
        ),
        (200, "No security definition has been found for the request", "unknown symbol"),
        (
            162,
            "Historical Market Data Service error message:Time length exceed max.",
            "error 162: Historical",
        ),
    ],
)
def test_ib_errors_become_one_line_messages(code: int, message: str, expected: str) -> None:
    err = _request_error(RequestError(7, code, message), Series("SPY", "1 day"))
    assert expected in str(err) and "\n" not in str(err) and "SPY" in str(err)


def test_the_notebook_functions(tmp_path: Path) -> None:
    """``fetch`` from plain Python, ``await fetch_async`` where a loop already runs."""
    with Gateway(port=0, start="2024-05-17 21:00") as gw:
        port = gw.port
        [out] = fetch(
            "spy", since="2024-05-01", what="TRADES", data_dir=tmp_path, port=port,
            client_id=351, rules=FAST,
        )  # fmt: skip
        assert (out.symbol, out.action, out.rows) == ("SPY", "fetched", 13)  # 13 sessions

        async def in_a_notebook() -> list[FetchOutcome]:
            with pytest.raises(DataError, match=r"await toolkit\.data\.ibkr_history\.fetch_"):
                fetch("QQQ", data_dir=tmp_path, port=port, client_id=352, rules=FAST)
            return await fetch_async(
                "SPY", bar="1h", since="2024-05-16", data_dir=tmp_path, port=port,
                client_id=353, rules=FAST,
            )  # fmt: skip

        [hourly] = asyncio.run(in_a_notebook())
    assert hourly.file == tmp_path / "intraday" / "SPY_1h_TRADES.csv"
    assert hourly.rows == 2 * 7  # two sessions of the simulator's hourly buckets
    with pytest.raises(DataError, match="since='May first' is not a date"):
        fetch("SPY", since="May first", data_dir=tmp_path)
