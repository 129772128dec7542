"""What the simulated gateway knows about instruments and their history, from ``data/``.

Contracts: every symbol with a daily file is a US stock/ETF on SMART with a stable conId.
History: daily bars from ``data/daily``; intraday bars where an intraday file exists (SPY
1-minute), resampled to the requested bar size. A daily bar (stamped at midnight UTC of its
date) exists only from its session's close, 16:00 New York: before that the simulator would
be leaking the day's close. Prices are served as stored (no dividend
adjustment) for TRADES and MIDPOINT; ADJUSTED_LAST uses the total-return adjustment.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.data import available_symbols, calendar, default_data_dir, load
from toolkit.errors import ConfigError
from toolkit.gateway.options import OptionChains, OptionContract

_DURATION = re.compile(r"^\s*(\d+)\s+([SDWMY])\s*$")


def daily_cutoff(now: pd.Timestamp) -> pd.Timestamp:
    """Label of the latest daily bar whose session had closed by ``now``."""
    return pd.Timestamp(calendar.last_closed_day(now)).tz_localize("UTC")


def session_close(label: pd.Timestamp) -> pd.Timestamp:
    """When the daily bar labelled ``label`` completes: its session's close (16:00 New York,
    13:00 on an early-close day)."""
    return calendar.session_close(label.date())


class HistoryError(Exception):
    """A historical-data request that cannot be served (sent to the client as error 162)."""


@dataclass(frozen=True)
class Instrument:
    """One tradable contract. ``symbol`` is its key in the book (the ticker of a stock, the
    OCC local symbol of an option); ``option`` describes an option contract."""

    symbol: str
    con_id: int
    exchange: str = "SMART"
    primary_exchange: str = "ARCA"
    currency: str = "USD"
    min_tick: float = 0.01
    sec_type: str = "STK"
    option: OptionContract | None = None

    @property
    def wire_symbol(self) -> str:
        """IB's ``symbol`` field: the underlying for an option."""
        return self.option.symbol if self.option is not None else self.symbol

    @property
    def multiplier(self) -> float:
        return self.option.multiplier if self.option is not None else 1.0

    def block(self, exchange: str | None = None) -> list[str | int | float]:
        """The 11-field contract block of position, execDetails and openOrder (``exchange``
        in the exchange field; updatePortfolio puts the primary exchange there)."""
        exch = self.exchange if exchange is None else exchange
        o = self.option
        if o is not None:
            return [
                self.con_id, o.symbol, "OPT", o.last_trade, o.strike, o.right,
                f"{o.multiplier:g}", exch, self.currency, o.local_symbol, o.trading_class,
            ]  # fmt: skip
        s = self.symbol
        return [self.con_id, s, self.sec_type, "", 0.0, "", "", exch, self.currency, s, s]


def con_id_for(symbol: str) -> int:
    """A stable, non-zero contract id per symbol (CRC32 based)."""
    return 10_000_000 + zlib.crc32(symbol.encode()) % 89_000_000


class SimClock:
    """Simulated time: starts at ``start`` and runs ``speed`` times faster than the wall."""

    def __init__(self, start: pd.Timestamp, speed: float = 1.0, paused: bool = False) -> None:
        self.start = start.tz_convert("UTC") if start.tzinfo else start.tz_localize("UTC")
        self.speed = speed
        self.t0 = time.monotonic()
        self.paused_at: pd.Timestamp | None = self.start if paused else None
        self.ceiling: pd.Timestamp | None = None

    def now(self) -> pd.Timestamp:
        if self.paused_at is not None:
            return self.paused_at
        t = self.start + pd.Timedelta(seconds=(time.monotonic() - self.t0) * self.speed)
        if self.ceiling is not None and t >= self.ceiling >= self.start:
            # stop exactly there, and stay there until a new ceiling is set: a resume that
            # comes before the matcher has released the bar at the ceiling (a lockstep
            # client's) must not let the clock run free past every later bar
            self.paused_at = self.ceiling
            return self.paused_at
        return t

    def hold_at(self, when: pd.Timestamp | None) -> None:
        """Never run past ``when``: the clock stops there until resumed (None: no limit)."""
        self.ceiling = when
        self.now()

    def pause(self) -> None:
        """Stop the clock (a rehearsal waiting for its client to be ready)."""
        if self.paused_at is None:
            self.paused_at = self.now()

    def resume(self) -> None:
        if self.paused_at is not None:
            self.start, self.t0, self.paused_at = self.paused_at, time.monotonic(), None

    def advance(self, delta: pd.Timedelta) -> None:
        """Jump ahead (fast-forward a rehearsal past a night or a weekend)."""
        self.start += delta
        if self.paused_at is not None:
            self.paused_at += delta


class Market:
    """Instruments and their bars from a data folder."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir or default_data_dir()
        symbols = available_symbols(self.data_dir)
        if not symbols:
            raise ConfigError(
                f"{self.data_dir}: no bar files; the gateway serves <data>/daily/*.csv. Pass "
                "--data DIR or set TOOLKIT_DATA to a folder with bar files (e.g. fetched with "
                "`python -m toolkit data fetch`)."
            )
        self.instruments = {s: Instrument(s, con_id_for(s)) for s in symbols}
        self.options = OptionChains(self.data_dir)
        self._chain_only: set[str] = set()  # underlyings with a chain but no bars (SPX, VXX)
        self._daily: dict[str, pd.DataFrame] = {}
        self._intraday: dict[str, pd.DataFrame] = {}
        self._minute_index: dict[tuple[str, bool], pd.DatetimeIndex] = {}
        self._closes: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}
        # symbols valued from elsewhere than their bars (the depth replay's book)
        self.marks: dict[str, Callable[[], float]] = {}

    def find(self, symbol: str, sec_type: str, con_id: int) -> Instrument | None:
        """The instrument for a requested stock or index (by conId, else symbol): the shipped
        bars' symbols, and the underlyings of the shipped option chains (SPX as an index)."""
        if con_id:
            hit = next((i for i in self.instruments.values() if i.con_id == con_id), None)
            if hit is None and sec_type in ("OPT", ""):
                found = self.options.find(con_id=con_id)
                return self.option_instrument(found[0]) if found else None
            if hit is None:
                hit = next(
                    (
                        self.underlying(u)
                        for u in self.options.underlyings()
                        if con_id_for(u) == con_id
                    ),
                    None,
                )
            return hit if hit is not None and sec_type in ("", hit.sec_type) else None
        if sec_type not in ("STK", "IND", ""):
            return None
        inst = self.instruments.get(symbol.upper()) or self.underlying(symbol.upper())
        return inst if inst is not None and sec_type in ("", inst.sec_type) else None

    def underlying(self, symbol: str) -> Instrument | None:
        """An option chain's underlying (registered on first use): SPX is an index, the
        others stocks; those without bars are priced from their chain."""
        if symbol in self.instruments:
            return self.instruments[symbol]
        sec_type = self.options.underlyings().get(symbol)
        if sec_type is None:
            return None
        exchange = "CBOE" if sec_type == "IND" else "SMART"
        inst = Instrument(symbol, con_id_for(symbol), exchange, exchange, sec_type=sec_type)
        self.instruments[symbol] = inst
        self._chain_only.add(symbol)
        return inst

    def option_instrument(self, c: OptionContract) -> Instrument:
        """The instrument of an option contract (registered on first use, keyed by its OCC
        symbol)."""
        inst = self.instruments.get(c.local_symbol)
        if inst is None:
            inst = Instrument(c.local_symbol, c.con_id, "SMART", "", sec_type="OPT", option=c)
            self.instruments[c.local_symbol] = inst
        return inst

    def quoted(self, symbol: str) -> bool:
        """True for instruments priced from option chains rather than bars."""
        inst = self.instruments.get(symbol)
        return inst is not None and (inst.option is not None or symbol in self._chain_only)

    def daily(self, symbol: str, adjusted: bool = False) -> pd.DataFrame:
        """Daily bars: the shipped bar file, or for what the option chains price (an option,
        an underlying without bars) one bar per quote date from the chain."""
        key = symbol + ("/adj" if adjusted else "")
        if key not in self._daily:
            if self.quoted(symbol):
                option = self.instruments[symbol].option
                self._daily[key] = (
                    self.options.daily_bars(option)
                    if option is not None
                    else self.options.underlying_bars(symbol)
                )
            elif symbol in self.marks and symbol not in available_symbols(self.data_dir):
                raise HistoryError(
                    f"HMDS query returned no data: {symbol} has no bars, only the depth, ticks "
                    "and fills of its LOBSTER replay"
                )
            else:
                self._daily[key] = load(
                    symbol, data_dir=self.data_dir, adjust="total_return" if adjusted else "none"
                )
        return self._daily[key]

    def intraday(self, symbol: str) -> pd.DataFrame | None:
        if symbol not in self._intraday:
            files = sorted((self.data_dir / "intraday").glob(f"{symbol}_1min_*.csv"))
            self._intraday[symbol] = load(files[0], adjust="none") if files else pd.DataFrame()
        frame = self._intraday[symbol]
        return None if frame.empty else frame

    def closes(self, bars: pd.DataFrame) -> np.ndarray:
        """The close column of one of this market's bar frames as a cached float array."""
        key = id(bars)
        cached = self._closes.get(key)
        if cached is None or cached[0] is not bars:
            cached = (bars, bars["close"].to_numpy(dtype=float))
            self._closes[key] = cached
        return cached[1]

    def price_bars(self, symbol: str, now: pd.Timestamp) -> tuple[pd.DataFrame, pd.Timestamp]:
        """The finest bars covering ``now`` (SPY 1-minute inside its range, else daily) and
        the last label among them that has completed by ``now``."""
        intraday = self.intraday(symbol)
        if intraday is not None and intraday.index[0] <= now <= intraday.index[-1] + pd.Timedelta(
            days=1
        ):
            return intraday, now
        return self.daily(symbol), daily_cutoff(now)

    def current_bar(self, symbol: str, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Series]:
        """The last completed bar at ``now`` (finest resolution available)."""
        bars, done = self.price_bars(symbol, now)
        i = max(int(bars.index.searchsorted(done, side="right")) - 1, 0)
        return pd.Timestamp(bars.index[i]), bars.iloc[i]

    def price(self, symbol: str, now: pd.Timestamp) -> float:
        """The last completed bar's close at ``now`` (no pandas row: this runs for every
        position on every fill and account push)."""
        mark = self.marks.get(symbol)
        if mark is not None:
            return mark()
        inst = self.instruments.get(symbol)
        if inst is not None and inst.option is not None:
            return self.options.mark(inst.option, now)
        if symbol in self._chain_only:
            return self.options.underlying_price(symbol, now) or 0.0
        bars, done = self.price_bars(symbol, now)
        i = max(int(bars.index.searchsorted(done, side="right")) - 1, 0)
        return float(self.closes(bars)[i])

    def next_release(
        self, symbol: str, after: pd.Timestamp, bar_size: str, use_rth: bool, now: pd.Timestamp
    ) -> pd.Timestamp | None:
        """When the bar that follows the one labelled ``after`` first exists (a daily bar at
        its close; an intraday bar when its first minute does), or None past the data."""
        rule = calendar.BAR_SIZES.get(bar_size)
        if rule is None:
            return None
        if rule in ("1D", "1W", "1M"):
            daily = self.daily(symbol)
            i = int(daily.index.searchsorted(after, side="right"))
            return session_close(pd.Timestamp(daily.index[i])) if i < len(daily) else None
        index = self._minutes(symbol, use_rth)
        if index is None:
            return None
        start = max(after + pd.Timedelta(rule), now + pd.Timedelta(microseconds=1))
        i = int(index.searchsorted(start, side="left"))
        return pd.Timestamp(index[i]) if i < len(index) else None

    def _minutes(self, symbol: str, use_rth: bool) -> pd.DatetimeIndex | None:
        key = (symbol, use_rth)
        if key not in self._minute_index:
            bars = self.intraday(symbol)
            if bars is None:
                return None
            idx = pd.DatetimeIndex(bars.index)
            if use_rth:
                idx = idx[calendar.in_regular_hours(idx)]
            self._minute_index[key] = idx
        return self._minute_index[key]

    def last_time(self) -> pd.Timestamp:
        """The close of the last shipped daily bar: the default 'now' of the simulated clock."""
        symbol = "SPY" if "SPY" in self.instruments else next(iter(self.instruments))
        return session_close(pd.Timestamp(self.daily(symbol).index[-1]))

    def history(
        self, symbol: str, end: pd.Timestamp, duration: str, bar_size: str, what: str, use_rth: bool
    ) -> pd.DataFrame:
        """Bars ending at or before ``end`` covering ``duration`` (IB units S/D/W/M/Y)."""
        if bar_size not in calendar.BAR_SIZES:
            raise HistoryError(f"Invalid bar size {bar_size!r}")
        rule = calendar.BAR_SIZES[bar_size]
        if rule is None:
            raise HistoryError(f"bar size {bar_size!r} needs tick data, which is not shipped")
        m = _DURATION.match(duration)
        if not m:
            raise HistoryError(f"Invalid duration {duration!r}; use e.g. '30 D', '1 Y', '3600 S'")
        count, unit = int(m.group(1)), m.group(2)
        span = {
            "S": pd.Timedelta(seconds=count),
            "D": pd.Timedelta(days=count),
            "W": pd.Timedelta(weeks=count),
        }.get(unit)
        start = (
            end - span
            if span is not None
            else end - pd.DateOffset(months=count if unit == "M" else 12 * count)
        )
        return self.bars_between(symbol, start, end, bar_size, what, use_rth)

    def bars_between(
        self,
        symbol: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        bar_size: str,
        what: str,
        use_rth: bool,
    ) -> pd.DataFrame:
        """Bars labelled in (start, end] at ``bar_size`` (validated by :meth:`history`)."""
        rule = calendar.BAR_SIZES[bar_size]
        assert rule is not None
        if what not in ("TRADES", "MIDPOINT", "ADJUSTED_LAST"):
            raise HistoryError(
                f"whatToShow {what!r} is not supported; use TRADES, MIDPOINT or ADJUSTED_LAST"
            )
        if rule in ("1D", "1W", "1M"):
            bars = self.daily(symbol, adjusted=what == "ADJUSTED_LAST")
            end = min(end, daily_cutoff(end))
        else:
            intraday = self.intraday(symbol)
            if intraday is None:
                raise HistoryError(f"HMDS query returned no data: no intraday bars for {symbol}")
            bars = intraday
            if use_rth:
                bars = bars[calendar.in_regular_hours(pd.DatetimeIndex(bars.index))]
        bars = bars[(bars.index > start) & (bars.index <= end)]
        if rule not in ("1min", "1D"):
            bars = _aggregate(bars, rule)
        if bars.empty:
            raise HistoryError("HMDS query returned no data")
        if what == "MIDPOINT":
            bars = bars.assign(volume=-1.0)
        return bars


def _aggregate(bars: pd.DataFrame, rule: str) -> pd.DataFrame:
    """OHLCV bars of ``rule``; intraday buckets are labelled by their start, weekly and
    monthly ones (like IB's) by their first trading day."""
    calendar = {"1W": "W-FRI", "1M": "ME"}.get(rule)
    buckets = bars.resample(
        calendar or rule,
        label="left" if calendar is None else "right",
        closed="left" if calendar is None else "right",
    )
    out = buckets.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    if calendar is not None:
        out.index = pd.DatetimeIndex(
            bars.index.to_series().resample(calendar, label="right", closed="right").first()
        )
    return out.dropna(subset=["open"])


def format_bar_time(ts: pd.Timestamp, daily: bool, format_date: int) -> str:
    """IB bar dates: ``YYYYMMDD`` for daily bars; else ``YYYYMMDD HH:MM:SS UTC`` or epoch."""
    if daily:
        return ts.strftime("%Y%m%d")
    if format_date == 2:
        return str(int(ts.timestamp()))
    return ts.tz_convert("UTC").strftime("%Y%m%d %H:%M:%S UTC")


def parse_end(text: str, clock: SimClock) -> pd.Timestamp:
    """``endDateTime``: empty = now (simulated); ``YYYYMMDD HH:MM:SS [zone]`` or ``-`` form."""
    text = text.strip()
    if not text:
        return clock.now()
    m = re.match(r"^(\d{8})[ -](\d{2}:\d{2}:\d{2})(?:\s+(\S+))?$", text)
    if not m:
        raise HistoryError(f"Invalid endDateTime {text!r}; use 'YYYYMMDD HH:MM:SS UTC'")
    ts = pd.Timestamp(f"{m.group(1)} {m.group(2)}")
    zone = m.group(3) or "UTC"
    try:
        return ts.tz_localize(zone).tz_convert("UTC")
    except Exception:
        raise HistoryError(f"Unknown time zone {zone!r} in endDateTime") from None


def bar_fields(bars: pd.DataFrame, daily: bool, format_date: int) -> list[str | int | float]:
    """The repeated 8-field bar block of ``historicalData``."""
    out: list[str | int | float] = []
    wap = ((bars["high"] + bars["low"] + bars["close"]) / 3.0).to_numpy()
    for ts, o, h, lo, c, v, w in zip(
        bars.index,
        bars["open"],
        bars["high"],
        bars["low"],
        bars["close"],
        bars["volume"],
        wap,
        strict=True,
    ):
        out += [
            format_bar_time(ts, daily, format_date),
            float(o),
            float(h),
            float(lo),
            float(c),
            float(v),
            float(np.round(w, 6)),
            0,
        ]
    return out


def five_second_bars(minute: pd.DataFrame) -> pd.DataFrame:
    """Twelve 5-second bars per 1-minute bar from a path model: open -> first extreme ->
    other extreme -> close in straight lines (the high first when the bar closes up), volume
    split evenly (remainder to the last). Their aggregate is the minute bar exactly."""
    rows = []
    for ts, o, h, lo, c, v in zip(
        minute.index,
        minute["open"],
        minute["high"],
        minute["low"],
        minute["close"],
        minute["volume"],
        strict=True,
    ):
        first, second = (h, lo) if c >= o else (lo, h)
        knots_t = np.array([0.0, 20.0, 40.0, 60.0])
        knots_p = np.array([o, first, second, c])
        share = np.full(12, np.floor(v / 12))
        share[-1] = v - share[:-1].sum()
        for k in range(12):
            t0, t1 = 5.0 * k, 5.0 * (k + 1)
            inner = knots_t[(knots_t > t0) & (knots_t < t1)]
            points = np.interp(np.concatenate(([t0], inner, [t1])), knots_t, knots_p)
            rows.append(
                (
                    ts + pd.Timedelta(seconds=t0),
                    points[0],
                    points.max(),
                    points.min(),
                    points[-1],
                    share[k],
                )
            )
    out = pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume"])
    return out.set_index("time")
