"""Load Cboe's daily history of the VIX family (VIX, VIX9D, VIX3M, VIX6M), faults handled.

Cboe's files (https://www.cboe.com/tradable_products/vix/vix_historical_data/) are
``DATE,OPEN,HIGH,LOW,CLOSE`` with MM/DD/YYYY dates, and carry three kinds of real fault; the
loader's policy for each (counted in :class:`VixReport`):

* **rows on NYSE holidays** (VIX: 33, the 2004-06-11 Reagan closing and, from 2022, the
  holidays Cboe's extended session computed the index on): dropped by default
  (``holidays="keep"`` keeps them), so the index lines up with SPX and the option files;
* **close-only rows** (open = high = low = close: VIX 1990-1991, VIX9D 2011-2013, VIX6M
  2008-2013, one VIX row on 2004-06-11): kept, ``close_only`` is True and open/high/low are
  NaN, so no range-based estimate sees a fake zero range;
* **inconsistent ranges** (VIX: 47 rows 1992-2006 whose open lies outside high-low, VIX6M:
  2019-07-05 with high below low): kept, ``range_fault`` is True; an open outside a valid
  high-low range becomes NaN, and where high-low itself is invalid (high < low, or the close
  outside it) open, high and low all become NaN -- the close is kept.

NYSE trading days missing from the file (VIX: 1991-03-01, 1997-01-31, 1997-11-26,
1999-12-31) are counted and listed in the report, never filled. Anything else is a corrupt
file and raises a :class:`DataError` naming file, line and field: an unparseable date, an
empty or non-numeric value, a value <= 0, a repeated date, dates out of order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from toolkit.data._paths import default_data_dir
from toolkit.data.calendar import is_trading_day, trading_days
from toolkit.errors import DataError

NAMES = ("VIX", "VIX9D", "VIX3M", "VIX6M")
FIELDS = ("open", "high", "low", "close")
_SHOWN = 5


@dataclass(frozen=True)
class VixReport:
    """What the load did to the file's faults: rows dropped on NYSE holidays, close-only
    rows, rows with an inconsistent range, and NYSE trading days the file lacks."""

    path: str
    holiday_rows: tuple[str, ...] = ()
    close_only: int = 0
    range_faults: int = 0
    missing_days: tuple[str, ...] = field(default=())
    holidays_dropped: bool = True

    def __str__(self) -> str:
        held = "dropped" if self.holidays_dropped else "kept"
        missing = ", ".join(self.missing_days[:_SHOWN]) + (
            f" (and {len(self.missing_days) - _SHOWN} more)"
            if len(self.missing_days) > _SHOWN
            else ""
        )
        return (
            f"{self.path}: {len(self.holiday_rows)} rows on NYSE holidays {held}; "
            f"{self.close_only} close-only rows (open/high/low NaN); {self.range_faults} rows "
            f"with an inconsistent range (faulty fields NaN); {len(self.missing_days)} NYSE "
            f"trading days missing{': ' + missing if missing else ''}"
        )


def _resolve(path_or_name: str | Path) -> Path:
    text = str(path_or_name)
    if text.upper() in NAMES:
        return default_data_dir() / "vix" / f"{text.upper()}.csv"
    path = Path(path_or_name)
    if not path.is_file():
        raise DataError(
            f"{path}: file not found. Pass a path or one of {', '.join(NAMES)} "
            f"(the shipped files in {default_data_dir() / 'vix'})."
        )
    return path


def _fail(path: Path, lines: np.ndarray, mask: np.ndarray, what: str, remedy: str) -> DataError:
    rows = lines[mask]
    shown = ", ".join(str(int(r)) for r in rows[:_SHOWN])
    more = f" (and {len(rows) - _SHOWN} more)" if len(rows) > _SHOWN else ""
    return DataError(f"{path}: line{'s' if len(rows) > 1 else ''} {shown}{more}: {what}. {remedy}")


def load_vix_sourced(
    path_or_name: str | Path, *, holidays: Literal["drop", "keep"] = "drop"
) -> tuple[pd.DataFrame, VixReport]:
    """:func:`load_vix`, returning the frame with the report of the faults it handled."""
    if holidays not in ("drop", "keep"):
        raise DataError(f"holidays={holidays!r} is not valid; use 'drop' or 'keep'.")
    path = _resolve(path_or_name)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty. Re-download it from Cboe.") from None
    except Exception as exc:  # parser errors come in many types; name the file either way
        raise DataError(f"{path}: cannot be read as CSV: {exc}. Check its format.") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in ("date", *FIELDS) if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"found {', '.join(raw.columns)}. Cboe's files have DATE,OPEN,HIGH,LOW,CLOSE."
        )
    if raw.empty:
        raise DataError(f"{path}: the file has no data rows. Re-download it from Cboe.")
    lines = np.arange(len(raw)) + 2  # the header is line 1
    text = raw["date"].astype(str).str.strip()
    dates = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        raise _fail(
            path, lines, bad, f"date {text[bad].iloc[0]!r} is not MM/DD/YYYY", "Fix the date."
        )
    values: dict[str, np.ndarray] = {}
    for name in FIELDS:
        cells = raw[name].astype(str).str.strip()
        v = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        bad = ~np.isfinite(v)
        if bad.any():
            raise _fail(
                path,
                lines,
                bad,
                f"{name} {cells[bad].iloc[0]!r} is empty or not a number",
                f"Fill in the {name}.",
            )
        bad = v <= 0
        if bad.any():
            raise _fail(path, lines, bad, f"{name} {v[bad][0]:g} is not positive", "Fix the value.")
        values[name] = v
    stamps = dates.to_numpy().astype("datetime64[ns]")
    repeated = np.asarray(pd.Index(stamps).duplicated(), dtype=bool)
    if repeated.any():
        raise _fail(path, lines, repeated, "date repeated", "Keep one row per date.")
    back = np.zeros(len(stamps), dtype=bool)
    back[1:] = stamps[1:] < stamps[:-1]
    if back.any():
        raise _fail(path, lines, back, "date earlier than the row before", "Sort by date.")

    days = pd.DatetimeIndex(stamps).date
    on_holiday = np.array([not is_trading_day(d) for d in days], dtype=bool)
    o, h, lo, c = (values[k] for k in FIELDS)
    close_only = (o == h) & (h == lo) & (lo == c)
    bad_range = (h < lo) | (c > h) | (c < lo)
    bad_open = ~bad_range & ((o > h) | (o < lo))
    keep = ~on_holiday if holidays == "drop" else np.ones(len(stamps), dtype=bool)
    nan = np.full(len(stamps), np.nan)
    frame = pd.DataFrame(
        {
            "open": np.where(close_only | bad_range | bad_open, nan, o),
            "high": np.where(close_only | bad_range, nan, h),
            "low": np.where(close_only | bad_range, nan, lo),
            "close": c,
            "close_only": close_only,
            "range_fault": bad_range | bad_open,
        },
        index=pd.DatetimeIndex(stamps, name="date"),
    )[keep]
    expected = trading_days(days[0], days[-1])
    absent = sorted(set(expected) - set(days))
    report = VixReport(
        str(path),
        holiday_rows=tuple(str(d) for d in np.asarray(days)[on_holiday]),
        close_only=int(close_only[keep].sum()),
        range_faults=int((bad_range | bad_open)[keep].sum()),
        missing_days=tuple(str(d) for d in absent),
        holidays_dropped=holidays == "drop",
    )
    return frame, report


def load_vix(
    path_or_name: str | Path, *, holidays: Literal["drop", "keep"] = "drop"
) -> pd.DataFrame:
    """Daily VIX-family history indexed by date (naive, the Cboe trading date).

    ``path_or_name`` is VIX, VIX9D, VIX3M or VIX6M (the shipped files) or a Cboe history
    file. Columns open, high, low, close (index points: 20.5 means 20.5% annualised 30-day
    implied vol for the VIX), close_only and range_fault; the module docstring says how each
    of Cboe's faults is handled. ``frame.attrs["report"]`` holds the report's text for
    convenience; :func:`load_vix_sourced` returns it as a :class:`VixReport`.
    """
    frame, report = load_vix_sourced(path_or_name, holidays=holidays)
    frame.attrs["report"] = str(report)
    return frame


def vix_term_structure(names: tuple[str, ...] = ("VIX9D", "VIX", "VIX3M", "VIX6M")) -> pd.DataFrame:
    """Closes of the shipped VIX-family indices side by side (9-day, 30-day, 3- and 6-month
    SPX implied vol), on the dates all of them have, with ``VIX3M / VIX`` as ``contango``
    (above 1: the usual upward term structure; below 1: backwardation, as in stress)."""
    closes = {name: load_vix(name)["close"] for name in names}
    frame = pd.concat(closes, axis=1, join="inner")
    if {"VIX", "VIX3M"} <= set(frame.columns):
        frame["contango"] = frame["VIX3M"] / frame["VIX"]
    return frame
