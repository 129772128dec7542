"""What the portfolio risk rules estimate from, for a book of bars: returns, the beta
benchmark's returns and sector ids (:class:`toolkit.risk.portfolio.RiskContext`)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError, DataError
from toolkit.risk import RiskLimits
from toolkit.risk.portfolio import RiskContext, build_context


def risk_context(
    close: np.ndarray,
    index: pd.DatetimeIndex,
    symbols: Sequence[Hashable],
    risk: RiskLimits | None,
) -> RiskContext | None:
    """The context for ``risk``'s portfolio rules on a book whose closes are ``close``
    (bars, symbols): nothing when no portfolio rule is set; the benchmark's closes from the
    book itself or, when it is not in the book, from the data directory (every bar's date
    must be there); sectors from ``risk.sectors`` or the shipped S&P 500 map (a symbol with
    no GICS sector, e.g. a bond ETF, counts in no sector)."""
    if risk is None or not risk.portfolio:
        return None
    names = [str(s).upper() for s in symbols]
    bench = None
    if risk.max_beta is not None:
        bench = _benchmark_close(close, index, names, risk.benchmark.upper())
    sector_ids = None
    if risk.max_sector is not None:
        sector_ids = _sector_ids(names, risk)
    return build_context(close, risk.risk_window, bench, sector_ids)


def _benchmark_close(
    close: np.ndarray, index: pd.DatetimeIndex, names: list[str], benchmark: str
) -> np.ndarray:
    if benchmark in names:
        return np.asarray(close[:, names.index(benchmark)], dtype=np.float64)
    from toolkit.data import load

    try:
        bars = load(benchmark)
    except DataError as exc:
        raise ConfigError(
            f"[risk] benchmark = {benchmark!r}: {exc} Put the benchmark in the book or name a "
            "symbol with data."
        ) from None
    col = bars["close"]
    days = pd.DatetimeIndex(index).normalize()
    if days.tz is not None:
        days = days.tz_localize(None)
    own = pd.DatetimeIndex(col.index).normalize()
    if own.tz is not None:
        own = own.tz_localize(None)
    series = pd.Series(col.to_numpy(dtype=np.float64), index=own)
    series = series[~series.index.duplicated(keep="last")]
    missing = days.difference(pd.DatetimeIndex(series.index))
    if len(missing):
        raise ConfigError(
            f"[risk] benchmark {benchmark} has no close on {len(missing)} of the book's dates "
            f"(first {missing[0].date()}); put the benchmark in the book or choose one that "
            "covers its dates."
        )
    return series.reindex(days).to_numpy()


def _sector_ids(names: list[str], risk: RiskLimits) -> np.ndarray:
    from toolkit.data.reference import load_sector_map

    table = dict(risk.sectors) if risk.sectors is not None else load_sector_map()
    labels = [table.get(s, "") for s in names]
    ids = {label: i for i, label in enumerate(sorted({x for x in labels if x}))}
    return np.array([ids[x] if x else -1 for x in labels], dtype=np.int64)
