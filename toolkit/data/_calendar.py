"""Exchange dates of bars, and date bounds that mean exchange dates.

Daily bars are stamped at midnight UTC of their session date (the loader's convention), so
their date is the UTC date; intraday bars carry real instants, whose date is taken in the
exchange's time zone (America/New_York for the shipped US instruments). A 20:00 New York bar
on May 16 is 00:00 UTC on May 17, and still belongs to May 16.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from toolkit.errors import DataError

EXCHANGE_TZ = "America/New_York"
_DAY_NS = 86_400_000_000_000
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}/\d{2}/\d{2}|\d{8}")


def check_zone(tz: str, what: str) -> str:
    """``tz`` if it names an IANA time zone, else a DataError saying which argument."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DataError(
            f"{what}={tz!r} is not a time zone; use an IANA name such as 'America/New_York'."
        ) from None
    return tz


def session_days(index: pd.DatetimeIndex, tz: str = EXCHANGE_TZ) -> np.ndarray:
    """Exchange date of each bar as whole days since 1970-01-01 (int64).

    All stamps at midnight UTC: daily bars, dated by their stamp. Otherwise each instant's
    date in ``tz`` (naive stamps are taken as UTC, as the loader does).
    """
    idx = pd.DatetimeIndex(index)
    ns = idx.as_unit("ns").asi8
    if len(ns) and not (ns % _DAY_NS).any():
        return np.asarray(ns // _DAY_NS, dtype=np.int64)
    utc = idx.tz_localize("UTC") if idx.tz is None else idx
    local = utc.tz_convert(tz).tz_localize(None)
    return np.asarray(local.normalize().as_unit("ns").asi8 // _DAY_NS, dtype=np.int64)


def is_date_only(value: object) -> bool:
    """True for a calendar date without a time of day: ``"2024-05-17"`` or a ``date``."""
    if isinstance(value, str):
        return _DATE_ONLY.fullmatch(value.strip()) is not None
    return isinstance(value, date) and not isinstance(value, datetime)


def bounds_mask(
    index: pd.DatetimeIndex,
    start: str | date | pd.Timestamp | None,
    end: str | date | pd.Timestamp | None,
    tz: str = EXCHANGE_TZ,
) -> np.ndarray:
    """Bars inside ``[start, end]``, both inclusive.

    A date-only bound is that exchange date, whole (from its first bar to its last, in
    ``tz``); a bound with a time is that instant (naive times are UTC).
    """
    idx = pd.DatetimeIndex(index)
    keep = np.ones(len(idx), dtype=bool)
    days: np.ndarray | None = None
    for bound, is_start in ((start, True), (end, False)):
        if bound is None:
            continue
        try:
            ts = pd.Timestamp(bound)
        except ValueError:
            raise DataError(
                f"{'start' if is_start else 'end'}={bound!r} is not a date or time; "
                "write it as 2024-05-17 or 2024-05-17 09:30-04:00."
            ) from None
        if is_date_only(bound):
            if days is None:
                days = session_days(idx, tz)
            day = int(ts.normalize().as_unit("ns").value // _DAY_NS)
            keep &= days >= day if is_start else days <= day
        else:
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            keep &= idx >= ts if is_start else idx <= ts
    return keep
