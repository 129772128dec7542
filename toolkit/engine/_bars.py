"""The one gate bars pass before any simulation: shape them as a panel and validate them.

Every entry point (backtest, simulate, strategy targets, sweep, walk-forward, sensitivity
stress) calls :func:`bar_arrays`, so a zero, negative or missing price, a negative volume, a
bar whose open/close lie outside its high-low range, or an unsorted or repeated timestamp is
refused the same way everywhere, before numba sees it (a zero price used to crash the sweep
kernel and a negative one to return rows silently).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from toolkit.errors import DataError

FIELDS = ("open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")
_SHOWN = 3
_REMEDY = "Load bars with toolkit.load() (it validates files and can repair them) or fix the frame."


def as_panel(bars: pd.DataFrame, name: str | None = None) -> dict[str, pd.DataFrame]:
    """Split single-symbol or (field, symbol) bars into one field -> (bars x symbols) frame each.

    A single-symbol frame's column is ``name``, else the symbol ``toolkit.load`` noted in
    ``attrs`` (a convenience pandas may drop), else "asset".
    """
    if isinstance(bars.columns, pd.MultiIndex):
        missing = [f for f in FIELDS if f not in bars.columns.get_level_values(0)]
        if missing:
            raise DataError(f"bars lack field(s) {', '.join(missing)}. {_REMEDY}")
        return {f: pd.DataFrame(bars[f]) for f in FIELDS}
    missing = [f for f in FIELDS if f not in bars.columns]
    if missing:
        raise DataError(f"bars lack column(s) {', '.join(missing)}. {_REMEDY}")
    label = name or str(bars.attrs.get("source", {}).get("symbol", "asset"))
    # straight from the columns' arrays: ~5x cheaper than selecting and relabelling frames
    columns = pd.Index([label])
    return {
        f: pd.DataFrame(_column(bars[f]), index=bars.index, columns=columns, copy=False)
        for f in FIELDS
    }


def _column(values: pd.Series) -> np.ndarray:
    """A column as a (bars x 1) array; float64 when it is numeric (the gate checks the rest)."""
    try:
        return values.to_numpy(dtype=np.float64).reshape(-1, 1)
    except (TypeError, ValueError):
        return values.to_numpy().reshape(-1, 1)


def _where(index: pd.Index, rows: np.ndarray) -> str:
    shown = ", ".join(str(index[int(i)]) for i in rows[:_SHOWN])
    more = len(rows) - _SHOWN
    return f"at {shown}" + (f" (and {more} more bars)" if more > 0 else "")


def bar_arrays(panel: Mapping[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Validated contiguous float64 arrays (bars x symbols) per field, or a DataError naming
    the symbol, the field, the first offending timestamps and what to do."""
    close = panel["close"]
    index = close.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"bars need a DatetimeIndex, got {type(index).__name__}. {_REMEDY}")
    if len(index) == 0:
        raise DataError(f"bars are empty. {_REMEDY}")
    steps = np.flatnonzero(~(index[1:] > index[:-1])) + 1
    if len(steps):
        raise DataError(
            f"bar timestamps must be unique and increasing; {_where(index, steps)} a bar is "
            f"not later than the one before. Sort the bars and drop repeats. {_REMEDY}"
        )
    out: dict[str, np.ndarray] = {}
    for f in FIELDS:
        frame = panel[f]
        if not frame.index.equals(index):
            raise DataError(f"bars' {f} does not share the close's index. {_REMEDY}")
        out[f] = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    symbols = [str(s) for s in close.columns]
    with np.errstate(invalid="ignore"):
        checks = [
            *[
                (f, ~(np.isfinite(out[f]) & (out[f] > 0)), "missing, zero or negative")
                for f in PRICES
            ],
            ("volume", ~(np.isfinite(out["volume"]) & (out["volume"] >= 0)), "missing or negative"),
            ("high", out["high"] < np.maximum(out["open"], out["close"]), "below open or close"),
            ("low", out["low"] > np.minimum(out["open"], out["close"]), "above open or close"),
        ]
    for field, bad, problem in checks:
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            rows = np.flatnonzero(bad[:, j])
            raise DataError(
                f"bars for {symbols[j]}: {field} {problem} {_where(index, rows)}; prices must be "
                f"finite and > 0, volume >= 0, low <= open, close <= high. {_REMEDY}"
            )
    return out
