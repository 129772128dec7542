"""Sweep benchmark: toolkit.sweep vs vectorbt's standard pattern, same process, same grid.

Grid: SMA crossover, every pair fast < slow from 2 to 201 (19,900 combinations). vectorbt's
pattern is ``MA.run_combs`` + ``ma_crossed_above/below`` + ``Portfolio.from_signals``; the
toolkit runs ``sma_cross`` with ``cross=1`` (the same crossing semantics) under matching
conventions: same-bar close fills, 0.1% proportional fees, fractional sizes, all-in long only.
Final equities are compared for every combination: to 1e-9 relative on daily bars. On the
1-minute case a few fast pairs make ~18,000 trades and lose nearly all their equity, and
there vectorbt's own 1e-9 relative snapping (``is_close_nb``) accumulates, so that case is
held to 1e-8. The account starts with 1,000,000 so that vectorbt's absolute tolerances
(1e-12) never bite on tiny sizes. Peak memory is the highest resident set
size above the process's baseline while each method runs (sampled every millisecond); the
toolkit's is measured in a fresh child process, where earlier runs cannot hide it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

import toolkit as tk
from toolkit.sweep import make_grid, sweep

SETTINGS = tk.EngineSettings(
    init_cash=1_000_000.0, fill="close", commission=tk.proportional(0.001), fractional=True
)
WINDOWS = np.arange(2, 202)


class PeakRSS:
    """Context manager sampling this process's RSS; ``peak_mb`` is the rise above the start."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRSS:
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any, float]:
    """(median seconds, result, peak MB above baseline). Memory is sampled on a separate
    run so the sampling thread never competes with the timed runs for the cores."""
    with PeakRSS() as mem:
        out = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out, mem.peak_mb


def toolkit_sweep(bars: pd.DataFrame, windows: np.ndarray) -> pd.Series:
    grid = make_grid("sma_cross", {"fast": windows, "slow": windows, "cross": 1})
    rows = sweep(bars, "sma_cross", grid, SETTINGS, progress=False)
    return pd.Series(
        rows["final_equity"].to_numpy(),
        index=pd.MultiIndex.from_arrays([rows["fast"], rows["slow"]]),
    )


def vectorbt_pattern(close: pd.Series, windows: np.ndarray) -> pd.Series:
    import vectorbt as vbt

    fast, slow = vbt.MA.run_combs(close, window=windows, r=2, short_names=["fast", "slow"])
    pf = vbt.Portfolio.from_signals(
        close,
        fast.ma_crossed_above(slow),
        fast.ma_crossed_below(slow),
        fees=0.001,
        init_cash=1_000_000.0,
        freq="1D",
    )
    return pf.final_value()


def child_peak_mb(n_bars: int, minute: bool) -> tuple[float, float]:
    """(peak RSS of a fresh process running one sweep, its rise above the post-import,
    post-load, warmed-up baseline), in MB: memory not shared with anything else."""
    code = (
        "import resource, numpy as np, toolkit as tk\n"
        "from research.benchmarks.sweep import toolkit_sweep, WINDOWS\n"
        f"minute = {minute!r}\n"
        "p = tk.data.default_data_dir() / 'intraday' / 'SPY_1min_2024-02-20_2024-05-17.csv'\n"
        f"b = tk.load(p) if minute else tk.load('SPY').iloc[-{n_bars}:]\n"
        "toolkit_sweep(b.iloc[:300], WINDOWS[:5])\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "toolkit_sweep(b, WINDOWS)\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(peak / 1024, (peak - base) / 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    peak, rise = (float(x) for x in done.stdout.strip().splitlines()[-1].split())
    return peak, rise


def cold_compile_seconds() -> float:
    """First sweep call in a fresh interpreter with an empty numba cache (compile included)."""
    code = (
        "import time, toolkit as tk\n"
        "from research.benchmarks.sweep import toolkit_sweep\n"
        "import numpy as np\n"
        "b = tk.load('SPY').iloc[-300:]\n"
        "t = time.perf_counter(); toolkit_sweep(b, np.arange(2, 12)); "
        "print(time.perf_counter() - t)\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
            check=True,
        )
    return float(done.stdout.strip().splitlines()[-1])


def run_case(
    label: str, bars: pd.DataFrame, vbt_windows: np.ndarray, repeat: int, tol: float
) -> dict[str, Any]:
    n = len(bars)
    close = bars["close"].copy()
    close.index = close.index.tz_localize(None)
    toolkit_sweep(bars.iloc[:300], WINDOWS[:5])  # load kernels from the cache
    t_ours, ours, _ = _timed(lambda: toolkit_sweep(bars, WINDOWS), repeat)
    proc_peak, mem_ours = child_peak_mb(n, minute=n > 10_000)
    combos = len(ours)
    vbt_combos = len(vbt_windows) * (len(vbt_windows) - 1) // 2
    vectorbt_pattern(close.iloc[:300], vbt_windows[:5])  # warm vectorbt's own numba
    t_vbt, theirs, mem_vbt = _timed(lambda: vectorbt_pattern(close, vbt_windows), 1)
    key = list(theirs.index)
    rel = np.max(np.abs(ours.loc[key].to_numpy() / theirs.to_numpy() - 1.0))
    rate_ours = n * combos / t_ours
    rate_vbt = n * vbt_combos / t_vbt
    return {
        "label": label,
        "bars": n,
        "combos": combos,
        "vbt_combos": vbt_combos,
        "t_ours": t_ours,
        "t_vbt": t_vbt,
        "rate_ours": rate_ours,
        "rate_vbt": rate_vbt,
        "ratio": rate_ours / rate_vbt,
        "mem_ours": mem_ours,
        "mem_vbt": mem_vbt,
        "proc_peak": proc_peak,
        "rel": rel,
        "tol": tol,
    }


def report(r: dict[str, Any]) -> None:
    print(f"== sweep: {r['label']} ==")
    print(
        f"bars x combinations        {r['bars']:,} x {r['combos']:,}"
        + (
            f" (vectorbt on {r['vbt_combos']:,}: its memory would not fit the full grid)"
            if r["vbt_combos"] != r["combos"]
            else ""
        )
    )
    rows = (
        ("toolkit.sweep  warm median", r["t_ours"], r["rate_ours"], r["mem_ours"]),
        ("vectorbt       warm       ", r["t_vbt"], r["rate_vbt"], r["mem_vbt"]),
    )
    for label, t, rate, mem in rows:
        print(f"{label} {t:9.3f} s  {rate / 1e6:9.1f} M bar-combos/s  peak +{mem:7.0f} MB")
    print(
        f"toolkit process peak RSS   {r['proc_peak']:9.0f} MB (fresh process: Python, numba, "
        "pandas, data and the sweep)"
    )
    print(f"throughput ratio           {r['ratio']:9.1f} x")
    verdict = "OK" if r["rel"] < r["tol"] else "MISMATCH"
    print(
        f"max rel. diff final equity {r['rel']:.2e} over {r['vbt_combos']:,} combinations "
        f"(tolerance {r['tol']:.0e}: {verdict})"
    )


def main() -> None:
    daily = tk.load("SPY").iloc[-5000:]
    a = run_case("SPY daily, last 5,000 bars", daily, WINDOWS, repeat=5, tol=1e-9)
    report(a)
    minute = tk.load(tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv")
    b = run_case(
        f"SPY 1-minute, {len(minute):,} bars (the longest shipped series)",
        minute,
        np.arange(2, 62),
        repeat=2,
        tol=1e-8,
    )
    report(b)
    print(f"numba compile, cold cache (first call, fresh process): {cold_compile_seconds():.1f} s")
    if a["rel"] >= a["tol"] or b["rel"] >= b["tol"]:
        raise SystemExit("sweep results disagree with vectorbt")


if __name__ == "__main__":
    main()
