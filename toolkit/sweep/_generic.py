"""The generic sweep path: any registered strategy without the built-ins' features/rule split.

A single-symbol strategy (a user's signal function, numba or NumPy) is run once per parameter
set in Python; its target rows then go through the same fused kernels as a built-in's rule
(``toolkit.strategies._dispatch.TARGETS`` copies them), so the bar's rules and the metric
folds are the engine's and each row equals ``tk.backtest`` of that set at full weight. A
target path holding NaN ("no instruction") and every cross-sectional strategy are scored by
the engine itself, one backtest per set (a cross-sectional row is the whole book, ``symbol =
"portfolio"``). Blocks of sets run locally or as tasks on a ``dask.distributed`` client.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from toolkit.engine._bars import FIELDS, as_panel, bar_arrays
from toolkit.engine.backtest import backtest
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError, DataError
from toolkit.risk import RiskLimits
from toolkit.strategies._dispatch import TARGETS
from toolkit.strategies.spec import Strategy
from toolkit.sweep._kernels import METRICS
from toolkit.sweep.grid import ParamGrid, make_grid
from toolkit.sweep.portfolio import PORTFOLIO
from toolkit.sweep.runner import (
    Weights,
    _kernel,
    _progress_bar,
    _symbol_arrays,
    _SymbolArrays,
    sleeve_weights,
)
from toolkit.sweep.runner import _frame as _rows

OnBlock = Callable[[int, int], None]
# Parameter sets per progress step / dask task: their target rows are held in memory, about
# _BLOCK_VALUES float64s a block (32 MB), and at least _BLOCK_MIN sets (the kernel's fixed
# cost per call is then small beside the signals').
_BLOCK_VALUES = 4_000_000
_BLOCK_MIN = 256


def _books(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame], spec: Strategy
) -> list[tuple[str, pd.DataFrame]]:
    """What one row trades: each symbol's bars alone, or the whole panel for a
    cross-sectional strategy; validated once by the engine's input gate."""
    if isinstance(bars, Mapping):
        frames = {str(k): v for k, v in bars.items()}
    elif isinstance(bars.columns, pd.MultiIndex):
        frames = {str(s): pd.DataFrame(bars.xs(s, axis=1, level=1)) for s in bars["close"].columns}
    else:
        label = str(as_panel(bars)["close"].columns[0])
        frames = {label: bars}
    for sym, frame in frames.items():
        n = len(bar_arrays(as_panel(frame, name=sym))["close"])
        if n < 2:
            raise DataError(f"{sym}: a sweep needs at least 2 bars, got {n}.")
    if not spec.cross_sectional:
        return list(frames.items())
    if len(frames) == 1 and isinstance(bars, pd.DataFrame):
        return [(PORTFOLIO, bars)]
    panel = pd.concat({s: f[list(FIELDS)] for s, f in frames.items()}, axis=1)
    panel = panel.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    if panel.isna().to_numpy().any():
        raise DataError(
            "a cross-sectional sweep needs the symbols on one calendar; load them together "
            "with tk.load_many (it aligns them) and pass the panel."
        )
    return [(PORTFOLIO, panel)]


def evaluate_generic_block(
    spec: Strategy,
    symbol: str,
    bars: pd.DataFrame,
    values: np.ndarray,
    settings: EngineSettings,
    risk: RiskLimits | None = None,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """METRICS (len(values) x N) for each parameter set (a row of ``values``, declared order)
    of ``spec`` on ``bars`` (one symbol's, or the book's) with the ``risk`` limits and
    ``weights`` (the symbol's sleeve weight as a 1-element sequence, or the book's; None:
    1 per symbol); the unit of a dask task."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if spec.cross_sectional:
        out = np.empty((len(values), len(METRICS)))
        for i in range(len(values)):
            out[i] = _engine_row(spec, bars, values[i], settings, risk, weights)
        return out
    (data,) = _symbol_arrays({symbol: bars})
    return _evaluate_symbol(spec, data, bars, values, settings, risk, weights)


def _evaluate_symbol(
    spec: Strategy,
    data: _SymbolArrays,
    bars: pd.DataFrame,
    values: np.ndarray,
    settings: EngineSettings,
    risk: RiskLimits | None,
    weights: Sequence[float] | None,
) -> np.ndarray:
    """:func:`evaluate_generic_block` for a single-symbol strategy on arrays already
    validated (a local sweep builds them once per symbol, not once per block)."""
    out = np.empty((len(values), len(METRICS)))
    targets = np.empty((len(values), len(data.close)))
    gaps = np.empty(len(values), dtype=np.bool_)  # a row with any NaN
    calls = getattr(spec.signal, "calls", None)  # a user's signal: arguments bound per block
    if calls is None:
        for i in range(len(values)):
            row = spec.signal(data.open, data.high, data.low, data.close, data.volume, values[i])
            gaps[i] = _store_nb(row, targets, i)
    else:
        rows = calls(data.open, data.high, data.low, data.close, data.volume, values)
        for i, row in enumerate(rows):
            gaps[i] = _store_nb(row, targets, i)
    if not gaps.all():
        fast = np.flatnonzero(~gaps)
        index = np.arange(len(fast), dtype=np.int64).reshape(-1, 1)
        out[fast] = _kernel(
            TARGETS,
            data,
            targets if len(fast) == len(values) else np.ascontiguousarray(targets[fast]),
            index,
            values if len(fast) == len(values) else values[fast],
            settings,
            risk,
            1.0 if weights is None else float(weights[0]),
        )
    for j in np.flatnonzero(gaps):
        out[j] = _engine_row(spec, bars, values[j], settings, risk, weights)
    return out


@njit(cache=True)
def _store_nb(row: np.ndarray, targets: np.ndarray, i: int) -> bool:
    """Copy ``row`` into ``targets[i]`` (while it is in cache) and say whether it holds NaN
    (one pass instead of a copy and a second scan of the whole block)."""
    gap = 0
    dst = targets[i]
    for t in range(row.shape[0]):
        v = row[t]
        dst[t] = v
        gap |= v != v  # no branch: the loop vectorizes
    return gap != 0


def _engine_row(
    spec: Strategy,
    bars: pd.DataFrame,
    row: np.ndarray,
    settings: EngineSettings,
    risk: RiskLimits | None,
    weights: Sequence[float] | None,
) -> list[float]:
    """One parameter set scored by the engine: ``tk.backtest``'s metrics."""
    params = {
        p.name: (int(v) if p.kind is int else float(v))
        for p, v in zip(spec.params, row, strict=True)
    }
    m = backtest(bars, spec, params, settings, weights, risk).metrics()
    return [m[key] for key in METRICS]


def sweep_generic(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    spec: Strategy,
    grid: ParamGrid | Mapping[str, Any],
    settings: EngineSettings | None = None,
    *,
    client: Any = None,
    progress: bool = True,
    on_block: OnBlock | None = None,
    risk: RiskLimits | None = None,
    weights: Weights | None = None,
) -> pd.DataFrame:
    """Rows like :func:`toolkit.sweep.sweep`'s for a strategy without the fused fast path
    (a cross-sectional book takes ``weights`` as the book's sleeve weights, default 1)."""
    pgrid = grid if isinstance(grid, ParamGrid) else make_grid(spec, grid)
    if pgrid.strategy != spec.name:
        raise ConfigError(f"the grid was built for {pgrid.strategy!r}, not {spec.name!r}.")
    k = len(pgrid)
    if k == 0:
        raise ConfigError("the grid is empty after constraints; widen the axes.")
    s = settings or EngineSettings()
    books = _books(bars, spec)
    book_w = _book_weights(spec, books, weights)
    n_bars = max(len(frame) for _, frame in books)
    size = max(_BLOCK_MIN, _BLOCK_VALUES // n_bars)
    blocks = [(lo, min(k, lo + size)) for lo in range(0, k, size)]
    total = k * len(books)
    results: dict[tuple[int, int], np.ndarray] = {}
    interrupted = False
    if client is not None:
        futures = {
            client.submit(
                evaluate_generic_block,
                spec,
                sym,
                frame,
                pgrid.values[lo:hi],
                s,
                risk,
                book_w[i],
                pure=False,
            ): (i, lo)
            for i, (sym, frame) in enumerate(books)
            for lo, hi in blocks
        }
        done = 0
        for fut, key in futures.items():
            results[key] = fut.result()
            done += len(results[key])
            if on_block is not None:
                on_block(done, total)
    else:
        bar = _progress_bar(total, progress, "sweep (generic path)")
        done = 0
        try:
            for i, (sym, frame) in enumerate(books):
                data = None if spec.cross_sectional else _symbol_arrays({sym: frame})[0]
                for lo, hi in blocks:
                    values = np.ascontiguousarray(pgrid.values[lo:hi], dtype=np.float64)
                    if data is None:
                        results[(i, lo)] = evaluate_generic_block(
                            spec, sym, frame, values, s, risk, book_w[i]
                        )
                    else:
                        results[(i, lo)] = _evaluate_symbol(
                            spec, data, frame, values, s, risk, book_w[i]
                        )
                    done += hi - lo
                    if bar is not None:
                        bar.update(hi - lo)
                    if on_block is not None:
                        on_block(done, total)
        except KeyboardInterrupt:
            warnings.warn(
                f"sweep interrupted: returning the {done} of {total} rows finished.",
                stacklevel=2,
            )
            interrupted = True
        finally:
            if bar is not None:
                bar.close()
    return _frame(pgrid, [sym for sym, _ in books], results, interrupted)


def _book_weights(
    spec: Strategy, books: list[tuple[str, pd.DataFrame]], weights: Weights | None
) -> list[list[float] | None]:
    """The weights each book's rows trade with: a symbol's sleeve weight (as a 1-element
    list), or the cross-sectional book's weights in panel order; None: 1 per symbol."""
    if weights is None:
        return [None] * len(books)
    if not spec.cross_sectional:
        return [[w] for w in sleeve_weights(weights, [sym for sym, _ in books])]
    ((_, panel),) = books
    symbols = [str(c) for c in as_panel(panel)["close"].columns]
    return [sleeve_weights(weights, symbols)]


def _frame(
    pgrid: ParamGrid,
    symbols: list[str],
    results: dict[tuple[int, int], np.ndarray],
    interrupted: bool,
) -> pd.DataFrame:
    out = _rows(pgrid, symbols, results, interrupted)
    out.attrs["path"] = "generic"
    return out
