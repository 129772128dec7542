"""Reference data beside the bars: each symbol's GICS sector and market capitalisation.

The sector map feeds portfolio rules (sector concentration limits, sector-neutral books);
market caps weight a universe. Files live in ``data/reference/``:
``sp500_constituents_<date>.csv`` (``symbol``, ``gics_sector``, ...) and
``sp500_financials_<date>.csv`` (``symbol``, ``market_cap``, ...); the newest dated file is
used unless a path is given. A malformed row raises a one-line DataError naming the file and
the line (the header is line 1), as the bar loader does.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

from toolkit.data._paths import default_data_dir
from toolkit.errors import DataError

# The 11 GICS sectors (S&P / MSCI, Global Industry Classification Standard, 2023 structure).
GICS_SECTORS = frozenset(
    {
        "Communication Services",
        "Consumer Discretionary",
        "Consumer Staples",
        "Energy",
        "Financials",
        "Health Care",
        "Industrials",
        "Information Technology",
        "Materials",
        "Real Estate",
        "Utilities",
    }
)
# Each Select Sector SPDR fund holds one GICS sector of the S&P 500 (State Street's fund pages).
SECTOR_ETFS = {
    "XLB": "Materials",
    "XLC": "Communication Services",
    "XLE": "Energy",
    "XLF": "Financials",
    "XLI": "Industrials",
    "XLK": "Information Technology",
    "XLP": "Consumer Staples",
    "XLRE": "Real Estate",
    "XLU": "Utilities",
    "XLV": "Health Care",
    "XLY": "Consumer Discretionary",
}


def _reference_file(kind: str, data_dir: Path | None) -> Path:
    folder = (data_dir or default_data_dir()) / "reference"
    found = sorted(folder.glob(f"sp500_{kind}_*.csv"))
    if not found:
        raise DataError(
            f"{folder}: no sp500_{kind}_<date>.csv file. Copy one there or pass its path."
        )
    return found[-1]  # names end in an ISO date: the last sorts newest


def _symbol(text: str) -> str:
    """Price files spell share classes with a dash (BRK-B); the constituents list uses a dot."""
    return text.strip().upper().replace(".", "-")


def _rows(path: Path, needed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a CSV with the ``needed`` columns; ragged rows are refused."""
    if not path.is_file():
        raise DataError(f"{path}: file not found. Check the path.")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in needed if c not in header]
        if missing:
            raise DataError(
                f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                f"found {', '.join(header) or 'no header'}."
            )
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(
                    f"{path}: line {line}: {len(fields)} fields where the header has "
                    f"{len(header)}. Quote values that contain commas."
                )
            yield line, dict(zip(header, fields, strict=True))


def _unique(path: Path, line: int, symbol: str, seen: dict[str, int]) -> None:
    if not symbol:
        raise DataError(f"{path}: line {line}: empty symbol. Fill it in or delete the row.")
    if symbol in seen:
        raise DataError(
            f"{path}: line {line}: symbol {symbol} already listed on line {seen[symbol]}. "
            "List each symbol once."
        )
    seen[symbol] = line


def load_sector_map(
    path: str | Path | None = None, *, data_dir: Path | None = None, etfs: bool = True
) -> dict[str, str]:
    """Symbol -> GICS sector from the constituents file, plus the sector SPDR ETFs' own
    sectors when ``etfs`` (a file row for the same symbol wins)."""
    source = Path(path) if path is not None else _reference_file("constituents", data_dir)
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for line, row in _rows(source, ("symbol", "gics_sector")):
        symbol = _symbol(row["symbol"])
        _unique(source, line, symbol, seen)
        sector = row["gics_sector"].strip()
        if sector not in GICS_SECTORS:
            raise DataError(
                f"{source}: line {line}: {symbol}'s sector {sector!r} is not a GICS sector "
                f"({', '.join(sorted(GICS_SECTORS))})."
            )
        out[symbol] = sector
    return {**SECTOR_ETFS, **out} if etfs else out


def sectors_for(
    symbols: Iterable[str],
    sector_map: dict[str, str] | None = None,
    *,
    unknown: str | None = None,
) -> dict[str, str]:
    """The sector of each symbol; symbols the map lacks (bond or broad ETFs, say) raise a
    DataError naming them unless ``unknown`` names a bucket for them (e.g. "Other")."""
    table = load_sector_map() if sector_map is None else sector_map
    wanted = [_symbol(s) for s in symbols]
    lacking = [s for s in wanted if s not in table]
    if lacking and unknown is None:
        raise DataError(
            f"no GICS sector for {', '.join(lacking)}: they are not in the sector map. Add "
            "them to the constituents file, or pass unknown='Other' to group them."
        )
    return {s: table.get(s, unknown or "") for s in wanted}


def load_market_caps(
    path: str | Path | None = None, *, data_dir: Path | None = None
) -> dict[str, float]:
    """Symbol -> market capitalisation in USD from the financials file; rows with an empty
    cap (the shipped file has 3) are left out, a non-numeric or non-positive one is an error."""
    source = Path(path) if path is not None else _reference_file("financials", data_dir)
    out: dict[str, float] = {}
    seen: dict[str, int] = {}
    for line, row in _rows(source, ("symbol", "market_cap")):
        symbol = _symbol(row["symbol"])
        _unique(source, line, symbol, seen)
        text = row["market_cap"].strip()
        if not text:
            continue
        try:
            cap = float(text)
        except ValueError:
            cap = math.nan
        if not (math.isfinite(cap) and cap > 0):
            raise DataError(
                f"{source}: line {line}: {symbol}'s market_cap {text!r} is not a positive "
                "number. Correct it or leave it empty."
            )
        out[symbol] = cap
    return out
