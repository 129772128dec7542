"""Tables for reports: numbers formatted by unit (percentages, money, counts), no row numbers,
paths shown relative to a folder -- a pandas ``Styler`` that renders as HTML in notebooks and
in the reports exported from them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler


def relative_path(path: str | Path, start: str | Path) -> str:
    """``path`` relative to ``start`` when it lies under it, else as given (a report shows
    ``data/SPY.csv``, not the absolute path of the machine that ran it)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path(start).resolve()))
    except ValueError:
        return str(p)


def table(
    frame: pd.DataFrame | pd.Series,
    *,
    percent: Iterable[str] = (),
    money: Iterable[str] = (),
    integer: Iterable[str] = (),
    ratio: Iterable[str] = (),
    paths: Iterable[str] = (),
    root: str | Path | None = None,
    digits: int = 2,
    index: bool | None = None,
    caption: str | None = None,
) -> Styler:
    """``frame`` styled for a report: ``percent`` columns as 12.34 %, ``money`` as 1,234.56,
    ``integer`` as 1,234, ``ratio`` with ``digits`` decimals, ``paths`` relative to ``root``;
    other float columns with ``digits`` decimals and thousands separators, timestamps without
    a midnight time. The index is hidden when it is a plain row number (``index`` overrides).
    A Series becomes a one-column table of its values."""
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame.copy()
    if root is not None:
        for col in paths:
            data[col] = [relative_path(p, root) for p in data[col]]
    formats: dict[Any, Any] = {}
    number = f"{{:,.{digits}f}}"
    for col in data.columns:
        kind = data[col].dtype
        if pd.api.types.is_float_dtype(kind):
            formats[col] = number
        elif pd.api.types.is_datetime64_any_dtype(kind):
            formats[col] = _stamp
    for col in percent:
        formats[col] = f"{{:.{digits}%}}"
    for col in money:
        formats[col] = "{:,.2f}"
    for col in integer:
        formats[col] = "{:,.0f}"
    for col in ratio:
        formats[col] = number
    styler = data.style.format(formats, na_rep="")
    if isinstance(data.index, pd.DatetimeIndex):
        styler = styler.format_index(_stamp, axis=0)
    plain = isinstance(data.index, pd.RangeIndex) and data.index.name is None
    if plain if index is None else not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler


def _stamp(value: Any) -> str:
    if pd.isna(value):
        return ""
    ts = pd.Timestamp(value)
    if ts == ts.normalize():
        return f"{ts:%Y-%m-%d}"
    return f"{ts:%Y-%m-%d %H:%M}"
