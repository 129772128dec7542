"""Load option quotes (one chain snapshot or end-of-day chains) into one canonical frame.

Five vendor formats are read (the format is told by the header):

* ``yfinance`` snapshots, three column variants: ``contractSymbol, optionType,
  expirationDate, underlyingPrice`` (data/options/SPY_chain_2026-02-11.csv), ``contractSymbol,
  Type, Expiration_Date`` without an underlying price (SPY_chain_2025-08-26.csv) and ``ticker,
  expiry, option_type, S, spot_date`` (SPY_chain_2026-05-01.csv);
* the optopsy / historicaloptiondata.com end-of-day format (``underlying, underlying_last,
  optionroot, type, expiration, quotedate``: the SPXW 2018 and VXX 2016 files);
* iVolatility's end-of-day format (``symbol, date, stock_price_close, option_symbol,
  option_expiration, call/put, style, iv``: the SPX 2011 file), where ``iv = -1`` means missing.

The canonical frame has one row per contract and quote date, sorted by quote date, expiry,
right and strike, with columns :data:`COLUMNS`: quote_date (the trading date), underlying
(the index for index options: SPXW quotes have underlying SPX and root SPXW), underlying_price,
expiry, right ('C'/'P'), strike, bid, ask, last, volume, open_interest, the vendor's iv and
Greeks (vendor values and units, NaN where absent or marked missing; not normalised -- compute
our own with toolkit.options), style ('A'/'E'), multiplier (100), symbol (the padded 21-character
OCC id, IB's localSymbol, e.g. ``SPXW  180131C01200000``), root (the OCC root / trading class)
and crossed (bid > ask).

Faults, and what the loader does with each (a trader wants a clear stop on a corrupt file and
no stop on what real feeds do; the tests write one malformed file per fault):

* refused with a :class:`DataError` naming the file, line(s), field and remedy (or, with
  ``repair="drop"``, those rows dropped and counted in a DataWarning, like the bar loader's
  repair; a missing column, an unknown format, a wrong quote date or underlying price are
  faults of the whole file and refused either way): a missing
  column or unknown format, an unparseable date, a non-numeric or empty strike/bid/ask/
  underlying price, a negative bid/ask/last/volume/open interest, a strike or underlying price
  <= 0, a right other than call/put, an expiry before the quote date, a quote date that is not
  a NYSE trading day, the same contract twice on one date, an OCC symbol that disagrees with
  the expiry/right/strike columns, a negative vendor iv (other than iVolatility's -1), a
  yfinance contract size other than REGULAR (100 shares), a snapshot whose trades postdate its
  quote date, an underlying price outside the bracket of yfinance's ``inTheMoney`` flags;
* kept and flagged: a crossed quote (bid > ask) keeps its row with ``crossed = True``: EOD
  snapshots of a stale side do cross, the contract's open interest and last trade are still
  real, and no price may be read from its quote (toolkit.options.implied returns
  CROSSED_MARKET for it);
* mapped, as each vendor documents: iVolatility's iv -1 (and its zero Greeks on those rows),
  yfinance's placeholder iv 1e-5, optopsy's iv 0 and its 0.01 floor with all Greeks zero
  become NaN; an empty yfinance ``volume`` (no trade that day) or ``openInterest`` becomes 0;
  an empty ``last`` becomes NaN (no trade reported), and so does every ``last``
  of an iVolatility file (the format has none).

Vendor Greeks keep the vendor's units, which differ between files even of one format
(measured here as the median ratio to Black-Scholes Greeks at the vendor's iv over the
near-the-money contracts of each shipped file; toolkit.options.conventions converts):

=====================  =============  ===========================  ========================
file                   gamma          theta                        vega
=====================  =============  ===========================  ========================
SPXW 2018 (optopsy)    per 1.00 of S  per year                     per 1.00 of vol
SPX 2011 (iVolatility) per 1.00 of S  per calendar day             per vol point (0.01)
VXX 2016 (optopsy)     x100           per calendar day x100        per 1.00 of vol
yfinance snapshots     (none)         (none)                       (none)
=====================  =============  ===========================  ========================

A snapshot's quote date is its ``spot_date`` column, else the date in its file name
(``..._2026-02-11.csv``), else the New York date of its latest trade (``quote_date=`` overrides
all); no trade may be later than that date. A file without an underlying price (the
2025-08-26 SPY snapshot) takes ``underlying_price=``, else the close of that date in the
shipped daily bars (data/daily/<UNDERLYING>.csv, unadjusted: the snapshot was taken after the
close), checked against the ``inTheMoney`` flags.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from toolkit.data._paths import default_data_dir
from toolkit.data.calendar import NEW_YORK, is_trading_day
from toolkit.data.loader import _warn, load_file
from toolkit.errors import DataError

COLUMNS = (
    "quote_date",
    "underlying",
    "underlying_price",
    "expiry",
    "right",
    "strike",
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "iv",
    "delta",
    "gamma",
    "theta",
    "vega",
    "style",
    "multiplier",
    "symbol",
    "root",
    "crossed",
)
VENDOR_FIELDS = ("iv", "delta", "gamma", "theta", "vega")
MULTIPLIER = 100.0
# Cash-settled index options are European; equity and ETF/ETN options American. Roots of
# index options map to their index (SPXW and SPXPM trade on SPX).
EUROPEAN = frozenset({"SPX", "XSP", "NDX", "RUT", "VIX", "DJX"})
INDEX_ROOTS = {"SPXW": "SPX", "SPXPM": "SPX", "NDXP": "NDX", "RUTW": "RUT", "VIXW": "VIX"}
_OCC = re.compile(r"^(?P<root>[A-Z0-9.]{1,6}) *(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
_NAME_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_SHOWN = 5
_RIGHTS = {"c": "C", "call": "C", "p": "P", "put": "P"}
Repair = Literal["drop"] | None


@dataclass(frozen=True)
class _Format:
    """How one vendor format spells the canonical fields (None: not in this format)."""

    name: str
    signature: tuple[str, ...]
    fields: dict[str, str | None]
    date_format: str | None  # None: ISO dates


_FORMATS = (
    _Format(
        "optopsy",
        ("underlying", "underlying_last", "optionroot", "type", "expiration", "quotedate"),
        {
            "quote_date": "quotedate",
            "underlying": "underlying",
            "underlying_price": "underlying_last",
            "expiry": "expiration",
            "right": "type",
            "strike": "strike",
            "bid": "bid",
            "ask": "ask",
            "last": "last",
            "volume": "volume",
            "open_interest": "openinterest",
            "iv": "impliedvol",
            "delta": "delta",
            "gamma": "gamma",
            "theta": "theta",
            "vega": "vega",
            "symbol": "optionroot",
            "style": None,
        },
        "%m/%d/%Y",
    ),
    _Format(
        "ivolatility",
        ("symbol", "date", "stock_price_close", "option_symbol", "option_expiration", "call/put"),
        {
            "quote_date": "date",
            "underlying": "symbol",
            "underlying_price": "stock_price_close",
            "expiry": "option_expiration",
            "right": "call/put",
            "strike": "strike",
            "bid": "bid",
            "ask": "ask",
            "last": None,
            "volume": "volume",
            "open_interest": "open_interest",
            "iv": "iv",
            "delta": "delta",
            "gamma": "gamma",
            "theta": "theta",
            "vega": "vega",
            "symbol": "option_symbol",
            "style": "style",
        },
        "%m/%d/%Y",
    ),
    _Format(
        "yfinance (ticker, expiry, option_type, S, spot_date)",
        ("ticker", "expiry", "option_type", "S", "spot_date", "contractSymbol"),
        {
            "quote_date": "spot_date",
            "underlying": "ticker",
            "underlying_price": "S",
            "expiry": "expiry",
            "right": "option_type",
            "symbol": "contractSymbol",
        },
        None,
    ),
    _Format(
        "yfinance (contractSymbol, optionType, expirationDate, underlyingPrice)",
        ("contractSymbol", "optionType", "expirationDate", "underlyingPrice"),
        {
            "quote_date": None,
            "underlying": None,
            "underlying_price": "underlyingPrice",
            "expiry": "expirationDate",
            "right": "optionType",
            "symbol": "contractSymbol",
        },
        None,
    ),
    _Format(
        "yfinance (contractSymbol, Type, Expiration_Date)",
        ("contractSymbol", "Type", "Expiration_Date"),
        {
            "quote_date": None,
            "underlying": None,
            "underlying_price": None,
            "expiry": "Expiration_Date",
            "right": "Type",
            "symbol": "contractSymbol",
        },
        None,
    ),
)
# The yfinance variants share these columns.
_YF_FIELDS = {
    "strike": "strike",
    "bid": "bid",
    "ask": "ask",
    "last": "lastPrice",
    "volume": "volume",
    "open_interest": "openInterest",
    "iv": "impliedVolatility",
    "delta": None,
    "gamma": None,
    "theta": None,
    "vega": None,
    "style": None,
}
# yfinance writes 1.0000000000000003e-05 as the iv of contracts it could not solve (133 to 231
# rows per shipped file); no real iv is below 0.1%.
_YF_PLACEHOLDER_IV = 1e-3
# optopsy's files floor iv at 0.01 on rows whose Greeks are all zero (310 VXX rows).
_OPTOPSY_FLOOR_IV = 0.01


class _Rows:
    """The file's rows with their CSV line numbers, and the one way to refuse some of them:
    :meth:`check` raises on the first offending rows, or with ``repair="drop"`` drops them
    and counts them by problem."""

    def __init__(self, path: Path, raw: pd.DataFrame, repair: Repair = None) -> None:
        self.path = path
        self.raw = raw
        self.repair = repair
        self.lines = np.arange(len(raw)) + 2  # the header is line 1
        self.keep = np.ones(len(raw), dtype=bool)
        self.dropped: dict[str, int] = {}

    def fail(self, mask: np.ndarray, field: str, problem: str, remedy: str) -> DataError:
        rows = self.lines[mask]
        shown = ", ".join(str(int(r)) for r in rows[:_SHOWN])
        more = f" (and {len(rows) - _SHOWN} more)" if len(rows) > _SHOWN else ""
        unit = "lines" if len(rows) > 1 else "line"
        return DataError(f"{self.path}: {unit} {shown}{more}: {field} {problem}. {remedy}")

    def check(
        self,
        mask: np.ndarray,
        field: str,
        problem: str,
        remedy: str,
        detail: Callable[[int], str] | None = None,
    ) -> None:
        """Refuse (or drop) the rows in ``mask``; ``detail(i)`` shows the first one's value."""
        mask = np.asarray(mask, dtype=bool) & self.keep
        if not mask.any():
            return
        if self.repair is None:
            shown = f" ({detail(int(np.flatnonzero(mask)[0]))})" if detail else ""
            raise self.fail(
                mask, field, f"{problem}{shown}", f"{remedy} Or load with repair='drop'."
            )
        key = f"{field} {problem}"
        self.dropped[key] = self.dropped.get(key, 0) + int(mask.sum())
        self.keep &= ~mask

    def text(self, column: str) -> pd.Series:
        return self.raw[column].astype(str).str.strip()

    def numbers(self, column: str, field: str, *, empty: float | None = None) -> np.ndarray:
        """The column as float64; an empty cell is ``empty`` (None: refused), text is refused
        (NaN in the rows a repair drops)."""
        text = self.text(column)
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        blank = (text == "").to_numpy()
        self.check(
            ~np.isfinite(values) & ~blank,
            field,
            "is not a finite number",
            "Fix the value.",
            lambda i: f"{column}={text.iloc[i]!r}",
        )
        if empty is None:
            self.check(blank, field, f"is empty ({column})", f"Fill in the {field}.")
        else:
            values[blank] = empty
        return values

    def dates(self, column: str, field: str, fmt: str | None) -> np.ndarray:
        text = self.text(column)
        parsed = pd.to_datetime(text, format=fmt or "%Y-%m-%d", errors="coerce")
        spelled = "MM/DD/YYYY" if fmt == "%m/%d/%Y" else "YYYY-MM-DD"
        self.check(
            parsed.isna().to_numpy(),
            field,
            "is not a date",
            f"Write it as {spelled}.",
            lambda i: f"{column}={text.iloc[i]!r}",
        )
        return parsed.to_numpy().astype("datetime64[ns]")


def _resolve(path: str | Path) -> Path:
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    if candidate.parent == Path("."):
        for name in (candidate.name, f"{candidate.name}.csv"):
            shipped = default_data_dir() / "options" / name
            if shipped.is_file():
                return shipped
    raise DataError(
        f"{candidate}: file not found (nor in {default_data_dir() / 'options'}). Check the path."
    )


def _read(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty. Re-download or regenerate it.") from None
    except Exception as exc:  # parser errors come in many types; name the file either way
        raise DataError(f"{path}: cannot be read as CSV: {exc}. Check its format.") from exc
    if raw.empty:
        raise DataError(f"{path}: the file has no data rows. Re-download or regenerate it.")
    return raw


def _detect(path: Path, columns: list[str]) -> _Format:
    present = set(columns)
    for fmt in _FORMATS:
        if set(fmt.signature) <= present:
            fields = (
                dict(fmt.fields)
                if fmt.name in ("optopsy", "ivolatility")
                else {**_YF_FIELDS, **fmt.fields}
            )
            missing = sorted({c for c in fields.values() if c is not None} - present)
            if missing:
                raise DataError(
                    f"{path}: {fmt.name} format without column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}. Re-export the file with every column."
                )
            return _Format(fmt.name, fmt.signature, fields, fmt.date_format)
    known = "; ".join(", ".join(f.signature) for f in _FORMATS)
    raise DataError(
        f"{path}: not a known option-quote format (columns {', '.join(columns[:12])}). "
        f"Expected the columns of one of: {known}."
    )


def _occ(rows: _Rows, column: str) -> pd.DataFrame:
    """OCC symbols split into root, expiry, right and strike (compact or padded form)."""
    text = rows.text(column)
    parts = text.str.upper().str.extract(_OCC)
    rows.check(
        parts["root"].isna().to_numpy(),
        "symbol",
        "is not an OCC option symbol",
        "Use ROOT + YYMMDD + C/P + strike x 1000 in 8 digits, e.g. SPY260211C00500000.",
        lambda i: f"{column}={text.iloc[i]!r}",
    )
    return parts.fillna({"root": "", "ymd": "000101", "right": "", "strike": "0"})


def _rights(rows: _Rows, column: str) -> np.ndarray:
    text = rows.text(column).str.lower()
    mapped = text.map(_RIGHTS)
    rows.check(
        mapped.isna().to_numpy(),
        "right",
        "is neither call nor put",
        "Write C/P or call/put.",
        lambda i: f"{column}={text.iloc[i]!r}",
    )
    return mapped.fillna("").to_numpy(dtype=object)


def _snapshot_date(rows: _Rows, quote_date: str | date | None) -> pd.Timestamp:
    """A snapshot's trading date: quote_date=, else the file name's date, else the New York
    date of its latest trade; no trade may come after it."""
    trades = pd.to_datetime(rows.text("lastTradeDate"), utc=True, errors="coerce")
    latest = trades.max()
    if quote_date is not None:
        day = pd.Timestamp(quote_date).normalize()
    elif (found := _NAME_DATE.search(rows.path.name)) is not None:
        day = pd.Timestamp(found.group(1))
    elif pd.notna(latest):
        day = pd.Timestamp(latest.tz_convert(NEW_YORK).date())
    else:
        raise DataError(
            f"{rows.path}: no quote date: the file has no date column, no YYYY-MM-DD in its "
            "name and no lastTradeDate. Pass quote_date=."
        )
    local = trades.dt.tz_convert(NEW_YORK).dt.tz_localize(None).dt.normalize()
    late = (local > day).fillna(False).to_numpy(dtype=bool)
    if late.any():
        raise rows.fail(
            late,
            "lastTradeDate",
            f"is after the quote date {day.date()} (from "
            f"{'quote_date=' if quote_date is not None else 'the file name'})",
            "Pass the snapshot's real trading date as quote_date=.",
        )
    return day


def _daily_close(rows: _Rows, underlying: str, day: np.datetime64) -> float:
    when = pd.Timestamp(day).date()
    try:
        bars, _ = load_file(underlying, adjust="none", use_cache=False)
    except DataError as exc:
        raise DataError(
            f"{rows.path}: the file has no underlying price and no daily bars of {underlying} "
            f"were found ({exc}). Pass underlying_price=."
        ) from None
    dates = pd.DatetimeIndex(bars.index).date
    hit = bars["close"].to_numpy()[dates == when]
    if not len(hit):
        raise DataError(
            f"{rows.path}: the file has no underlying price and the daily bars of {underlying} "
            f"have no close on {when}. Pass underlying_price=."
        )
    return float(hit[0])


def _check_moneyness(rows: _Rows, spot: np.ndarray, strike: np.ndarray, right: np.ndarray) -> None:
    """yfinance's inTheMoney flags bracket the spot it used: refuse a price outside that."""
    flags = rows.text("inTheMoney").str.lower().to_numpy()
    itm = np.where(flags == "true", 1, np.where(flags == "false", 0, -1))
    should = np.where(right == "C", strike < spot, strike > spot).astype(int)
    wrong = (itm >= 0) & (itm != should) & (strike != spot)
    if wrong.any():
        raise rows.fail(
            wrong,
            "underlying_price",
            f"{spot[wrong][0]:g} disagrees with the row's inTheMoney flag (strike "
            f"{strike[wrong][0]:g})",
            "Pass the price the snapshot was taken at as underlying_price=.",
        )


def _check_one_spot(rows: _Rows, quotes: np.ndarray, under: np.ndarray, spot: np.ndarray) -> None:
    """One underlying price per quote date and underlying (an EOD file's close, a snapshot's
    price): a row quoted against another one (the date's most common) is a corrupt row --
    its Greeks, implied vol and carry fit would use a spot no other row of that close has."""
    kept = np.flatnonzero(rows.keep)
    if not kept.size:
        return
    frame = pd.DataFrame({"q": quotes[kept], "u": under[kept], "s": spot[kept]})
    usual = frame.groupby(["q", "u"], sort=False)["s"].transform(lambda s: s.mode().iloc[0])
    wrong = np.zeros(len(spot), dtype=bool)
    wrong[kept] = (frame["s"] != usual).to_numpy()
    expected = np.full(len(spot), np.nan)
    expected[kept] = usual.to_numpy()
    rows.check(
        wrong,
        "underlying_price",
        "differs from the other rows of its quote date",
        "Fix the row's underlying price (one price per quote date).",
        lambda i: f"{spot[i]:g}; {expected[i]:g} on {pd.Timestamp(quotes[i]).date()}",
    )


def load_option_quotes(
    path: str | Path,
    *,
    underlying_price: float | None = None,
    quote_date: str | date | None = None,
    style: str | None = None,
    repair: Repair = None,
) -> pd.DataFrame:
    """Option quotes from one file as the canonical frame (see the module docstring).

    ``path`` is a file, or the name of a shipped file in ``data/options``.
    ``underlying_price`` and ``quote_date`` fill in (or override) what a yfinance snapshot
    lacks; ``style`` ('A'/'E') overrides the style told by the underlying. ``repair="drop"``
    drops the rows a fault of one row refuses (as the bar loader's repair does) and reports
    them in a DataWarning and ``frame.attrs["source"]["dropped"]``; faults of the whole file
    (its quote date, its underlying price) are refused either way.
    """
    if repair not in (None, "drop"):
        raise DataError(f"repair={repair!r} is not valid; use None or 'drop'.")
    if style is not None and style not in ("A", "E"):
        raise DataError(f"style={style!r} is not valid; use 'A' (American) or 'E' (European).")
    source = _resolve(path)
    rows = _Rows(source, _read(source), repair)
    fmt = _detect(source, list(rows.raw.columns))
    f = fmt.fields
    n = len(rows.raw)

    def col(field: str) -> str:
        name = f.get(field)
        assert name is not None
        return name

    occ = _occ(rows, col("symbol"))
    root = occ["root"].to_numpy(dtype=object)
    right = _rights(rows, col("right"))
    strike = rows.numbers(col("strike"), "strike")
    expiry = rows.dates(col("expiry"), "expiry", fmt.date_format)
    snapshot = fmt.name.startswith("yfinance")
    if f["quote_date"] is None:
        quotes = np.full(
            n, _snapshot_date(rows, quote_date).to_datetime64(), dtype="datetime64[ns]"
        )
    else:
        quotes = rows.dates(col("quote_date"), "quote_date", fmt.date_format)
        if quote_date is not None:
            quotes = np.full(
                n, pd.Timestamp(quote_date).normalize().to_datetime64(), dtype="datetime64[ns]"
            )
    if f["underlying"] is not None:
        under = rows.text(col("underlying")).str.upper().to_numpy(dtype=object)
    else:
        under = root.copy()
    under = np.array([INDEX_ROOTS.get(u, u) for u in under], dtype=object)

    # prices and sizes
    bid = rows.numbers(col("bid"), "bid")
    ask = rows.numbers(col("ask"), "ask")
    last = rows.numbers(col("last"), "last", empty=np.nan) if f["last"] else np.full(n, np.nan)
    volume = rows.numbers(col("volume"), "volume", empty=0.0 if snapshot else None)
    oi = rows.numbers(col("open_interest"), "open_interest", empty=0.0 if snapshot else None)
    if underlying_price is not None:
        spot = np.full(n, float(underlying_price))
    elif f["underlying_price"] is not None:
        spot = rows.numbers(col("underlying_price"), "underlying_price")
    else:
        first = int(np.flatnonzero(rows.keep)[0]) if rows.keep.any() else 0
        spot = np.full(n, _daily_close(rows, str(under[first]), quotes[first]))
    for name, values in (
        ("bid", bid),
        ("ask", ask),
        ("last", last),
        ("volume", volume),
        ("open_interest", oi),
    ):
        rows.check(values < 0, name, "is negative", f"A {name} must be >= 0.", _shown(values))
    for name, values in (("strike", strike), ("underlying_price", spot)):
        rows.check(~(values > 0), name, "is not positive", "Fix the value.", _shown(values))
    _check_one_spot(rows, quotes, under, spot)

    # the contract: OCC id consistent, expiry not before the quote date, unique per date
    occ_expiry = pd.to_datetime(occ["ymd"], format="%y%m%d", errors="coerce").to_numpy()
    occ_strike = occ["strike"].astype(np.int64).to_numpy() / 1000.0
    # Before February 2015 monthly options expired on the Saturday after their last trading
    # day. Vendors write either date: iVolatility's SPX 2011 symbols carry the Saturday (110122
    # for the 2011-01-21 expiry), optopsy's VXX 2016 expiration column does (12/17/2016 for
    # VXX161216...). The frame's expiry is the last trading day (the Friday); the symbol stays
    # as the vendor wrote it.
    one_day = np.timedelta64(1, "D")
    occ_saturday = (occ_expiry == expiry + one_day) & (
        pd.DatetimeIndex(occ_expiry).day_of_week == 5
    )
    column_saturday = (expiry == occ_expiry + one_day) & (pd.DatetimeIndex(expiry).day_of_week == 5)
    expiry = np.where(column_saturday, occ_expiry, expiry)
    saturday = occ_saturday | column_saturday
    symbols = rows.text(col("symbol"))
    rows.check(
        ((occ_expiry != expiry) & ~saturday)
        | (occ["right"].to_numpy(dtype=object) != right)
        | (np.abs(occ_strike - strike) > 1e-9),
        "symbol",
        "disagrees with the row's expiry, right or strike",
        "Fix the symbol or the columns.",
        lambda i: repr(symbols.iloc[i]),
    )
    rows.check(
        expiry < quotes,
        "expiry",
        "is before the quote date",
        "An expired contract cannot be quoted; drop the row or fix the dates.",
        lambda i: f"{pd.Timestamp(expiry[i]).date()} < {pd.Timestamp(quotes[i]).date()}",
    )
    live = rows.keep & ~pd.isna(quotes)
    closed = {d for d in np.unique(quotes[live]) if not is_trading_day(pd.Timestamp(d).date())}
    rows.check(
        np.isin(quotes, np.array(sorted(closed), dtype="datetime64[ns]")),
        "quote_date",
        "is not a NYSE trading day",
        "Quotes belong to a trading date; fix the date.",
        lambda i: str(pd.Timestamp(quotes[i]).date()),
    )
    if snapshot and "inTheMoney" in rows.raw.columns:
        _check_moneyness(rows, spot, strike, right)
    if "contractSize" in rows.raw.columns:
        sizes = rows.text("contractSize").str.upper()
        rows.check(
            (sizes != "REGULAR").to_numpy(),
            "contractSize",
            "is not REGULAR (100 shares)",
            "Adjusted (non-standard) contracts are not supported; drop those rows.",
            lambda i: repr(sizes.iloc[i]),
        )
    symbol = np.array(
        [
            f"{r:<6}{y}{c}{s}"
            for r, y, c, s in zip(root, occ["ymd"], occ["right"], occ["strike"], strict=True)
        ],
        dtype=object,
    )
    dup = np.zeros(n, dtype=bool)
    kept = np.flatnonzero(rows.keep)
    dup[kept] = pd.DataFrame({"q": quotes[kept], "s": symbol[kept]}).duplicated().to_numpy()
    rows.check(
        dup,
        "symbol",
        "is quoted twice on one date",
        "Keep one row per contract and quote date.",
        lambda i: repr(str(symbol[i]).strip()),
    )

    vendor = _vendor_values(rows, fmt)
    if style is not None:
        styles = np.full(n, style, dtype=object)
    elif f["style"] is not None:
        styles = rows.text(col("style")).str.upper().to_numpy(dtype=object)
        rows.check(
            ~np.isin(styles, ["A", "E"]), "style", "is not A or E", "Write A or E.",
            lambda i: repr(styles[i]),
        )  # fmt: skip
    else:
        styles = np.array(["E" if u in EUROPEAN else "A" for u in under], dtype=object)

    keep = rows.keep
    if not keep.any():
        raise DataError(f"{source}: no valid rows left after repair ({_dropped(rows)}).")
    frame = pd.DataFrame(
        {
            "quote_date": quotes,
            "underlying": under,
            "underlying_price": spot,
            "expiry": expiry,
            "right": right,
            "strike": strike,
            "bid": bid,
            "ask": ask,
            "last": last,
            "volume": volume,
            "open_interest": oi,
            **vendor,
            "style": styles,
            "multiplier": np.full(n, MULTIPLIER),
            "symbol": symbol,
            "root": root,
            "crossed": bid > ask,
        }
    )[keep]
    for c in ("underlying", "right", "style", "symbol", "root"):
        frame[c] = frame[c].astype(str)
    for c in ("quote_date", "expiry"):
        frame[c] = frame[c].astype("datetime64[ns]")
    frame = frame.sort_values(["quote_date", "expiry", "right", "strike"], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs["source"] = {
        "path": str(source),
        "format": fmt.name,
        "dropped": dict(rows.dropped),
    }
    if rows.dropped:
        _warn(f"{source}: {_dropped(rows)}")
    return frame


def _shown(values: np.ndarray) -> Callable[[int], str]:
    return lambda i: f"{values[i]:g}"


def _dropped(rows: _Rows) -> str:
    parts = ", ".join(f"{count} {problem}" for problem, count in rows.dropped.items())
    return f"dropped {int((~rows.keep).sum())} rows ({parts})"


def _vendor_values(rows: _Rows, fmt: _Format) -> dict[str, np.ndarray]:
    """The vendor's iv and Greeks, NaN where absent or marked missing (see the module doc)."""
    n = len(rows.raw)
    out: dict[str, np.ndarray] = {}
    for name in VENDOR_FIELDS:
        column = fmt.fields.get(name)
        out[name] = rows.numbers(column, name, empty=np.nan) if column else np.full(n, np.nan)
    iv = out["iv"]
    greeks_zero = np.all([out[g] == 0 for g in VENDOR_FIELDS[1:]], axis=0)
    if fmt.name == "ivolatility":
        gone = iv == -1
    elif fmt.name == "optopsy":
        gone = (iv == 0) | ((iv <= _OPTOPSY_FLOOR_IV) & greeks_zero)
    else:
        gone = iv < _YF_PLACEHOLDER_IV
    for name in VENDOR_FIELDS:
        out[name] = np.where(gone, np.nan, out[name])
    rows.check(
        out["iv"] < 0,
        "iv",
        "is negative",
        "Only iVolatility's -1 marks a missing iv; fix the value.",
        _shown(out["iv"]),
    )
    return out
