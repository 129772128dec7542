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

import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
import pandas as pd
from numba import njit

from toolkit.engine._bars import FIELDS, Bars, as_panel, bar_arrays, bars_of
from toolkit.engine.backtest import backtest_gated
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError, DataError
from toolkit.risk import RiskLimits
from toolkit.strategies._dispatch import IDS, TARGETS
from toolkit.strategies.spec import Strategy
from toolkit.sweep._kernels import METRICS, sweep_nb
from toolkit.sweep.grid import ParamGrid, make_grid
from toolkit.sweep.portfolio import PORTFOLIO
from toolkit.sweep.runner import (
    Weights,
    _progress_bar,
    _symbol_arrays,
    _SymbolArrays,
    sleeve_weights,
)
from toolkit.sweep.runner import _frame as _rows

OnBlock = Callable[[int, int], None]
# Parameter sets per progress step / dask task: their target rows are held in memory, about
# _BLOCK_VALUES float64s a block (10 MB; a local sweep holds two, one scored while the next
# is filled: the generic bench's process then peaks under 300 MB), and at least _BLOCK_MIN
# sets (the kernel's fixed cost per call is then small beside the signals': blocks of 64 to
# 400 sets cost the same CPU on 5,000 bars, 32 ~20% more).
_BLOCK_VALUES = 1_280_000
_BLOCK_MIN = 64


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
        book = bars_of(bars)  # gated once for the block's engine runs
        for i in range(len(values)):
            out[i] = _engine_row(spec, book, values[i], settings, risk, weights)
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
    targets = np.empty((len(values), len(data.close)))
    gaps = _signals(spec, data, values, targets)
    block = _Block(data, values, targets, gaps, settings, risk, weights)
    if block.args:
        sweep_nb(*block.args)
    return block.finish(spec, bars)


def _signals(
    spec: Strategy, data: _SymbolArrays, values: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Each row of ``values``' target path into ``targets`` (the Python loop over the
    user's signal); True where a path holds NaN."""
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
    return gaps


class _Block:
    """One block of parameter sets between its signals and its rows: the fused kernel's
    arguments for the rows without NaN (the engine scores the others in :meth:`finish`)."""

    def __init__(
        self,
        data: _SymbolArrays,
        values: np.ndarray,
        targets: np.ndarray,
        gaps: np.ndarray,
        settings: EngineSettings,
        risk: RiskLimits | None,
        weights: Sequence[float] | None,
    ) -> None:
        self.data, self.values, self.targets, self.gaps = data, values, targets, gaps
        self.settings, self.risk, self.weights = settings, risk, weights
        # rows with NaN, and every row under portfolio rules (they estimate from the book's
        # history, which only the engine keeps), are engine runs
        engine_only = risk is not None and risk.portfolio
        self.fast = fast = np.flatnonzero(~gaps) if not engine_only else np.empty(0, np.int64)
        self.slow = np.flatnonzero(gaps) if not engine_only else np.arange(len(values))
        self.out = np.empty((len(values), len(METRICS)))
        whole = len(fast) == len(values)
        self.kernel_out = self.out if whole else np.empty((len(fast), len(METRICS)))
        # the fused kernel's arguments (as runner._kernel passes them) for the rows without
        # NaN, writing into kernel_out (the block's own rows when none holds NaN); () if none
        s = settings
        use_stops = not (s.stop_loss is None and s.take_profit is None and s.trailing_stop is None)
        self.args: tuple[Any, ...] = (
            ()
            if len(fast) == 0
            else (
                IDS[TARGETS],
                data.open,
                data.high,
                data.low,
                data.close,
                data.volume,
                targets if whole else np.ascontiguousarray(targets[fast]),
                np.arange(len(fast), dtype=np.int64).reshape(-1, 1),
                values if whole else np.ascontiguousarray(values[fast]),
                data.month,
                data.day,
                1.0 if weights is None else float(weights[0]),
                s.kernel(risk),
                numba.get_num_threads(),
                use_stops,
                s.commission.kind == "ibkr_tiered",
                self.kernel_out,
            )
        )

    def finish(self, spec: Strategy, bars: pd.DataFrame) -> np.ndarray:
        """The block's rows once the kernel has run: its rows, then the engine's."""
        out = self.out
        if self.kernel_out is not out:
            out[self.fast] = self.kernel_out
        if len(self.slow):
            book = bars_of(bars)  # gated once for the block's engine runs
            for j in self.slow:
                out[j] = _engine_row(
                    spec, book, self.values[j], self.settings, self.risk, self.weights
                )
        return out


@njit(nogil=True, cache=True)
def _sweep_nogil_nb(args: tuple[Any, ...]) -> None:  # pragma: no cover - compiled
    """``sweep_nb(*args)`` without the GIL: the kernel on one block runs in a worker thread
    while the user's Python signal loop fills the next block."""
    sweep_nb(*args)


def _sweep_in_worker(args: tuple[Any, ...]) -> None:
    """:func:`_sweep_nogil_nb` from a pool thread."""
    _sweep_nogil_nb(args)


def _pipelined(
    spec: Strategy,
    data: _SymbolArrays,
    bars: pd.DataFrame,
    grid: np.ndarray,
    blocks: list[tuple[int, int]],
    settings: EngineSettings,
    risk: RiskLimits | None,
    weights: Sequence[float] | None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(lo, hi, rows) of each block in order, the signals of block b+1 computed while the
    kernel scores block b in a worker thread (two target buffers, used in turn)."""
    n = len(data.close)
    buffers = [np.empty((max(hi - lo for lo, hi in blocks), n))]
    running: tuple[int, int, _Block, Future[None]] | None = None
    # the signal loop keeps one core busy: the kernel gets the others (1 of 2; more threads
    # than cores made each parallel region wait on a descheduled thread, +30% CPU)
    threads = max(1, numba.get_num_threads() - 1)
    # the signal loop holds the GIL between a user's calls and gives it up only every switch
    # interval (5 ms, about a block of signals): the worker needs it for a moment to enter
    # the kernel and to leave it and waited that long at each end, so the two hardly
    # overlapped (a 0.55 s sweep's timeline: 0.003 s). 0.2 ms while the sweep runs (the
    # caller's interval after): main then waits 0.02 s in all for kernels, 0.31 s of
    # signals and 0.20 s of kernel CPU take 0.35 s wall.
    with (
        _switch_interval(2e-4),
        ThreadPoolExecutor(1, "toolkit-sweep", numba.set_num_threads, (threads,)) as pool,
    ):
        for b, (lo, hi) in enumerate(blocks):
            values = np.ascontiguousarray(grid[lo:hi], dtype=np.float64)
            if b == 1:
                buffers.append(np.empty_like(buffers[0]))
            targets = buffers[b % 2][: hi - lo]  # its last reader, block b-2, has finished
            block = _Block(
                data,
                values,
                targets,
                _signals(spec, data, values, targets),
                settings,
                risk,
                weights,
            )
            if running is not None:
                yield _finished(running, spec, bars)
            running = (lo, hi, block, _start(pool, block))
        if running is not None:
            yield _finished(running, spec, bars)


@contextmanager
def _switch_interval(seconds: float) -> Iterator[None]:
    """Python's GIL switch interval at most ``seconds`` inside, the caller's after."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _start(pool: ThreadPoolExecutor, block: _Block) -> Future[None]:
    """The block's kernel, running in ``pool``'s thread (done at once if it has no rows)."""
    if block.args:
        return pool.submit(_sweep_in_worker, block.args)
    done: Future[None] = Future()
    done.set_result(None)
    return done


def _finished(
    running: tuple[int, int, _Block, Future[None]], spec: Strategy, bars: pd.DataFrame
) -> tuple[int, int, np.ndarray]:
    lo, hi, block, future = running
    future.result()
    return lo, hi, block.finish(spec, bars)


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
    bars: Bars,
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
    m = backtest_gated(bars, spec, params, settings, weights, risk).metrics()
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
                if spec.cross_sectional:
                    finished: Iterator[tuple[int, int, np.ndarray]] = (
                        (
                            lo,
                            hi,
                            evaluate_generic_block(
                                spec, sym, frame, pgrid.values[lo:hi], s, risk, book_w[i]
                            ),
                        )
                        for lo, hi in blocks
                    )
                else:
                    data = _symbol_arrays({sym: frame})[0]
                    finished = _pipelined(
                        spec, data, frame, pgrid.values, blocks, s, risk, book_w[i]
                    )
                for lo, hi, rows in finished:
                    results[(i, lo)] = rows
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
