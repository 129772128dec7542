"""Which streamed bars are complete, and their arrays for the signal function.

IB's keepUpToDate stream keeps the bar in progress last and updates it; a bar is complete
once a later bar exists or once the broker's clock has passed its end (a daily bar ends at
its session's New York close, 16:00 or 13:00 on an early-close day, an intraday bar after its
length). Deciding on an unfinished bar would be look-ahead in reverse: a signal on a close
that is not yet the close.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit.data import calendar

_OHLCV = ("open", "high", "low", "close", "volume")
_EPOCH = dt.date(1970, 1, 1).toordinal()  # day 0 of numpy's datetime64[D]


def bar_label(date: dt.date | dt.datetime) -> pd.Timestamp:
    """A bar's label as the engine stores it: daily bars at midnight UTC of their date."""
    if isinstance(date, dt.datetime):
        ts = pd.Timestamp(date)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return pd.Timestamp(date).tz_localize("UTC")


def bar_end(label: pd.Timestamp, bar_size: str) -> pd.Timestamp:
    """When the bar labelled ``label`` is over (a daily bar at its session's close)."""
    if bar_size == "1 day":
        return calendar.session_close(label.date())
    return label + calendar.bar_length(bar_size)


def next_open(label: pd.Timestamp, bar_size: str) -> pd.Timestamp:
    """The latest time an order decided on the bar labelled ``label`` still gets the fill a
    backtest assumes: for a daily bar the next session's open (09:30 New York on the next
    trading day: weekends and exchange holidays skipped), for an intraday one the end of the
    next bar (in the next session when the bar ended its own)."""
    if bar_size == "1 day":
        return calendar.session_open(calendar.next_trading_day(label.date()))
    end = bar_end(label, bar_size)
    day = calendar.local_date(label)
    if calendar.is_trading_day(day) and end >= calendar.session_close(day):
        end = calendar.session_open(calendar.next_trading_day(day))
    return end + calendar.bar_length(bar_size)


def frame(bars: Sequence[Any]) -> pd.DataFrame:
    """ib_async BarData objects as an OHLCV frame on a UTC index (a volume IB does not know,
    -1, as 0). Built as one float64 block: a session rebuilds each stream's frame, a year of
    bars, on every bar update."""
    values = np.array(
        [
            (float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume))
            for b in bars
        ],
        dtype=np.float64,
    ).reshape(-1, 5)
    np.maximum(values[:, 4], 0.0, out=values[:, 4])
    return pd.DataFrame(values, index=_labels([b.date for b in bars]), columns=list(_OHLCV))


def _labels(dates: list[Any]) -> pd.DatetimeIndex:
    """:func:`bar_label` of each date; daily bars (``date`` objects) in one conversion from
    their day numbers (a Timestamp per bar was most of a frame's ~5 ms a symbol)."""
    if dates and all(type(d) is dt.date for d in dates):
        ordinals = np.fromiter((d.toordinal() for d in dates), np.int64, len(dates))
        days = pd.DatetimeIndex((ordinals - _EPOCH).astype("datetime64[D]"), name="time")
        return days.as_unit(bar_label(dates[0]).unit).tz_localize("UTC")
    return pd.DatetimeIndex([bar_label(d) for d in dates], name="time")


def completed(bars: pd.DataFrame, now: pd.Timestamp, bar_size: str) -> pd.DataFrame:
    """The rows of ``bars`` that are complete at broker time ``now``."""
    if bars.empty:
        return bars
    last = pd.Timestamp(bars.index[-1])
    return bars if now >= bar_end(last, bar_size) else bars.iloc[:-1]


def arrays(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """(open, high, low, close, volume) as contiguous float64 arrays, the signal's inputs."""
    return tuple(
        np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64))
        for c in ("open", "high", "low", "close", "volume")
    )
