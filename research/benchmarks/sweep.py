"""Sweep benchmark: toolkit.sweep vs vectorbt's standard pattern, same process, same grid.

Grid: SMA crossover, every pair fast < slow from 2 to 201 (19,900 combinations). vectorbt's
pattern is ``MA.run_combs`` + ``ma_crossed_above/below`` + ``Portfolio.from_signals``; the
toolkit runs ``sma_cross`` with ``cross=1`` (the same crossing semantics) under matching
conventions: same-bar close fills, 0.1% proportional fees, fractional sizes, all-in long only.
Final equities are compared for every combination: to 1e-9 relative on daily bars. On the
1-minute case a few fast pairs make ~18,000 trades and lose nearly all their equity, and
there vectorbt's own 1e-9 relative snapping (``is_close_nb``) accumulates, so that case is
held to 1e-8. The account starts with 1,000,000 so that vectorbt's absolute tolerances
(1e-12) never bite on tiny sizes. A toolkit-only line times the same grid under the default
(realistic) settings: IBKR fixed commission, whole shares, next-open fills -- the issue's
headline case, whose throughput is also given as a ratio to vectorbt's run -- and a user's
numba SMA rule (signal only, no features/rule split) times the generic path on the same grid.

Times are min and median wall seconds of warm runs, with the process CPU seconds of the
fastest run and ns per bar x combination (wall / (bars x combinations)). The machine is
shared: compare the ratio (both measured in the same process, minutes apart), not absolute
times. The toolkit's daily cases are all timed before vectorbt's run: its +6.5 GB leaves the
process's memory in a state that slowed a sweep after it by 1-3 ms (46-47 -> 49-50 ms on the
headline grid in one measurement, 47 -> 48 ms in another); the headline case is timed once
more after it and printed too. Threads: vectorbt's kernels run in one thread (its numba
functions are not parallel), the toolkit's in numba's threads (the machine line says how
many), so each ratio is also given per CPU second (throughput / process CPU time of the
fastest run): the wall ratio says what a user waits for, the CPU ratio what the work costs.
Memory: vectorbt's is the rise of this process's RSS while it runs (sampled every
millisecond). The toolkit's is measured in a fresh child process from the kernel's own
high-water mark (``VmHWM`` in /proc/self/status, reset through /proc/self/clear_refs just
before the sweep), not from ``ru_maxrss``: Linux carries the parent's peak into a child's
``ru_maxrss`` across fork and exec, which is how a 7 GB parent once showed up as the sweep's
"peak".
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from numba import njit

import toolkit as tk
from research.benchmarks._memory import fresh_process_peak_mb
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


@dataclass(frozen=True)
class Timing:
    """Warm wall times (s) of ``repeat`` runs and the process CPU seconds of the fastest."""

    best: float
    median: float
    cpu: float
    runs: int


def _timed(fn: Callable[[], Any], repeat: int, memory: bool = True) -> tuple[Timing, Any, float]:
    """(timing, result, peak MB above baseline or NaN). Memory is sampled on a separate run
    so the sampling thread never competes with the timed runs for the cores."""
    peak = float("nan")
    if memory:
        with PeakRSS() as mem:
            out = fn()
        peak = mem.peak_mb
    runs = []
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    walls = [w for w, _ in runs]
    best = min(runs)
    return Timing(best[0], statistics.median(walls), best[1], len(runs)), out, peak


def toolkit_sweep(
    bars: pd.DataFrame, windows: np.ndarray, settings: tk.EngineSettings = SETTINGS
) -> pd.Series:
    grid = make_grid("sma_cross", {"fast": windows, "slow": windows, "cross": 1})
    rows = sweep(bars, "sma_cross", grid, settings, progress=False)
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
    """(peak RSS of a fresh process while it runs one sweep, that peak's rise above the
    process's RSS just before the sweep -- after imports, data loading and a warm-up), in MB,
    from the kernel's high-water mark of the child's own memory (see the module docstring)."""
    return fresh_process_peak_mb(
        (
            "import numpy as np, toolkit as tk\n"
            "from research.benchmarks.sweep import toolkit_sweep, WINDOWS\n"
            f"minute = {minute!r}\n"
            "p = tk.data.default_data_dir() / 'intraday' / 'SPY_1min_2024-02-20_2024-05-17.csv'\n"
            f"b = tk.load(p) if minute else tk.load('SPY').iloc[-{n_bars}:]\n"
            "toolkit_sweep(b.iloc[:300], WINDOWS[:5])\n"
        ),
        ("toolkit_sweep(b, WINDOWS)\n"),
    )


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
    t_ours, ours, _ = _timed(lambda: toolkit_sweep(bars, WINDOWS), repeat, memory=False)
    proc_peak, mem_ours = child_peak_mb(n, minute=n > 10_000)
    combos = len(ours)
    vbt_combos = len(vbt_windows) * (len(vbt_windows) - 1) // 2
    vectorbt_pattern(close.iloc[:300], vbt_windows[:5])  # warm vectorbt's own numba
    t_vbt, theirs, mem_vbt = _timed(lambda: vectorbt_pattern(close, vbt_windows), 1)
    key = list(theirs.index)
    rel = np.max(np.abs(ours.loc[key].to_numpy() / theirs.to_numpy() - 1.0))
    rate_ours = n * combos / t_ours.best
    rate_vbt = n * vbt_combos / t_vbt.best
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
        "cpu_rate_vbt": n * vbt_combos / t_vbt.cpu,
        "mem_ours": mem_ours,
        "mem_vbt": mem_vbt,
        "proc_peak": proc_peak,
        "rel": rel,
        "tol": tol,
    }


def realistic_case(bars: pd.DataFrame, repeat: int) -> tuple[Timing, int]:
    """The same grid under the default settings (IBKR fixed, whole shares, next open)."""
    realistic = tk.EngineSettings()
    toolkit_sweep(bars.iloc[:300], WINDOWS[:5], realistic)
    t, rows, _ = _timed(lambda: toolkit_sweep(bars, WINDOWS, realistic), repeat, memory=False)
    return t, len(rows)


@tk.strategy(
    params=[
        tk.Param("fast", int, 10, 1, 500, "fast SMA window"),
        tk.Param("slow", int, 50, 2, 1000, "slow SMA window"),
    ],
    name="bench_user_sma",
    valid=lambda p: p["fast"] < p["slow"],
)
@njit(cache=True)
def user_sma(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """A user's SMA state rule written as a plain numba signal (no features/rule split): what
    the generic sweep path runs, one signal call per parameter set."""
    n = close.shape[0]
    cs = np.cumsum(close)
    out = np.zeros(n)
    for t in range(slow - 1, n):
        f = (cs[t] - (cs[t - fast] if t >= fast else 0.0)) / fast
        s = (cs[t] - (cs[t - slow] if t >= slow else 0.0)) / slow
        out[t] = 1.0 if f > s else 0.0
    return out


def generic_case(bars: pd.DataFrame, windows: np.ndarray, repeat: int) -> tuple[Timing, int]:
    """A user's signal-only strategy on the generic path, default settings."""
    grid = {"fast": windows, "slow": windows}
    sweep(bars.iloc[:300], user_sma, {"fast": windows[:5], "slow": windows[:5]}, progress=False)
    t, rows, _ = _timed(lambda: sweep(bars, user_sma, grid, progress=False), repeat, memory=False)
    return t, len(rows)


def generic_peak_mb(n_bars: int) -> tuple[float, float]:
    """(peak RSS, its rise during the sweep) in MB of a fresh process running the generic
    case once, measured as :func:`child_peak_mb` does (the kernel's VmHWM, reset before)."""
    return fresh_process_peak_mb(
        (
            "import numpy as np, toolkit as tk\n"
            "from research.benchmarks.sweep import user_sma, WINDOWS\n"
            "from toolkit.sweep import sweep\n"
            f"b = tk.load('SPY').iloc[-{n_bars}:]\n"
            "small = {'fast': WINDOWS[:5], 'slow': WINDOWS[:5]}\n"
            "sweep(b.iloc[:300], user_sma, small, progress=False)\n"
        ),
        ("sweep(b, user_sma, {'fast': WINDOWS, 'slow': WINDOWS}, progress=False)\n"),
    )


def _line(label: str, t: Timing, bar_combos: float, mem: float | None = None) -> str:
    ns = t.best / bar_combos * 1e9
    text = (
        f"{label:<27} min {t.best:8.3f} s  median {t.median:8.3f} s  cpu {t.cpu:8.3f} s  "
        f"{ns:7.3f} ns/bar-combo"
    )
    return text if mem is None else f"{text}  peak +{mem:,.0f} MB"


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
    ours, theirs = r["t_ours"], r["t_vbt"]
    print(_line(f"toolkit.sweep ({ours.runs} warm)", ours, r["bars"] * r["combos"]))
    print(
        _line(f"vectorbt ({theirs.runs} warm)", theirs, r["bars"] * r["vbt_combos"], r["mem_vbt"])
    )
    print(
        f"toolkit sweep memory        peak RSS {r['proc_peak']:,.0f} MB in a fresh process "
        f"(Python, numba, pandas, data, sweep); +{r['mem_ours']:,.0f} MB during the sweep"
    )
    print(f"throughput ratio           {r['ratio']:9.1f} x (fastest runs, same process)")
    cpu_ratio = r["bars"] * r["combos"] / ours.cpu / r["cpu_rate_vbt"]
    print(f"per CPU second             {cpu_ratio:9.1f} x (vectorbt: 1 thread)")
    verdict = "OK" if r["rel"] < r["tol"] else "MISMATCH"
    print(
        f"max rel. diff final equity {r['rel']:.2e} over {r['vbt_combos']:,} combinations "
        f"(tolerance {r['tol']:.0e}: {verdict})"
    )


def machine() -> str:
    """CPU model, logical CPUs, numba threads and load: the context of every figure."""
    import numba

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model}, {os.cpu_count()} logical CPUs, {numba.get_num_threads()} numba threads, "
        f"load average {load:.1f} at start"
    )


def main() -> None:
    print(f"machine: {machine()}")
    daily = tk.load("SPY").iloc[-5000:]
    # every toolkit timing before vectorbt's run: its +6.5 GB leaves this process's memory in
    # a state that slows a sweep after it (see the module's docstring)
    t_ibkr, k_ibkr = realistic_case(daily, repeat=7)
    t_gen, k_gen = generic_case(daily, WINDOWS, repeat=5)
    a = run_case("SPY daily, last 5,000 bars", daily, WINDOWS, repeat=7, tol=1e-9)
    report(a)
    t, k = t_ibkr, k_ibkr
    print(_line("default settings (IBKR)", t, len(daily) * k))
    ratio = len(daily) * k / t.best / a["rate_vbt"]
    print(f"throughput ratio, IBKR   {ratio:9.1f} x (default settings vs vectorbt's run above)")
    cpu_ratio = len(daily) * k / t.cpu / a["cpu_rate_vbt"]
    print(f"  per CPU second         {cpu_ratio:9.1f} x (vectorbt: 1 thread)")
    after, _ = realistic_case(daily, repeat=7)
    ratio = len(daily) * k / after.best / a["rate_vbt"]
    print(f"  timed after vectorbt's run: min {after.best:.3f} s, {ratio:.1f} x")
    t, k = t_gen, k_gen
    print(_line("generic path (user signal)", t, len(daily) * k))
    ratio = len(daily) * k / t.best / a["rate_vbt"]
    print(f"throughput ratio, generic {ratio:8.1f} x (a user's numba SMA rule, default settings)")
    cpu_ratio = len(daily) * k / t.cpu / a["cpu_rate_vbt"]
    print(f"  per CPU second         {cpu_ratio:9.1f} x (vectorbt: 1 thread)")
    peak, rise = generic_peak_mb(len(daily))
    print(f"generic path memory        peak RSS {peak:,.0f} MB in a fresh process, +{rise:,.0f} MB")
    minute = tk.load(tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv")
    b = run_case(
        f"SPY 1-minute, {len(minute):,} bars (the longest shipped series)",
        minute,
        np.arange(2, 62),
        repeat=3,
        tol=1e-8,
    )
    report(b)
    print(f"numba compile, cold cache (first call, fresh process): {cold_compile_seconds():.1f} s")
    if a["rel"] >= a["tol"] or b["rel"] >= b["tol"]:
        raise SystemExit("sweep results disagree with vectorbt")


if __name__ == "__main__":
    main()
