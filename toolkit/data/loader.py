"""Load daily or intraday OHLCV bars from CSV or Parquet into UTC-indexed float64 frames."""

from __future__ import annotations

import hashlib
import io
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from toolkit.data import _cache
from toolkit.data._paths import cache_folder, default_data_dir, resolve
from toolkit.data._validate import (
    JUMP_FACTOR,
    REQUIRED_COLUMNS,
    Repair,
    RepairReport,
    clean_bars,
    implausible_moves,
)
from toolkit.data.calendar import EXCHANGE_TZ, bounds_mask, check_zone
from toolkit.errors import DataError, DataWarning

Adjust = Literal["total_return", "none"]
_SHOWN_MOVES = 5


@dataclass(frozen=True)
class LoadedFile:
    """A source file as loaded: its symbol, path and content hash, the repair policy, what
    the repair changed (problem, rows), the warnings the load raised and the price basis
    used (``adjustment``: adj_close scaling, or the prices as stored), for run manifests."""

    symbol: str
    path: Path
    sha256: str
    repair: Repair = None
    repairs: tuple[tuple[str, int], ...] = ()
    dropped: int = 0
    warnings: tuple[str, ...] = ()
    adjustment: str = ""

    def record(self) -> dict[str, Any]:
        """The JSON-ready manifest entry for this file."""
        return {
            "symbol": self.symbol,
            "path": str(self.path),
            "sha256": self.sha256,
            "repair": self.repair or "none",
            "repairs": dict(self.repairs),
            "dropped_rows": self.dropped,
            "warnings": list(self.warnings),
            "adjustment": self.adjustment,
        }


@dataclass(frozen=True)
class LoadedBars:
    """Bars and the files they came from.

    Provenance travels here, beside the frame, rather than in ``DataFrame.attrs``: pandas
    does not promise to keep ``attrs`` through operations (pandas 3 drops them when a frame
    is rebuilt), and a run manifest must never depend on that.
    """

    frame: pd.DataFrame
    sources: tuple[LoadedFile, ...]


def _read_raw(path: Path, raw: bytes) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(io.BytesIO(raw))
            if isinstance(frame.index, pd.DatetimeIndex):
                frame = frame.reset_index(names="timestamp")
            return frame
        if not raw.strip():
            raise DataError(f"{path}: the file is empty. Re-download or regenerate it.")
        return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_values=[""])
    except DataError:
        raise
    except Exception as exc:  # parser errors come in many types; name the file either way
        raise DataError(
            f"{path}: cannot be read as {path.suffix[1:]}: {exc}. Check its format."
        ) from exc


def _basis(frame: pd.DataFrame, how: Adjust) -> str:
    """What the loaded prices are, for the file's record (a file without adj_close, such as
    yfinance ``auto_adjust=True`` stock files, is taken as stored: no dividend scaling)."""
    if how == "none":
        return "as stored (adjust='none')"
    if "adj_close" in frame.columns:
        return "total return (open/high/low/close x adj_close/close)"
    return "as stored (no adj_close column)"


def _adjust(frame: pd.DataFrame, how: Adjust, path: Path) -> pd.DataFrame:
    """Scale OHLC by adj_close/close so returns include dividends (total return)."""
    out = frame
    if how == "total_return" and "adj_close" in frame.columns:
        factor = (frame["adj_close"] / frame["close"]).to_numpy()
        out = frame.copy()
        for col in ("open", "high", "low", "close"):
            out[col] = frame[col].to_numpy() * factor
    elif how not in ("total_return", "none"):
        raise DataError(f"adjust={how!r} for {path} is not valid; use 'total_return' or 'none'.")
    return out[list(REQUIRED_COLUMNS)].astype(np.float64)


def _warn(message: str) -> None:
    """Warn at the first caller outside the toolkit, on every call.

    ``warnings.warn`` shows a message once per calling line; a repair or an implausible
    price must be reported on every load, so no once-per-location registry is kept (a
    ``warnings`` "ignore" filter on DataWarning still silences it).
    """
    frame = sys._getframe(1)
    package = str(Path(__file__).resolve().parents[1])
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
    warnings.warn_explicit(
        message,
        DataWarning,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=frame.f_globals.get("__name__", "__main__"),
        registry=None,
    )


def _clean(
    symbol_or_path: str | Path,
    data_dir: Path | None,
    repair: Repair,
    naive_tz: str,
    exchange_tz: str,
    cache_dir: Path | None,
    use_cache: bool,
) -> tuple[pd.DataFrame, LoadedFile]:
    """The validated, unadjusted frame (with adj_close when the file has it) and its record.

    The repair report is stored with the cached frame, so every load reports it.
    """
    symbol, path = resolve(symbol_or_path, data_dir)
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    key = _cache.content_key(sha, str(repair), naive_tz, exchange_tz)
    root = cache_dir or cache_folder(data_dir or default_data_dir())
    cached = _cache.read(_cache.cache_path(root, path, key)) if use_cache else None
    if cached is None:
        frame, report = clean_bars(
            _read_raw(path, raw), path, repair=repair, naive_tz=naive_tz, exchange_tz=exchange_tz
        )
        if use_cache:
            _cache.write(_cache.cache_path(root, path, key), frame, report.to_record())
    else:
        frame, record = cached
        report = RepairReport.from_record(str(path), record)
    if report.counts:
        _warn(str(report))
    info = LoadedFile(symbol, path, sha, repair, tuple(report.counts.items()), report.dropped, ())
    return frame, info


def load_file(
    symbol_or_path: str | Path,
    *,
    data_dir: Path | None = None,
    repair: Repair = None,
    adjust: Adjust = "total_return",
    naive_tz: str = "UTC",
    exchange_tz: str = EXCHANGE_TZ,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> tuple[pd.DataFrame, LoadedFile]:
    """Load one whole file; return the frame and the file's record (path, hash, repairs)."""
    check_zone(exchange_tz, "exchange_tz")
    frame, info = _clean(
        symbol_or_path, data_dir, repair, naive_tz, exchange_tz, cache_dir, use_cache
    )
    return _adjust(frame, adjust, info.path), replace(info, adjustment=_basis(frame, adjust))


def load_sourced(
    symbol_or_path: str | Path,
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    data_dir: Path | None = None,
    repair: Repair = None,
    adjust: Adjust = "total_return",
    naive_tz: str = "UTC",
    exchange_tz: str = EXCHANGE_TZ,
    jump_factor: float | None = JUMP_FACTOR,
    cache_dir: Path | None = None,
) -> LoadedBars:
    """:func:`load`, returning the bars together with the file they came from."""
    zone = check_zone(exchange_tz, "exchange_tz")
    if jump_factor is not None and not (np.isfinite(jump_factor) and jump_factor > 1):
        raise DataError(
            f"jump_factor={jump_factor!r} must be a number above 1 (or None to skip the check)."
        )
    clean, info = _clean(symbol_or_path, data_dir, repair, naive_tz, zone, cache_dir, True)
    inside = clean[bounds_mask(pd.DatetimeIndex(clean.index), start, end, zone)]
    if inside.empty:
        raise DataError(
            f"{info.path}: no bars between {start or 'the start'} and {end or 'the end'}; "
            f"the file covers {clean.index[0].date()} to {clean.index[-1].date()}. "
            "Choose dates inside that range."
        )
    moves = implausible_moves(inside, jump_factor)
    if moves:
        shown = "; ".join(moves[:_SHOWN_MOVES]) + (
            f" (and {len(moves) - _SHOWN_MOVES} more)" if len(moves) > _SHOWN_MOVES else ""
        )
        message = (
            f"{info.path}: {len(moves)} implausible bar-to-bar move"
            f"{'s' if len(moves) > 1 else ''} (beyond x{jump_factor:g} from the previous "
            f"close; the file records no split): {shown}. If a split is missing, adjust the "
            "file; if the moves are real, load with jump_factor=None or a larger factor "
            "([data] jump_factor in a config)."
        )
        _warn(message)
        info = replace(info, warnings=(message,))
    info = replace(info, adjustment=_basis(inside, adjust))
    return LoadedBars(_adjust(inside, adjust, info.path), (info,))


def load(
    symbol_or_path: str | Path,
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    data_dir: Path | None = None,
    repair: Repair = None,
    adjust: Adjust = "total_return",
    naive_tz: str = "UTC",
    exchange_tz: str = EXCHANGE_TZ,
    jump_factor: float | None = JUMP_FACTOR,
    cache_dir: Path | None = None,
) -> pd.DataFrame:
    """Bars for one symbol (looked up in ``data/daily``) or one CSV/Parquet file.

    Returns float64 columns open, high, low, close, volume on a tz-aware UTC index, sorted and
    unique. ``adjust="total_return"`` (default) scales OHLC by ``adj_close/close`` where the
    file has ``adj_close`` (or Alpha Vantage's ``adjusted_close``), so dividends show up as
    returns; a file without that column is used as stored (the shipped yfinance stock files
    are already split- and dividend-adjusted), and the source record's ``adjustment`` says
    which applied. ``"none"`` keeps prices as stored. Rows may run oldest or newest first.
    ``start``/``end`` are inclusive: a date alone (``"2024-05-17"``) is that whole exchange
    date in ``exchange_tz`` (for intraday bars, every bar of the New York session date; daily
    bars keep their stamped date); a bound with a time (``"2024-05-17 12:00-04:00"``, a
    ``Timestamp``) is that instant, naive times being UTC. ``repair`` is None (raise on any
    bad row), ``"drop"`` or ``"fix"``; repairs are reported as a :class:`DataWarning` on
    every load (cached or not). A bar whose open, high, low, close (or adj_close) moves
    beyond ``jump_factor`` (default 2: up x2 or down to half) from the previous bar's close
    is named in a DataWarning; ``jump_factor=None`` skips that check.
    ``frame.attrs["source"]`` names the file for convenience only (pandas may drop
    ``attrs``); :func:`load_sourced` returns it explicitly.
    """
    loaded = load_sourced(
        symbol_or_path,
        start,
        end,
        data_dir=data_dir,
        repair=repair,
        adjust=adjust,
        naive_tz=naive_tz,
        exchange_tz=exchange_tz,
        jump_factor=jump_factor,
        cache_dir=cache_dir,
    )
    frame = loaded.frame
    frame.attrs["source"] = loaded.sources[0].record()
    return frame


def load_many_sourced(
    symbols: Sequence[str | Path],
    start: str | date | None = None,
    end: str | date | None = None,
    **kwargs: Any,
) -> LoadedBars:
    """:func:`load_many`, returning the panel together with the files it came from."""
    if not symbols:
        raise DataError("load_many() needs at least one symbol.")
    frames: dict[str, pd.DataFrame] = {}
    sources: list[LoadedFile] = []
    for s in symbols:
        loaded = load_sourced(s, start, end, **kwargs)
        name = loaded.sources[0].symbol
        if name in frames:
            raise DataError(f"symbol {name} is listed twice; list each symbol once.")
        frames[name] = loaded.frame
        sources.append(loaded.sources[0])
    return LoadedBars(_align(frames), tuple(sources))


def load_many(
    symbols: Sequence[str | Path],
    start: str | date | None = None,
    end: str | date | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Bars for several symbols aligned on their common calendar (dates all of them traded).

    Columns are a (field, symbol) MultiIndex, so ``frame["close"]`` is a symbols-wide frame.
    Dates inside the overlap that some symbol lacks are dropped for all, with a warning.
    ``frame.attrs["sources"]`` is a convenience copy of :func:`load_many_sourced`'s sources.
    """
    loaded = load_many_sourced(symbols, start, end, **kwargs)
    frame = loaded.frame
    frame.attrs["sources"] = [s.record() for s in loaded.sources]
    return frame


def _align(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One (field, symbol) panel on the dates every frame has inside their common range."""
    first = max(f.index[0] for f in frames.values())
    last = min(f.index[-1] for f in frames.values())
    if first > last:
        raise DataError(
            "the symbols' date ranges do not overlap: "
            + ", ".join(f"{k} {v.index[0].date()}..{v.index[-1].date()}" for k, v in frames.items())
        )
    common = None
    for f in frames.values():
        idx = f.index[(f.index >= first) & (f.index <= last)]
        common = idx if common is None else common.intersection(idx)
    assert common is not None
    for name, f in frames.items():
        in_range = int(((f.index >= first) & (f.index <= last)).sum())
        if in_range > len(common):
            warnings.warn(
                f"{name}: {in_range - len(common)} bars inside the common range are missing "
                f"for another symbol and were dropped to align calendars.",
                stacklevel=4,
            )
    out = pd.concat({k: v.loc[common] for k, v in frames.items()}, axis=1)
    out = out.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    fields = list(REQUIRED_COLUMNS)
    out = out.reindex(columns=pd.MultiIndex.from_product([fields, list(frames)]))
    out.columns.names = ["field", "symbol"]
    return pd.DataFrame(out)
