"""Where the headline sweep's time goes: its three phases timed apart, in CPU seconds.

The headline case of :mod:`research.benchmarks.sweep` (19,900 SMA pairs x 5,000 SPY bars,
``cross = 1``, default settings: IBKR fixed, whole shares, next-open fills) split into what
``sweep_nb`` does for it, each phase run over the whole grid in one thread:

* features: the SMA rows of the 200 distinct windows, then one sorted pass over the bars
  that finds where every pair's comparison changes (once per sweep);
* change points: each pair's crossings read from its changes (``changes_nb``);
* simulation: the change-point driver on those change points (``simulate_changes_nb``),
  i.e. everything else -- fills, decisions, held-stretch folds, metrics.

CPU time (``time.process_time``), min and median of several runs: on a shared machine it
moves less than wall time, and a phase's share is what a faster kernel has to beat. The
change points are counted too (the work the simulation is proportional to).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

import toolkit as tk
from research.benchmarks.sweep import WINDOWS
from toolkit.engine._step import STATE_COLS, TRADE_COLS
from toolkit.metrics._kernels import STACK_ROWS, price_tables_nb
from toolkit.strategies._dispatch import IDS, changes_nb
from toolkit.sweep._changes import HELD_COLS, simulate_changes_nb
from toolkit.sweep._fold import ACC_SIZE
from toolkit.sweep._kernels import N_METRICS
from toolkit.sweep.grid import make_grid
from toolkit.sweep.runner import _features, _symbol_arrays


@njit(cache=True)
def _change_points(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    aux: np.ndarray,
    grid: np.ndarray,
    index: np.ndarray,
    sid: int,
) -> int:
    """Every set's change points, counted (what the sweep kernel computes per set)."""
    n = c.shape[0]
    work, cp_bar, cp_val = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n)
    total = 0
    for k in range(grid.shape[0]):
        total += changes_nb(sid, o, h, lo, c, v, aux, grid[k], index[k], work, cp_bar, cp_val)
    return total


@njit(cache=True)
def _changes_and_simulation(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    aux: np.ndarray,
    grid: np.ndarray,
    index: np.ndarray,
    sid: int,
    month: np.ndarray,
    settings: Any,
    prefix: np.ndarray,
    ranges: np.ndarray,
    out: np.ndarray,
) -> None:
    """The change-point half of ``sweep_nb`` in one thread."""
    n = c.shape[0]
    work, cp_bar, cp_val = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n)
    st, acc, scratch = np.empty(STATE_COLS), np.empty(ACC_SIZE), np.empty((1, TRADE_COLS))
    stack = np.empty((STACK_ROWS, 2), dtype=np.int64)
    held = np.empty((n, HELD_COLS))
    for k in range(grid.shape[0]):
        m = changes_nb(sid, o, h, lo, c, v, aux, grid[k], index[k], work, cp_bar, cp_val)
        simulate_changes_nb(
            o, c, cp_bar, cp_val, m, month, 1.0, settings, prefix, ranges, st, acc, scratch,
            stack, held, out[k],
        )  # fmt: skip


def _cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(min, median) CPU seconds of ``repeat`` runs, and the last result."""
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return min(times), statistics.median(times), out


def main(repeat: int = 7) -> None:
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _run(repeat)
    finally:
        numba.set_num_threads(threads)  # make bench runs other benchmarks after this one


def _run(repeat: int) -> None:
    bars = tk.load("SPY").iloc[-5000:]
    d = _symbol_arrays(bars)[0]
    grid = np.ascontiguousarray(
        make_grid("sma_cross", {"fast": WINDOWS, "slow": WINDOWS, "cross": 1}).values
    )
    settings = tk.EngineSettings().kernel(tk.RiskLimits())
    sid = IDS["sma_cross"]
    o, h, lo, c, v = d.open, d.high, d.low, d.close, d.volume
    prefix, ranges = price_tables_nb(c)
    out = np.empty((len(grid), N_METRICS))
    aux, index = _features("sma_cross", d, grid[:5])  # load the kernels from the cache
    _change_points(o, h, lo, c, v, aux, grid[:5], index, sid)
    _changes_and_simulation(
        o, h, lo, c, v, aux, grid[:5], index, sid, d.month, settings, prefix, ranges, out
    )
    print(f"== sweep phases: 5,000 SPY bars x {len(grid):,} SMA pairs, IBKR defaults, 1 thread ==")
    print(f"load average {os.getloadavg()[0]:.1f} at start; CPU seconds, min / median of {repeat}")
    f_min, f_med, (aux, index) = _cpu(lambda: _features("sma_cross", d, grid), repeat)
    s_min, s_med, points = _cpu(
        lambda: _change_points(o, h, lo, c, v, aux, grid, index, sid), repeat
    )
    t_min, t_med, _ = _cpu(
        lambda: _changes_and_simulation(
            o, h, lo, c, v, aux, grid, index, sid, d.month, settings, prefix, ranges, out
        ),
        repeat,
    )
    print(f"features (SMA rows, orders)  {f_min * 1e3:7.1f} / {f_med * 1e3:7.1f} ms")
    print(f"change points (per pair)     {s_min * 1e3:7.1f} / {s_med * 1e3:7.1f} ms  "
          f"({points:,} change points)")  # fmt: skip
    print(f"simulation (by difference)   {(t_min - s_min) * 1e3:7.1f} / "
          f"{(t_med - s_med) * 1e3:7.1f} ms  "
          f"({(t_min - s_min) / points * 1e9:.0f} ns per change point)")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
