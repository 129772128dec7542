"""Download bar history from TWS / IB Gateway through ib_async into the data folder.

``fetch_series`` brings one series (symbol, bar size, whatToShow, RTH) up to the gateway's
now and writes ``daily/<SYMBOL>.csv`` (1-day bars: what ``toolkit.load("SPY")`` and configs
find) or ``intraday/<SYMBOL>_<bar>_<WHAT>.csv``:

* **paced**: every request waits as long as IB's pacing rules need (:mod:`._pacing`);
* **chunked** by the longest duration IB's step-size table allows (:mod:`._history_plan`);
* **resumable**: each answered chunk is appended to ``.fetch/<file>.partial.csv`` with the
  point it covers in ``.fetch/<file>.json``; a rerun of the same request (interrupted, or
  stopped by an error) continues from there;
* **incremental**: an update asks only from the last stored bar on; that bar comes back as
  an overlap, and if IB's copy differs (ADJUSTED_LAST re-adjusts all history after a
  dividend, IB's bars are split-adjusted) the whole series is fetched again, so a file never
  mixes two adjustments;
* **complete bars only**: a bar still forming at the gateway's time (today's daily bar before
  the close) is left for the next update;
* **validated and atomic**: the new file is written beside the target, read back through
  the same loader as the shipped data (:func:`toolkit.data.load_file`, file/line errors),
  then renamed over it; nothing is written when anything fails. The provenance row goes to
  ``fetch_manifest.csv`` (:mod:`._fetch_manifest`).

IB's answers become one-line :class:`DataError`\\ s: 200 (unknown symbol), 162/354 (no
market data permission), 162 pacing violation, other 162s, a request left unanswered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ib_async
import numpy as np
import pandas as pd
from ib_async import IB, Contract, RequestError, StartupFetchNONE, Stock

from toolkit.data import calendar
from toolkit.data._fetch_manifest import (
    FetchRecord,
    read_records,
    replace_atomically,
    write_record,
)
from toolkit.data._history_plan import (
    WHAT_TO_SHOW,
    Chunk,
    bar_length,
    bar_size,
    plan,
    short_label,
)
from toolkit.data._pacing import HistoryKey, Pacer, PacingRules
from toolkit.data._paths import writable
from toolkit.data.loader import load_file
from toolkit.errors import DataError

Say = Callable[[str], None]
Action = Literal["fetched", "resumed", "updated", "refetched", "up to date"]
STATE_DIR = ".fetch"
_COLUMNS = ("open", "high", "low", "close", "volume")
# IB's texts for answers that are not failures or that need their own message
_NO_DATA = ("hmds query returned no data", "no data")
_PACING = "pacing violation"
_PERMISSION = ("permission", "not subscribed", "no market data")


def _quiet(message: str) -> None:
    """A progress sink that prints nothing."""


@dataclass(frozen=True)
class Series:
    """One series to fetch. ``since`` None: from the first bar IB has (reqHeadTimeStamp)."""

    symbol: str
    bar: str
    what: str = "TRADES"
    use_rth: bool = True
    since: pd.Timestamp | None = None
    exchange: str = "SMART"
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.what not in WHAT_TO_SHOW:
            raise DataError(
                f"whatToShow {self.what!r} is not fetched; use {', '.join(WHAT_TO_SHOW)}."
            )

    @property
    def daily(self) -> bool:
        return self.bar == "1 day"

    @property
    def file(self) -> str:
        """Where it is written, relative to the data folder."""
        if self.daily:
            return f"daily/{self.symbol}.csv"
        return f"intraday/{self.symbol}_{short_label(self.bar)}_{self.what}.csv"

    def describe(self) -> str:
        rth = "regular hours" if self.use_rth else "all hours"
        return f"{self.symbol} {short_label(self.bar)} {self.what} ({rth})"


@dataclass(frozen=True)
class FetchOutcome:
    """What one fetch or update did (``added``: rows new to the file)."""

    symbol: str
    file: Path
    bar: str
    what: str
    action: Action
    rows: int
    added: int
    requests: int
    bars_received: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    seconds: float
    note: str = ""

    def record(self) -> dict[str, Any]:
        """JSON-ready form (``--json``)."""
        return {
            "symbol": self.symbol,
            "file": str(self.file),
            "bar": self.bar,
            "what_to_show": self.what,
            "action": self.action,
            "rows": self.rows,
            "added": self.added,
            "requests": self.requests,
            "bars_received": self.bars_received,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "seconds": round(self.seconds, 3),
            "note": self.note,
        }


async def connect(host: str, port: int, client_id: int, timeout: float = 10.0) -> IB:
    """A read-only ib_async connection that raises IB's request errors (RequestError)."""
    ib = IB()
    ib.RaiseRequestErrors = True
    try:
        await ib.connectAsync(
            host,
            port,
            clientId=client_id,
            timeout=timeout,
            readonly=True,
            fetchFields=StartupFetchNONE,
        )
    except (OSError, TimeoutError) as exc:
        ib.disconnect()
        raise DataError(
            f"cannot reach TWS/IB Gateway at {host}:{port} ({exc or type(exc).__name__}). "
            "Start it, enable the API (Configure > API > Settings, 'Enable ActiveX and Socket "
            "Clients'), and pass its --host/--port (IB Gateway paper 4002, live 4001; TWS "
            "7497/7496); or --client-id if another program uses this one."
        ) from None
    return ib


class IbHistory:
    """The requests of a fetch over one connected :class:`ib_async.IB`: paced, timed out,
    and IB's errors turned into :class:`DataError`. Counts requests and bars."""

    def __init__(
        self,
        ib: IB,
        pacer: Pacer | None = None,
        *,
        timeout: float = 120.0,
        say: Say = _quiet,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ib = ib
        self.pacer = pacer
        self.timeout = timeout
        self.say = say
        self.sleep = sleep
        self.requests = 0
        self.bars_received = 0
        self.waited = 0.0

    def source(self, host: str, port: int) -> str:
        """Where the bars come from, for the provenance record."""
        return (
            f"IBKR TWS API via ib_async {ib_async.__version__} at {host}:{port} "
            f"(server version {self.ib.client.serverVersion()})"
        )

    async def now(self) -> pd.Timestamp:
        """The gateway's time (the simulator's clock; IB's own elsewhere)."""
        got = await self._answer(self.ib.reqCurrentTimeAsync(), "the current time")
        return pd.Timestamp(got).tz_convert("UTC")

    async def contract(self, series: Series) -> Contract:
        """The stock's qualified contract; an unknown symbol is IB's 200."""
        wanted = Stock(series.symbol, series.exchange, series.currency)
        try:
            details = await self._answer(
                self.ib.reqContractDetailsAsync(wanted), f"contract details of {series.symbol}"
            )
        except RequestError as exc:
            raise _request_error(exc, series) from None
        if not details:
            raise _unknown(series, 200, "No security definition has been found for the request")
        contract = details[0].contract
        assert isinstance(contract, Contract)
        return contract

    async def head(self, contract: Contract, series: Series) -> pd.Timestamp | None:
        """The first bar IB has (reqHeadTimeStamp), or None where it is not answered."""
        await self._pace(contract, series, "head", "", "")
        try:
            got = await self._answer(
                self.ib.reqHeadTimeStampAsync(contract, series.what, series.use_rth, 2),
                "the head time stamp",
            )
        except RequestError:
            return None  # not served (the simulator, some contracts): start at --since
        stamp = pd.Timestamp(got)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

    async def bars(self, contract: Contract, series: Series, chunk: Chunk) -> pd.DataFrame:
        """One request's bars as a UTC-indexed OHLCV frame (empty when IB has none)."""
        end = "" if chunk.end is None else chunk.end.strftime("%Y%m%d-%H:%M:%S")
        fmt = 1 if series.daily else 2
        await self._pace(contract, series, end, chunk.duration, str(fmt))
        try:
            got = await self._answer(
                self.ib.reqHistoricalDataAsync(
                    contract,
                    end,
                    chunk.duration,
                    series.bar,
                    series.what,
                    series.use_rth,
                    formatDate=fmt,
                    timeout=0,
                ),
                f"{series.describe()} bars ending {end or 'now'}",
            )
        except RequestError as exc:
            text = exc.message.lower()
            if exc.code == 162 and any(t in text for t in _NO_DATA) and _PACING not in text:
                return _frame([], series.daily)
            raise _request_error(exc, series) from None
        self.bars_received += len(got)
        return _frame(list(got), series.daily)

    def least_seconds(self, requests: int) -> float:
        """The shortest time ``requests`` more requests can take under the pacing rules."""
        if self.pacer is None or requests <= 0:
            return 0.0
        r = self.pacer.rules
        windows = (requests - 1) // r.window_max
        bursts = (requests - 1) // r.burst_max
        return max(windows * r.window_seconds, bursts * r.burst_seconds)

    async def _pace(self, contract: Contract, series: Series, *request: str) -> None:
        self.requests += 1
        if self.pacer is None:
            return
        key = HistoryKey(
            (contract.conId, series.exchange, series.what),
            (contract.conId, series.exchange, series.what, series.bar, series.use_rth, *request),
        )
        wait = self.pacer.delay(key)
        if wait > 0:
            if wait > 2:
                self.say(f"pacing: waiting {wait:.0f} s (IB allows 60 history requests in 10 min)")
            self.waited += wait
            await self.sleep(wait)
        self.pacer.sent(key)

    async def _answer(self, request: Awaitable[Any], what: str) -> Any:
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for swallows a cancellation that
        # lands as the answer arrives, and Ctrl+C (asyncio.run cancels the fetch) was then
        # lost -- the fetch ran to the end and exited 0 (seen in CI)
        try:
            async with asyncio.timeout(self.timeout):
                return await request
        except TimeoutError:
            raise DataError(
                f"no answer from TWS/IB Gateway for {what} within {self.timeout:g} s. Check the "
                "connection and rerun the same command: the fetch resumes where it stopped."
            ) from None


def _frame(bars: Sequence[Any], daily: bool) -> pd.DataFrame:
    if not bars:
        return pd.DataFrame(
            {c: np.array([], dtype=np.float64) for c in _COLUMNS},
            index=pd.DatetimeIndex([], tz="UTC"),
        )
    stamps = [pd.Timestamp(b.date) for b in bars]
    index = pd.DatetimeIndex(
        [s.tz_localize("UTC") if s.tzinfo is None else s.tz_convert("UTC") for s in stamps]
    )
    data = {c: np.array([float(getattr(b, c)) for b in bars]) for c in _COLUMNS}
    data["volume"] = np.maximum(data["volume"], 0.0)  # MIDPOINT bars carry -1: no volume
    return pd.DataFrame(data, index=index)


def _unknown(series: Series, code: int, message: str) -> DataError:
    return DataError(
        f"unknown symbol {series.symbol!r}: IB has no {series.currency} stock or ETF of that "
        f"name on {series.exchange} (IB error {code}: {message}). Check the ticker (class "
        "shares are written with a space, e.g. 'BRK B')."
    )


def _request_error(exc: RequestError, series: Series) -> DataError:
    """IB's error answer to a request, as one line that says what to do."""
    text = exc.message.lower()
    what = series.describe()
    if exc.code == 200:
        return _unknown(series, exc.code, exc.message)
    if exc.code == 162 and _PACING in text:
        return DataError(
            f"IB refused {what} history for pacing (error 162: {exc.message}). Another program "
            "on this login may be requesting history too. Wait ten minutes and rerun the same "
            "command: it resumes where it stopped."
        )
    if exc.code == 354 or (exc.code == 162 and any(t in text for t in _PERMISSION)):
        return DataError(
            f"no market data permission for {what} (IB error {exc.code}: {exc.message}). "
            "Subscribe to the exchange's data in Client Portal (Settings > Market Data "
            "Subscriptions); MIDPOINT bars may need none."
        )
    return DataError(f"IB refused {what} history (error {exc.code}: {exc.message}).")


def _complete(frame: pd.DataFrame, series: Series, now: pd.Timestamp) -> pd.DataFrame:
    """Only bars finished by ``now``: a daily bar at its session's close, an intraday bar at
    its label plus its length."""
    if frame.empty:
        return frame
    index = pd.DatetimeIndex(frame.index)
    if series.daily:  # only the last days can still be trading
        recent = index >= now.normalize() - pd.Timedelta(days=3)
        done = np.ones(len(index), dtype=bool)
        done[recent] = [calendar.session_close(ts.date()) <= now for ts in index[recent]]
    else:
        done = np.asarray(index + bar_length(series.bar) <= now)
    return frame[done]


# -- resumable state ------------------------------------------------------------------------
def _state_paths(root: Path, series: Series) -> tuple[Path, Path]:
    stem = series.file.replace("/", "__").removesuffix(".csv")
    folder = root / STATE_DIR
    return folder / f"{stem}.json", folder / f"{stem}.partial.csv"


def _state_key(series: Series, con_id: int, start: pd.Timestamp) -> dict[str, Any]:
    return {
        "file": series.file,
        "con_id": con_id,
        "bar": series.bar,
        "what": series.what,
        "use_rth": series.use_rth,
        "start": start.isoformat(),
    }


def _read_partial(
    root: Path, series: Series, key: dict[str, Any]
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Bars kept by an interrupted run of the same request, and the time they cover to."""
    state_path, rows_path = _state_paths(root, series)
    if not state_path.is_file():
        return _frame([], series.daily), None
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    if state.get("key") != key or not rows_path.is_file():
        _drop_partial(root, series)
        return _frame([], series.daily), None
    done_until = pd.Timestamp(state["done_until"])
    rows = pd.read_csv(rows_path, index_col=0)
    index = pd.DatetimeIndex(pd.to_datetime(rows.index, utc=True))
    frame = pd.DataFrame({c: rows[c].to_numpy(dtype=np.float64) for c in _COLUMNS}, index=index)
    return frame[frame.index <= done_until], done_until


def _save_partial(
    root: Path, series: Series, key: dict[str, Any], rows: pd.DataFrame, until: pd.Timestamp
) -> None:
    """Append a chunk's rows, then move the state's mark (the rows never lag the mark)."""
    state_path, rows_path = _state_paths(root, series)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    if not rows.empty:
        rows.to_csv(rows_path, mode="a", header=not rows_path.is_file(), index_label="time")
    state = {"key": key, "done_until": until.isoformat()}
    replace_atomically(state_path, json.dumps(state).encode())


def _drop_partial(root: Path, series: Series) -> None:
    for p in _state_paths(root, series):
        p.unlink(missing_ok=True)


# -- writing -----------------------------------------------------------------------------------
def _csv_bytes(frame: pd.DataFrame, daily: bool) -> bytes:
    out = frame[list(_COLUMNS)].copy()
    index = pd.DatetimeIndex(out.index)
    if daily:
        out.index = pd.Index(index.strftime("%Y-%m-%d"), name="date")
    else:
        out.index = pd.Index([ts.isoformat() for ts in index], name="timestamp")
    return out.to_csv(lineterminator="\n").encode()


def _write_validated(target: Path, frame: pd.DataFrame, series: Series) -> bytes:
    """Write beside ``target``, validate through the loader, rename over it."""
    data = _csv_bytes(frame, series.daily)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.fetching.csv")
    try:
        tmp.write_bytes(data)
        checked, _ = load_file(tmp, adjust="none", use_cache=False)
        if len(checked) != len(frame):
            raise DataError(f"{tmp}: {len(frame)} rows written, {len(checked)} read back")
        tmp.replace(target)
    except DataError as exc:
        raise DataError(
            f"{series.describe()}: IB's bars failed the loader's checks, nothing was written "
            f"to {target}: {exc}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return data


# -- one series ------------------------------------------------------------------------------
async def fetch_series(
    client: IbHistory,
    series: Series,
    root: Path,
    *,
    update: bool = False,
    replace: bool = False,
    source: str = "IBKR TWS API via ib_async",
    say: Say = _quiet,
) -> FetchOutcome:
    """Fetch ``series`` into ``root`` (``update``: append to what is there); see the module
    docstring for the guarantees."""
    t0 = time.perf_counter()
    requests0, bars0 = client.requests, client.bars_received
    target = root / series.file
    record = read_records(root).get(series.file)
    _check_target(target, record, series, update, replace)
    contract = await client.contract(series)
    now = await client.now()

    stored: pd.DataFrame | None = None
    since = series.since
    if record is not None and target.is_file() and not replace:
        recorded_since = pd.Timestamp(record.since)
        if update or since is None or since >= recorded_since:
            since = recorded_since
            if hashlib.sha256(target.read_bytes()).hexdigest() == record.sha256:
                stored, _ = load_file(target, adjust="none", use_cache=False)
            else:  # edited since it was written: the file is not IB's any more
                say(f"{target} changed since it was fetched; fetching it all again")
    if since is None:
        since = await client.head(contract, series)
        if since is None:
            raise DataError(
                f"{series.describe()}: the gateway does not say where its history starts "
                "(reqHeadTimeStamp is not answered). Pass --since YYYY-MM-DD."
            )
    elif stored is None:
        head = await client.head(contract, series)
        if head is not None and head > since:
            say(f"{series.symbol}: IB's history starts {head:%Y-%m-%d}; fetching from there")
            since = head
    assert since is not None
    start = (
        pd.Timestamp(stored.index[-1]) - pd.Timedelta(seconds=1)
        if stored is not None and len(stored)
        else since - pd.Timedelta(seconds=1)
    )
    key = _state_key(series, contract.conId, start)
    kept, done_until = _read_partial(root, series, key)
    resumed = done_until is not None
    if done_until is not None:
        say(f"{series.symbol}: resuming, {len(kept)} bars kept up to {done_until:%Y-%m-%d %H:%M}")
    begin = start if done_until is None else done_until
    chunks = plan(series.bar, series.what, begin, now, series.use_rth)
    least = client.least_seconds(len(chunks))
    if least > 60:
        say(
            f"{series.symbol}: {len(chunks)} requests; IB's pacing makes this take at least "
            f"{least / 60:.0f} min (interrupt at will: the same command resumes)"
        )
    parts = [kept]
    for k, chunk in enumerate(chunks, start=1):
        got = _complete(await client.bars(contract, series, chunk), series, now)
        parts.append(got)
        _save_partial(root, series, key, got, now if chunk.end is None else chunk.end)
        if k % 10 == 0 or k == len(chunks):
            say(f"{series.symbol}: {k}/{len(chunks)} requests, {sum(map(len, parts))} bars")
    new = pd.concat([p for p in parts if len(p)]) if any(len(p) for p in parts) else parts[0]
    new = new[~new.index.duplicated(keep="last")].sort_index()

    note = "MIDPOINT bars carry no volume (stored as 0)" if series.what == "MIDPOINT" else ""
    if stored is not None and len(stored):
        last = pd.Timestamp(stored.index[-1])
        if last in new.index and not np.allclose(
            new.loc[last, list(_COLUMNS)].to_numpy(dtype=float),
            stored.loc[last, list(_COLUMNS)].to_numpy(dtype=float),
            rtol=1e-9,
            atol=1e-9,
        ):
            _drop_partial(root, series)
            say(
                f"{series.symbol}: IB's bar of {last:%Y-%m-%d %H:%M} changed; fetching it all again"
            )
            again = dataclasses.replace(series, since=since)
            out = await fetch_series(client, again, root, replace=True, source=source, say=say)
            return _outcome(
                out,
                "refetched",
                client,
                requests0,
                bars0,
                t0,
                f"IB's bar of {last:%Y-%m-%d %H:%M} changed since the last fetch (a dividend or "
                "split re-adjusts all history): fetched again",
            )
        added = new[new.index > last]
        if added.empty:
            _drop_partial(root, series)
            return FetchOutcome(
                series.symbol,
                target,
                series.bar,
                series.what,
                "up to date",
                len(stored),
                0,
                client.requests - requests0,
                client.bars_received - bars0,
                pd.Timestamp(stored.index[0]),
                last,
                time.perf_counter() - t0,
                note,
            )
        combined = pd.concat([stored[list(_COLUMNS)], added])
        action: Action = "updated"
        n_added = len(added)
    else:
        combined = new[new.index >= since]
        action = "resumed" if resumed else "fetched"
        n_added = len(combined)
    if combined.empty:
        _drop_partial(root, series)
        raise DataError(
            f"{series.describe()}: IB returned no bars since {since:%Y-%m-%d}. Check the symbol, "
            "--since, --what and --rth (intraday history is kept for a limited time)."
        )
    data = _write_validated(target, combined, series)
    write_record(
        root,
        FetchRecord(
            file=series.file,
            symbol=series.symbol,
            bar=series.bar,
            what_to_show=series.what,
            use_rth=series.use_rth,
            since=since.isoformat(),
            start=pd.Timestamp(combined.index[0]).isoformat(),
            end=pd.Timestamp(combined.index[-1]).isoformat(),
            rows=len(combined),
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
            source=source,
            con_id=int(contract.conId),
            exchange=series.exchange,
            currency=series.currency,
            requests=client.requests - requests0,
            fetched_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            action=action,
            note=note,
        ),
    )
    _drop_partial(root, series)
    return FetchOutcome(
        series.symbol, target, series.bar, series.what, action, len(combined), n_added,
        client.requests - requests0, client.bars_received - bars0,
        pd.Timestamp(combined.index[0]), pd.Timestamp(combined.index[-1]),
        time.perf_counter() - t0, note,
    )  # fmt: skip


def _outcome(
    out: FetchOutcome,
    action: Action,
    client: IbHistory,
    requests0: int,
    bars0: int,
    t0: float,
    note: str,
) -> FetchOutcome:
    return FetchOutcome(
        out.symbol, out.file, out.bar, out.what, action, out.rows, out.added,
        client.requests - requests0, client.bars_received - bars0, out.start, out.end,
        time.perf_counter() - t0, note,
    )  # fmt: skip


def _check_target(
    target: Path, record: FetchRecord | None, series: Series, update: bool, replace: bool
) -> None:
    """Refuse to overwrite a file this command did not fetch, or one holding other bars."""
    if update and (record is None or not target.is_file()):
        raise DataError(
            f"{target}: nothing fetched for {series.describe()} yet; run `python -m toolkit "
            "data fetch` for it first."
        )
    if replace:
        return
    if target.is_file() and record is None:
        raise DataError(
            f"{target} exists and was not fetched by `toolkit data` (the shipped sample or "
            "your own file). Fetch into your own data folder (--data DIR, or TOOLKIT_DATA=DIR), "
            "or pass --replace to overwrite it."
        )
    if record is not None and (
        record.what_to_show != series.what or record.use_rth != series.use_rth
    ):
        rth = "regular hours" if record.use_rth else "all hours"
        raise DataError(
            f"{target} holds {record.what_to_show} bars ({rth}); pass --replace to fetch "
            f"{series.describe()} over it."
        )


async def fetch_all(
    client: IbHistory,
    series: Sequence[Series],
    root: Path,
    *,
    update: bool = False,
    replace: bool = False,
    source: str = "IBKR TWS API via ib_async",
    say: Say = _quiet,
) -> list[FetchOutcome]:
    """Fetch each series in turn (one pacer for all: IB counts the login's requests)."""
    out = []
    for s in series:
        say(f"{s.describe()}: {'updating' if update else 'fetching'} into {root / s.file}")
        out.append(
            await fetch_series(
                client, s, root, update=update, replace=replace, source=source, say=say
            )
        )
    return out


async def fetch_each(
    client: IbHistory,
    series: Sequence[Series],
    root: Path,
    *,
    update: bool = False,
    replace: bool = False,
    source: str = "IBKR TWS API via ib_async",
    say: Say = _quiet,
) -> tuple[list[FetchOutcome], list[tuple[Series, str]]]:
    """:func:`fetch_all`, going on past a series IB refuses (an unknown symbol, a missing
    permission) and returning those with their messages; a pacing violation or a lost
    connection still stops everything (going on would only be refused again)."""
    done: list[FetchOutcome] = []
    failed: list[tuple[Series, str]] = []
    for s in series:
        say(f"{s.describe()}: {'updating' if update else 'fetching'} into {root / s.file}")
        try:
            done.append(
                await fetch_series(
                    client, s, root, update=update, replace=replace, source=source, say=say
                )
            )
        except DataError as exc:
            text = str(exc)
            if _PACING in text or "no answer from TWS" in text or not client.ib.isConnected():
                raise
            say(f"{s.symbol}: refused ({text[:60]}...); going on with the others")
            failed.append((s, text))
    return done, failed


def disconnect(ib: IB) -> None:
    """Close the connection, never raising."""
    with contextlib.suppress(Exception):
        ib.disconnect()


def fetched_series(root: Path, symbols: Sequence[str] = (), bar: str | None = None) -> list[Series]:
    """The series ``fetch_manifest.csv`` records under ``root`` (only ``symbols`` / ``bar``
    when given), as ``data update`` refreshes them."""
    wanted = {s.strip().upper() for s in symbols}
    return [
        Series(r.symbol, r.bar, r.what_to_show, r.use_rth, pd.Timestamp(r.since), r.exchange,
               r.currency)
        for r in read_records(root).values()
        if (not wanted or r.symbol in wanted) and (bar is None or r.bar == bar)
    ]  # fmt: skip


def series_to_update(
    root: Path, symbols: Sequence[str] = (), bar: str | None = None
) -> list[Series]:
    """:func:`fetched_series`, refusing an update that would find nothing to refresh."""
    series = fetched_series(root, symbols, bar)
    if not series:
        raise DataError(
            f"nothing fetched under {root} to update"
            + (f" for {', '.join(symbols)}" if symbols else "")
            + ". Fetch first: python -m toolkit data fetch SYMBOL --since YYYY-MM-DD."
        )
    return series


def failed_error(failed: Sequence[tuple[Series, str]], wanted: int) -> DataError:
    """The one line naming each series IB refused with its message, of ``wanted`` fetched:
    :func:`fetch` and :func:`update_folder` fail with it, the CLI after writing the others."""
    refused = "; ".join(f"{s.symbol}: {text}" for s, text in failed)
    return DataError(f"{len(failed)} of {wanted} series failed -- {refused}")


async def session_fetch(
    root: Path,
    series: Sequence[Series],
    *,
    host: str = "127.0.0.1",
    port: int = 4002,
    client_id: int = 73,
    timeout: float = 120.0,
    rules: PacingRules | None = None,
    update: bool = False,
    replace: bool = False,
    say: Say = _quiet,
) -> tuple[list[FetchOutcome], list[tuple[Series, str]]]:
    """Connect, fetch (or update) ``series`` into ``root`` with :func:`fetch_each`, and
    disconnect; the pacer starts from, and leaves, the folder's request log. The installed
    wheel's sample folder is refused before connecting (it is package data)."""
    log = writable(root) / STATE_DIR / "pacing.json"
    ib = await connect(host, port, client_id)
    pacer = Pacer.load(log, rules)
    try:
        client = IbHistory(ib, pacer, timeout=timeout, say=say)
        source = client.source(host, port)
        return await fetch_each(
            client, series, root, update=update, replace=replace, source=source, say=say
        )
    finally:
        disconnect(ib)
        pacer.save(log)


def series_for(
    symbols: str | Sequence[str],
    bar: str,
    what: str | None,
    since: str | pd.Timestamp | None,
    use_rth: bool,
) -> list[Series]:
    """The series of ``symbols`` for a fetch: IB's bar size, ADJUSTED_LAST for daily bars and
    TRADES otherwise unless ``what`` says, ``since`` as a UTC instant (a date: its midnight)."""
    ib_bar = bar_size(bar)
    start = None
    if since is not None:
        try:
            start = pd.Timestamp(since)
        except ValueError:
            raise DataError(f"since={since!r} is not a date; use YYYY-MM-DD.") from None
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    chosen = what or ("ADJUSTED_LAST" if ib_bar == "1 day" else "TRADES")
    names = [symbols] if isinstance(symbols, str) else list(symbols)
    return [Series(s.strip().upper(), ib_bar, chosen, use_rth, start) for s in names]


async def fetch_async(
    symbols: str | Sequence[str],
    *,
    bar: str = "1d",
    what: str | None = None,
    since: str | pd.Timestamp | None = None,
    use_rth: bool = True,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 4002,
    client_id: int = 73,
    timeout: float = 120.0,
    rules: PacingRules | None = None,
    replace: bool = False,
    say: Say = _quiet,
) -> list[FetchOutcome]:
    """``await fetch_async("SPY", since="2000-01-01")`` in a notebook (Jupyter's loop is
    already running): :func:`fetch` without starting a loop."""
    from toolkit.data._paths import default_data_dir

    root = data_dir if data_dir is not None else default_data_dir()
    series = series_for(symbols, bar, what, since, use_rth)
    done, failed = await session_fetch(
        root, series, host=host, port=port, client_id=client_id, timeout=timeout,
        rules=rules, replace=replace, say=say,
    )  # fmt: skip
    if failed:
        raise failed_error(failed, len(series))
    return done


def fetch(
    symbols: str | Sequence[str],
    *,
    bar: str = "1d",
    what: str | None = None,
    since: str | pd.Timestamp | None = None,
    use_rth: bool = True,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 4002,
    client_id: int = 73,
    timeout: float = 120.0,
    rules: PacingRules | None = None,
    replace: bool = False,
    say: Say = _quiet,
) -> list[FetchOutcome]:
    """Fetch bars for ``symbols`` into the data folder, as ``python -m toolkit data fetch``
    does (``bar`` 1d/1h/5min/1min..., ``what`` ADJUSTED_LAST (1d default), TRADES or
    MIDPOINT). Inside a running event loop (a notebook) use ``await fetch_async(...)``."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(
            fetch_async(
                symbols,
                bar=bar,
                what=what,
                since=since,
                use_rth=use_rth,
                data_dir=data_dir,
                host=host,
                port=port,
                client_id=client_id,
                timeout=timeout,
                rules=rules,
                replace=replace,
                say=say,
            )
        )
    raise DataError(
        "fetch() cannot start an event loop inside a running one (a notebook): use "
        "`await toolkit.data.ibkr_history.fetch_async(...)` with the same arguments."
    )


def update_folder(
    root: Path,
    *,
    host: str,
    port: int,
    client_id: int,
    symbols: Sequence[str] = (),
    timeout: float = 120.0,
    rules: PacingRules | None = None,
    say: Say = _quiet,
) -> list[FetchOutcome]:
    """``data update`` as one call (the report scheduler refreshes data with it): every
    fetched series of ``root`` (or of ``symbols``), paced with the folder's request log;
    any series IB refuses fails the call."""
    series = series_to_update(root, symbols)
    done, failed = asyncio.run(
        session_fetch(
            root,
            series,
            host=host,
            port=port,
            client_id=client_id,
            timeout=timeout,
            rules=rules,
            update=True,
            say=say,
        )
    )
    if failed:
        raise failed_error(failed, len(series))
    return done
