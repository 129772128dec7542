"""``sweep``: evaluate a strategy over a parameter grid on one or many symbols.

Locally the grid runs in numba threads; with a ``dask.distributed`` client the same blocks
(symbol x parameter block) run on the cluster's workers and the rows are identical.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd

from toolkit import strategies
from toolkit.engine._bars import bars_of
from toolkit.engine.backtest import day_ids, month_ids
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError, DataError
from toolkit.risk import RiskLimits
from toolkit.strategies._dispatch import IDS
from toolkit.strategies.spec import Strategy
from toolkit.sweep._kernels import METRICS, N_METRICS, sweep_nb
from toolkit.sweep.grid import ParamGrid, make_grid

_FIELDS = ("open", "high", "low", "close", "volume")
# Parameter sets whose features are computed together (bounds the indicator rows in memory).
_FEATURE_BLOCK = 50_000
OnBlock = Callable[[int, int], None]
Weights = Sequence[float] | Mapping[str, float]


@dataclass(frozen=True)
class _SymbolArrays:
    """One symbol's bars as the contiguous arrays the kernels take."""

    symbol: str
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    month: np.ndarray
    day: np.ndarray


def _symbol_arrays(bars: pd.DataFrame | Mapping[str, pd.DataFrame]) -> list[_SymbolArrays]:
    """Each symbol's bars, validated by the engine's gate (the same checks as a backtest)."""
    if isinstance(bars, Mapping):
        gated = [(str(k), bars_of(v)) for k, v in bars.items()]
    else:  # one frame (one symbol, or field x symbol columns): no per-field frames built
        gated = [("", bars_of(bars))]
    out = []
    for name, b in gated:
        month = month_ids(b.index)
        day = day_ids(b.index)
        # a mapping names one symbol's bars per key (its frame's first symbol)
        for j, sym in enumerate(b.symbols[:1] if name else b.symbols):
            label = name or str(sym)
            if len(b.index) < 2:
                raise DataError(f"{label}: a sweep needs at least 2 bars, got {len(b.index)}.")
            col = {f: _readonly_copy(b.arrays[f][:, j]) for f in _FIELDS}
            out.append(
                _SymbolArrays(
                    label,
                    col["open"],
                    col["high"],
                    col["low"],
                    col["close"],
                    col["volume"],
                    month,
                    day,
                )
            )
    return out


def _readonly_copy(column: np.ndarray) -> np.ndarray:
    """A contiguous read-only float64 copy: the flavour every caller hands the sweep kernels
    (numba compiles one specialisation per flavour, and two compiled at once by parallel test
    workers into one cache folder can mix up their entries)."""
    out = np.array(column, dtype=np.float64)
    out.flags.writeable = False
    return out


def _features(
    strategy: str, data: _SymbolArrays, params: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    features = strategies.get(strategy).features
    if features is None:  # only built-ins (which all have features) reach the fused path
        raise ConfigError(f"strategy {strategy!r} has no features function for the fused sweep.")
    aux, index = features(data.open, data.high, data.low, data.close, data.volume, params)
    return np.ascontiguousarray(aux), np.ascontiguousarray(index)


def _kernel(
    strategy: str,
    data: _SymbolArrays,
    aux: np.ndarray,
    index: np.ndarray,
    params: np.ndarray,
    settings: EngineSettings,
    risk: RiskLimits | None = None,
    weight: float = 1.0,
) -> np.ndarray:
    out = np.empty((len(params), N_METRICS))
    use_stops = not (
        settings.stop_loss is None
        and settings.take_profit is None
        and settings.trailing_stop is None
    )
    sweep_nb(
        IDS[strategy],
        data.open,
        data.high,
        data.low,
        data.close,
        data.volume,
        aux,
        index,
        params,
        data.month,
        data.day,
        float(weight),
        settings.kernel(risk),
        numba.get_num_threads(),
        use_stops,
        settings.commission.kind == "ibkr_tiered",
        out,
    )
    return out


def evaluate_block(
    strategy: str,
    data: _SymbolArrays,
    params: np.ndarray,
    settings: EngineSettings,
    risk: RiskLimits | None = None,
    weight: float = 1.0,
) -> np.ndarray:
    """Metrics (len(params) x N_METRICS) for one symbol and one block of parameter sets.

    The unit of work of a dask task: the strategy's features for the block, then the
    parallel kernel.
    """
    grid = np.ascontiguousarray(params, dtype=np.float64)
    aux, index = _features(strategy, data, grid)
    return _kernel(strategy, data, aux, index, grid, settings, risk, weight)


def sleeve_weights(weights: Weights | None, symbols: Sequence[str]) -> list[float]:
    """Each symbol's sleeve weight for a sweep row: 1 (full weight) unless ``weights`` give
    it, in symbol order or by symbol name."""
    if weights is None:
        return [1.0] * len(symbols)
    if isinstance(weights, Mapping):
        unknown = sorted(set(map(str, weights)) - set(symbols))
        if unknown:
            raise ConfigError(f"weights name symbols that are not in the bars: {unknown}.")
        return [float(weights.get(sym, 1.0)) for sym in symbols]
    w = [float(x) for x in weights]
    if len(w) != len(symbols):
        raise ConfigError(f"weights has {len(w)} values for {len(symbols)} symbols.")
    return w


def _blocks(k: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(k, lo + size)) for lo in range(0, k, size)]


def sweep(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    strategy: str | Strategy,
    grid: ParamGrid | Mapping[str, Any],
    settings: EngineSettings | None = None,
    *,
    client: Any = None,
    block_size: int | None = None,
    progress: bool = True,
    on_block: OnBlock | None = None,
    risk: RiskLimits | None = None,
    weights: Weights | None = None,
) -> pd.DataFrame:
    """Evaluate every parameter set of ``grid`` on every symbol of ``bars``.

    Each (parameters, symbol) row is a single-symbol backtest with ``settings``, the
    ``risk`` limits and the symbol's sleeve weight (``weights`` in symbol order or by name;
    default 1, full weight) -- the same result ``toolkit.backtest(bars_of_symbol, ...,
    weights=[w], risk=risk)`` gives for it -- reduced to metrics in the kernel:
    total_return, cagr, sharpe, sortino, max_drawdown, trades (closed), win_rate, exposure,
    commissions, final_equity. ``grid`` is a ParamGrid or a mapping of axes for
    :func:`make_grid`. ``client`` (a ``dask.distributed.Client``) spreads blocks over a
    cluster. Ctrl+C returns the rows finished so far (``attrs["interrupted"]``).

    A strategy without the built-ins' features/rule split (a user's signal function), or
    any strategy under portfolio risk rules (toolkit.risk.portfolio), runs on the generic
    path (toolkit/sweep/_generic.py): same rows, one engine run per set; a
    cross-sectional one gives one row per set for the whole book (symbol "portfolio").
    """
    spec = strategies.resolve(strategy)
    # portfolio rules estimate from the whole book's history: every row is an engine run
    if not strategies.is_builtin(spec.name) or (risk is not None and risk.portfolio):
        from toolkit.sweep._generic import sweep_generic

        return sweep_generic(
            bars,
            spec,
            grid,
            settings,
            client=client,
            progress=progress,
            on_block=on_block,
            risk=risk,
            weights=weights,
        )
    strategy = spec.name
    if strategy not in IDS:
        raise ConfigError(f"strategy {strategy!r} cannot be swept; choose one of {', '.join(IDS)}.")
    pgrid = grid if isinstance(grid, ParamGrid) else make_grid(strategy, grid)
    if pgrid.strategy != strategy:
        raise ConfigError(f"the grid was built for {pgrid.strategy!r}, not {strategy!r}.")
    s = settings or EngineSettings()
    data = _symbol_arrays(bars)
    k = len(pgrid)
    if k == 0:
        raise ConfigError("the grid is empty after constraints; widen the axes.")
    w = sleeve_weights(weights, [d.symbol for d in data])
    if client is not None:
        results, interrupted = _run_dask(
            client, strategy, data, pgrid, s, block_size, on_block, risk, w
        )
    else:
        results, interrupted = _run_local(
            strategy, data, pgrid, s, block_size, progress, on_block, risk, w
        )
    return _frame(pgrid, [d.symbol for d in data], results, interrupted)


def _run_local(
    strategy: str,
    data: list[_SymbolArrays],
    pgrid: ParamGrid,
    s: EngineSettings,
    block_size: int | None,
    progress: bool,
    on_block: OnBlock | None,
    risk: RiskLimits | None,
    weights: list[float],
) -> tuple[dict[tuple[int, int], np.ndarray], bool]:
    """Per symbol: features once per feature block, the kernel per progress block."""
    k = len(pgrid)
    # blocks exist to report progress (and to stop between them on Ctrl+C); each is one
    # parallel kernel call whose threads wait for the slowest at its end, so with nobody
    # watching the whole feature block is one call
    watched = progress or on_block is not None
    size = block_size or (max(256, min(_FEATURE_BLOCK, -(-k // 8))) if watched else _FEATURE_BLOCK)
    results: dict[tuple[int, int], np.ndarray] = {}
    bar = _progress_bar(k * len(data), progress)
    done = 0
    try:
        for i, d in enumerate(data):
            for f_lo, f_hi in _blocks(k, _FEATURE_BLOCK):
                params = np.ascontiguousarray(pgrid.values[f_lo:f_hi])
                aux, index = _features(strategy, d, params)
                for lo, hi in _blocks(f_hi - f_lo, size):
                    results[(i, f_lo + lo)] = _kernel(
                        strategy,
                        d,
                        aux,
                        np.ascontiguousarray(index[lo:hi]),
                        np.ascontiguousarray(params[lo:hi]),
                        s,
                        risk,
                        weights[i],
                    )
                    done += hi - lo
                    if bar is not None:
                        bar.update(hi - lo)
                    if on_block is not None:
                        on_block(done, k * len(data))
    except KeyboardInterrupt:
        _warn_interrupted(done, k * len(data))
        return results, True
    finally:
        if bar is not None:
            bar.close()
    return results, False


def _run_dask(
    client: Any,
    strategy: str,
    data: list[_SymbolArrays],
    pgrid: ParamGrid,
    s: EngineSettings,
    block_size: int | None,
    on_block: OnBlock | None,
    risk: RiskLimits | None,
    weights: list[float],
) -> tuple[dict[tuple[int, int], np.ndarray], bool]:
    from distributed import as_completed

    k = len(pgrid)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = block_size or max(256, -(-k // (4 * workers)))
    futures = {}
    for i, d in enumerate(data):
        remote = client.scatter(d, broadcast=True)
        for lo, hi in _blocks(k, size):
            fut = client.submit(
                evaluate_block,
                strategy,
                remote,
                pgrid.values[lo:hi],
                s,
                risk,
                weights[i],
                pure=False,
            )
            futures[fut] = (i, lo)
    results: dict[tuple[int, int], np.ndarray] = {}
    done = 0
    try:
        for fut in as_completed(list(futures)):  # type: ignore[no-untyped-call]
            i, lo = futures[fut]
            block = fut.result()
            results[(i, lo)] = block
            done += len(block)
            if on_block is not None:
                on_block(done, k * len(data))
    except KeyboardInterrupt:
        client.cancel(list(futures))
        _warn_interrupted(done, k * len(data))
        return results, True
    return results, False


def _progress_bar(total: int, enabled: bool, desc: str = "sweep") -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="combo", unit_scale=True, desc=desc, leave=False)


def _warn_interrupted(done: int, total: int) -> None:
    warnings.warn(
        f"sweep interrupted: returning the {done} of {total} rows finished.", stacklevel=3
    )


def _frame(
    pgrid: ParamGrid,
    symbols: list[str],
    results: dict[tuple[int, int], np.ndarray],
    interrupted: bool,
) -> pd.DataFrame:
    """Sweep rows: parameters, symbol and metrics of every finished (symbol, block), in
    (symbol, block) order. Built once from the stacked blocks, column by column (a frame
    and two concatenations per block cost ~15 ms on the headline grid, a tenth of its
    kernel time then)."""
    keys = sorted(results)
    if not keys:
        out = pd.DataFrame(columns=[*pgrid.names, "symbol", *METRICS])
        out.attrs["interrupted"] = interrupted
        out.attrs["strategy"] = pgrid.strategy
        out.attrs["dropped_by_constraints"] = pgrid.dropped
        return out
    sizes = [len(results[key]) for key in keys]
    rows = np.concatenate([np.arange(lo, lo + len(results[(i, lo)])) for i, lo in keys])
    which = np.repeat(np.array([i for i, _ in keys], dtype=np.int64), sizes)
    block = results[keys[0]] if len(keys) == 1 else np.concatenate([results[k] for k in keys])
    whole = len(keys) == 1 and len(rows) == len(pgrid)  # one block of every row, in order
    cols: dict[str, Any] = dict(pgrid.columns(None if whole else rows))
    if len({i for i, _ in keys}) == 1:
        cols["symbol"] = symbols[keys[0][0]]  # a scalar: broadcast, no string per row
    else:
        cols["symbol"] = pd.Series(symbols, dtype="str").take(which).reset_index(drop=True)
    by_metric = np.ascontiguousarray(block.T)  # each metric's column contiguous (~0.2 ms)
    for j, name in enumerate(METRICS):
        cols[name] = by_metric[j].astype(np.int64) if name == "trades" else by_metric[j]
    # the columns as they are, views of arrays nothing else holds: consolidating them into
    # pandas' blocks cost ~1.3 of ~2 ms on the headline grid
    out = pd.DataFrame(cols, copy=False)
    out.attrs["interrupted"] = interrupted
    out.attrs["strategy"] = pgrid.strategy
    out.attrs["dropped_by_constraints"] = pgrid.dropped
    return out
