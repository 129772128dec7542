"""Turn a raw table of bars into a clean OHLCV frame, or say exactly what is wrong with it.

Each check yields the offending rows; in strict mode the first failing check raises a
:class:`DataError` naming the file, the row (the line in a CSV, counting the header as line 1)
and the remedy. With ``repair="drop"`` offending rows are removed; ``repair="fix"`` also
widens high/low to contain open and close instead of dropping those rows.

Formats read: the toolkit's own (``date``/``timestamp``, OHLCV, optional ``adj_close``),
files without ``adj_close`` (prices taken as stored), and Alpha Vantage's
TIME_SERIES_DAILY_ADJUSTED export (``adjusted_close``, ``dividend_amount``,
``split_coefficient``, rows newest first). A file whose rows run newest first is read in
time order; line numbers in errors stay the file's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from toolkit.data.calendar import EXCHANGE_TZ
from toolkit.errors import DataError

Repair = Literal["drop", "fix"] | None
PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = (*PRICE_COLUMNS, "volume")
TIME_COLUMNS = ("timestamp", "datetime", "date", "time")
# Other vendors' names for our columns (Alpha Vantage writes adjusted_close).
COLUMN_ALIASES = {"adjusted_close": "adj_close", "adjclose": "adj_close"}
# Optional corporate-action columns kept beside the prices (Alpha Vantage's daily-adjusted
# export): a split day's raw-price jump is expected, not an implausible move.
ACTION_COLUMNS = ("dividend_amount", "split_coefficient")
# open/close beyond high/low by at most this relative amount is rounding noise of a vendor's
# adjustment arithmetic (the yfinance auto_adjust stock files carry 1-ulp cases, <= 2.1e-16),
# not a bad bar: high/low are widened to contain it. Anything larger is an error.
ROUNDING_TOLERANCE = 1e-12
_SHOWN_ROWS = 5
# A bar whose prices move beyond this factor from the previous close (up x2, down to half)
# is named in a warning. The shipped daily files stay within x1.45 in a day, except OXY's
# real fall to x0.48 on 2020-03-09 (the oil-price war), which the warning names.
JUMP_FACTOR = 2.0
_OFFSET = r"(?:(?P<sign>[+-])(?P<hh>\d\d):?(?P<mm>\d\d)|(?P<z>Z))$"


@dataclass
class RepairReport:
    """How many rows each problem affected, and how many rows were dropped in total."""

    path: str
    counts: dict[str, int] = field(default_factory=dict)
    dropped: int = 0

    def add(self, problem: str, n: int) -> None:
        if n:
            self.counts[problem] = self.counts.get(problem, 0) + n

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form, stored with the cached frame."""
        return {"counts": dict(self.counts), "dropped": self.dropped}

    @classmethod
    def from_record(cls, path: str, record: dict[str, Any]) -> RepairReport:
        return cls(path, {str(k): int(v) for k, v in record["counts"].items()}, record["dropped"])

    def __str__(self) -> str:
        if not self.counts:
            return f"{self.path}: no repairs needed"
        parts = ", ".join(f"{n} {problem}" for problem, n in self.counts.items())
        return f"{self.path}: repaired {parts}; dropped {self.dropped} rows in total"


def _row_label(lines: np.ndarray, mask: np.ndarray, is_csv: bool) -> str:
    rows = lines[mask][:_SHOWN_ROWS]
    unit = "line" if is_csv else "row"
    shown = ", ".join(str(int(r)) for r in rows)
    more = int(mask.sum()) - len(rows)
    return f"{unit}{'s' if len(rows) > 1 else ''} {shown}" + (
        f" (and {more} more)" if more > 0 else ""
    )


def _fail(path: Path, lines: np.ndarray, mask: np.ndarray, problem: str, remedy: str) -> DataError:
    where = _row_label(lines, mask, path.suffix == ".csv")
    return DataError(
        f"{path}: {where}: {problem}. {remedy} "
        f"Or load with repair='drop' to drop such rows (repair='fix' also mends high/low)."
    )


def _find_time_column(frame: pd.DataFrame, path: Path) -> str:
    for name in TIME_COLUMNS:
        if name in frame.columns:
            return name
    raise DataError(
        f"{path}: no timestamp column; expected one of {', '.join(TIME_COLUMNS)} "
        f"but found {', '.join(map(str, frame.columns)) or 'no columns'}. Rename the date column."
    )


def clean_bars(
    raw: pd.DataFrame,
    path: Path,
    *,
    repair: Repair = None,
    naive_tz: str = "UTC",
    exchange_tz: str = EXCHANGE_TZ,
) -> tuple[pd.DataFrame, RepairReport]:
    """Validate ``raw`` (columns as read from the file) into a UTC-indexed float64 OHLCV frame.

    ``naive_tz`` is the zone of timestamps written without an offset (daily dates are taken
    as midnight UTC of the session date). Timestamps must all carry a UTC offset or all lack
    one, and offsets may change only as ``exchange_tz``'s daylight saving does; otherwise
    the file is refused (no repair can tell which rows are right).
    """
    if repair not in (None, "drop", "fix"):
        raise DataError(f"repair={repair!r} is not valid; use None, 'drop' or 'fix'.")
    report = RepairReport(str(path))
    is_csv = path.suffix == ".csv"
    if raw.shape[0] == 0:
        raise DataError(f"{path}: the file has no data rows. Re-download or regenerate it.")
    frame = raw.copy()
    names = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    frame.columns = [
        COLUMN_ALIASES.get(c, c) if COLUMN_ALIASES.get(c) not in names else c for c in names
    ]
    time_col = _find_time_column(frame, path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"found {', '.join(frame.columns)}. The file needs {time_col}, "
            f"{', '.join(REQUIRED_COLUMNS)} (adj_close optional)."
        )
    # Line numbers as a user sees them in a CSV editor: header is line 1.
    lines = np.arange(len(frame)) + (2 if is_csv else 1)
    keep = np.ones(len(frame), dtype=bool)

    def check(mask: np.ndarray, problem: str, remedy: str, fixable: bool = False) -> None:
        nonlocal keep
        mask = mask & keep
        if not mask.any():
            return
        if repair is None:
            raise _fail(path, lines, mask, problem, remedy)
        report.add(problem, int(mask.sum()))
        if not (fixable and repair == "fix"):
            keep &= ~mask

    stamps = _parse_times(frame[time_col], naive_tz)
    check(
        stamps.isna().to_numpy(),
        f"unparseable {time_col}",
        "Write timestamps as ISO 8601, e.g. 2024-01-31 or 2024-01-31 09:30:00-05:00.",
    )
    _check_offsets(frame[time_col], stamps, keep, lines, path, exchange_tz)
    newest_first = _newest_first(stamps.to_numpy(), keep)
    if newest_first:  # read in time order; each row keeps its own line number
        frame, stamps = frame.iloc[::-1], stamps.iloc[::-1]
        lines, keep = lines[::-1].copy(), keep[::-1].copy()

    optional = ["adj_close", *ACTION_COLUMNS]
    columns = [*PRICE_COLUMNS, "volume"] + [c for c in optional if c in frame.columns]
    values: dict[str, np.ndarray] = {
        c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64) for c in columns
    }
    for c in columns:
        v = values[c]
        check(~np.isfinite(v), f"missing or non-numeric {c}", f"Fill in the {c} value.")
        if c == "volume":
            check(v < 0, "negative volume", "Volumes must be >= 0.")
        elif c == "dividend_amount":
            check(v < 0, "negative dividend_amount", "Dividends must be >= 0 (0 on other days).")
        elif c == "split_coefficient":
            check(v <= 0, "zero or negative split_coefficient", "Use 1 on days without a split.")
        else:
            check(v <= 0, f"zero or negative {c}", "Prices must be > 0.")
    o, h, lo, c_ = values["open"], values["high"], values["low"], values["close"]
    with np.errstate(invalid="ignore"):
        top, bottom = np.maximum(o, c_), np.minimum(o, c_)
        noise_h = (h < top) & (top - h <= ROUNDING_TOLERANCE * top)
        noise_l = (lo > bottom) & (lo - bottom <= ROUNDING_TOLERANCE * bottom)
    h = values["high"] = np.where(noise_h, top, h)
    lo = values["low"] = np.where(noise_l, bottom, lo)
    with np.errstate(invalid="ignore"):
        check(h < lo, "high below low", "Swap or correct high and low.", fixable=True)
        check(
            (h < np.maximum(o, c_)) | (lo > np.minimum(o, c_)),
            "open/close outside the high-low range",
            "Correct the bar's high/low.",
            fixable=True,
        )
    if repair == "fix":
        stacked = np.vstack([o, h, lo, c_])
        with np.errstate(invalid="ignore"):
            values["high"] = np.nanmax(stacked, axis=0)
            values["low"] = np.nanmin(stacked, axis=0)

    ts = stamps.to_numpy()
    order_ok = _check_order(ts, keep)
    if repair is None:
        dup = _duplicates(ts, keep)
        if dup.any():
            raise _fail(path, lines, dup, "duplicate timestamp", "Remove the repeated bar.")
        if not order_ok.all():
            raise _fail(
                path,
                lines,
                ~order_ok,
                "timestamp earlier than the row after it (the file's rows run newest first)"
                if newest_first
                else "timestamp earlier than the row before",
                "Sort the file by time.",
            )

    out = pd.DataFrame({k: values[k][keep] for k in columns}, index=pd.DatetimeIndex(ts[keep]))
    index = pd.DatetimeIndex(out.index)
    out.index = index.tz_localize("UTC") if index.tz is None else index
    if repair is not None:
        if not order_ok.all():
            report.add("out-of-order rows sorted", int((~order_ok).sum()))
        out = out.sort_index(kind="stable")
        dup_mask = out.index.duplicated(keep="last")
        report.add("duplicate timestamps (kept the last)", int(dup_mask.sum()))
        out = out[~dup_mask]
        report.dropped = len(frame) - len(out)
    if out.empty:
        raise DataError(f"{path}: no valid rows left after repair ({report}). Fix the file.")
    out.index.name = "timestamp"
    return out, report


def _offset_minutes(col: pd.Series) -> np.ndarray:
    """Each stamp's written UTC offset in minutes; NaN where it has none."""
    parts = col.astype("string").str.strip().str.extract(_OFFSET)
    sign = np.where(parts["sign"].eq("-").fillna(False).to_numpy(dtype=bool), -1.0, 1.0)
    hh = pd.to_numeric(parts["hh"], errors="coerce").to_numpy(dtype=np.float64)
    mm = pd.to_numeric(parts["mm"], errors="coerce").to_numpy(dtype=np.float64)
    minutes = sign * (hh * 60 + mm)
    return np.where(parts["z"].notna().to_numpy(dtype=bool), 0.0, minutes)


def _fmt_offset(minutes: float) -> str:
    m = int(minutes)
    return f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


def _check_offsets(
    col: pd.Series,
    stamps: pd.Series,
    keep: np.ndarray,
    lines: np.ndarray,
    path: Path,
    exchange_tz: str,
) -> None:
    """Refuse a file whose stamps mix naive and offset forms, or mix UTC offsets other than
    by ``exchange_tz``'s daylight saving: its order and spacing cannot be trusted."""
    offsets = _offset_minutes(col)
    has = ~np.isnan(offsets)
    if (has & keep).any() and (~has & keep).any():
        naive, aware = ~has & keep, has & keep
        odd = naive if naive.sum() <= aware.sum() else aware
        what = "no UTC offset" if odd is naive else "a UTC offset"
        others = "have one" if odd is naive else "have none"
        raise DataError(
            f"{path}: {_row_label(lines, odd, path.suffix == '.csv')}: timestamp with {what} "
            f"while the file's other timestamps {others}. Write every timestamp the same way "
            "(all with an offset, e.g. 2024-01-31 09:30:00-05:00, or all without)."
        )
    rows = has & keep
    distinct = np.unique(offsets[rows])
    if len(distinct) < 2:
        return
    utc = pd.DatetimeIndex(stamps[rows])
    local = utc.tz_convert(exchange_tz).tz_localize(None)
    expected = (local - utc.tz_localize(None)) / pd.Timedelta(minutes=1)
    bad_rows = offsets[rows] != np.asarray(expected, dtype=np.float64)
    if not bad_rows.any():  # daylight saving of the exchange's zone
        return
    reference = f"the offset {exchange_tz} has at that time"
    if bad_rows.all():  # the file does not follow the exchange zone: name the unusual rows
        values, counts = np.unique(offsets[rows], return_counts=True)
        usual = values[int(np.argmax(counts))]
        bad_rows = offsets[rows] != usual
        reference = f"the file's usual offset {_fmt_offset(usual)}"
    bad = np.zeros(len(keep), dtype=bool)
    bad[np.flatnonzero(rows)[bad_rows]] = True
    raise DataError(
        f"{path}: {_row_label(lines, bad, path.suffix == '.csv')}: UTC offset differs from "
        f"{reference}; the file mixes offsets {', '.join(_fmt_offset(o) for o in distinct)}. "
        "Write every timestamp in one time zone (or in UTC); for a file kept in another "
        "zone with daylight saving, load it with exchange_tz set to that zone."
    )


def implausible_moves(frame: pd.DataFrame, factor: float | None) -> list[str]:
    """Bars whose open, high, low or close moves beyond ``factor`` from the previous close,
    or whose adj_close moves beyond it from the previous adj_close, as "date: fields xR".

    On a day the file records a split (``split_coefficient`` other than 1) the raw prices
    are expected to jump, so only adj_close is checked there."""
    if factor is None or len(frame) < 2:
        return []
    prev = frame["close"].to_numpy()[:-1]
    split = np.zeros(len(frame) - 1, dtype=bool)
    if "split_coefficient" in frame.columns:
        split = frame["split_coefficient"].to_numpy()[1:] != 1.0
    ratios = {c: np.where(split, 1.0, frame[c].to_numpy()[1:] / prev) for c in PRICE_COLUMNS}
    if "adj_close" in frame.columns:
        adj = frame["adj_close"].to_numpy()
        ratios["adj_close"] = adj[1:] / adj[:-1]
    log_factor = np.log(factor)
    found = []
    index = pd.DatetimeIndex(frame.index)
    daily = bool(len(index)) and bool((index == index.normalize()).all())
    hits = np.zeros(len(frame) - 1, dtype=bool)
    for r in ratios.values():
        hits |= np.abs(np.log(r)) > log_factor
    for i in np.flatnonzero(hits):
        when = index[int(i) + 1]
        label = str(when.date()) if daily else when.isoformat()
        parts = [f"{c} x{r[i]:.3g}" for c, r in ratios.items() if abs(np.log(r[i])) > log_factor]
        found.append(f"{label} ({', '.join(parts)}; previous close {prev[i]:g})")
    return found


def _parse_times(col: pd.Series, naive_tz: str) -> pd.Series:
    """Parse ISO 8601 stamps to UTC; stamps without an offset are taken in ``naive_tz``."""
    text = col.astype("string").str.strip()
    has_offset = text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True, na=False)
    result = pd.Series(pd.NaT, index=col.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        result[has_offset] = pd.to_datetime(
            text[has_offset], errors="coerce", format="ISO8601", utc=True
        )
    if (~has_offset).any():
        naive = pd.to_datetime(text[~has_offset], errors="coerce", format="ISO8601")
        local = naive.dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="NaT")
        result[~has_offset] = local.dt.tz_convert("UTC")
    return result


def _newest_first(ts: np.ndarray, keep: np.ndarray) -> bool:
    """True when most steps between kept, parsed rows go back in time (a newest-first file,
    as Alpha Vantage writes them); a few rows out of place are then named by the order check."""
    idx = np.flatnonzero(keep & ~pd.isna(ts))
    if len(idx) < 2:
        return False
    kept = ts[idx]
    return int((kept[1:] < kept[:-1]).sum()) > int((kept[1:] > kept[:-1]).sum())


def _duplicates(ts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    dup = np.zeros(len(ts), dtype=bool)
    idx = np.flatnonzero(keep)
    dup[idx] = pd.Index(ts[idx]).duplicated(keep="first")
    return dup


def _check_order(ts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """True where a kept row is not earlier than the previous kept row."""
    ok = np.ones(len(ts), dtype=bool)
    idx = np.flatnonzero(keep)
    if len(idx) > 1:
        kept = ts[idx]
        ok[idx[1:]] = kept[1:] >= kept[:-1]
    return ok
