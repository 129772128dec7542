"""quantstats HTML tear sheets for a strategy's returns against a benchmark."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pandas as pd


def _naive(series: pd.Series) -> pd.Series:
    """quantstats expects tz-naive indexes; our UTC index is converted at this edge only."""
    out = series.copy()
    if isinstance(out.index, pd.DatetimeIndex) and out.index.tz is not None:
        out.index = out.index.tz_convert("UTC").tz_localize(None)
    return out


def write_tearsheet(
    returns: pd.Series,
    path: Path,
    *,
    benchmark: pd.Series | None = None,
    title: str = "Strategy",
    periods_per_year: int = 252,
) -> Path:
    """Write quantstats' full HTML report for ``returns`` (vs ``benchmark`` returns) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import quantstats as qs

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    path.parent.mkdir(parents=True, exist_ok=True)
    bench = None if benchmark is None else _naive(benchmark.rename("Benchmark"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qs.reports.html(  # type: ignore[no-untyped-call]
            _naive(returns.rename("Strategy")),
            benchmark=bench,
            output=str(path),
            title=title,
            periods_per_year=periods_per_year,
            download_filename=str(path),
        )
    return path
