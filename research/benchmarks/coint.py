"""Cointegration screen: Engle-Granger on all 435 pairs of the 30 original symbols (log
adjusted closes, 4,613 common dates, statsmodels' defaults: constant, AIC lag search) with
toolkit.stats, against statsmodels' ``coint`` timed on an evenly spaced subset of pairs and
scaled to 435 (total subset time x 435 / subset size; pairs cost about the same: same length,
same maxlag). statsmodels runs with BLAS limited to one thread: with two, OpenBLAS's threads
spin against the other jobs on a shared machine and its time swung 133-4,491 s scaled between
runs here. Prints min / median wall and CPU time of the screen and the ratio."""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import toolkit as tk

SYMBOLS = [
    *("AAPL", "AGG", "AMZN", "BAC", "BIL", "DBC", "EEM", "EFA", "GE", "GLD"),
    *("GOOGL", "HYG", "IEF", "INTC", "IWM", "JNJ", "JPM", "KO", "LQD", "MSFT"),
    *("NVDA", "PG", "QQQ", "SHY", "SPY", "TIP", "TLT", "VNQ", "WMT", "XOM"),
]
SUBSET = 8  # statsmodels pairs timed (~2.5 s each on an idle core)


def main() -> None:
    from statsmodels.tsa.stattools import coint
    from threadpoolctl import threadpool_limits

    prices = np.log(tk.load_many(SYMBOLS)["close"])
    tk.stats.coint_screen(prices.iloc[:300, :3])  # compile (or load numba's cache)
    walls, cpus = [], []
    for _ in range(5):
        w0, c0 = time.perf_counter(), time.process_time()
        screen = tk.stats.coint_screen(prices)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    picks = screen.iloc[np.linspace(0, len(screen) - 1, SUBSET).round().astype(int)]
    sm_wall = sm_cpu = diff = 0.0
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        for row in picks.itertuples():
            y, x = prices[row.y].to_numpy(), prices[row.x].to_numpy()
            w0, c0 = time.perf_counter(), time.process_time()
            t, p, _ = coint(y, x)
            sm_wall += time.perf_counter() - w0
            sm_cpu += time.process_time() - c0
            diff = max(diff, abs(t - row.t_stat), abs(p - row.p_value))
    scale = len(screen) / SUBSET
    raw, bh = int((screen.p_value < 0.05).sum()), int(screen.reject.sum())
    print(
        f"== Engle-Granger screen: {len(screen)} pairs x {len(prices):,} bars (load "
        f"{os.getloadavg()[0]:.1f}, {tk.stats.screen.numba.get_num_threads()} threads) =="
    )
    print(
        f"toolkit.stats.coint_screen: min {min(walls):.2f} s, median "
        f"{statistics.median(walls):.2f} s wall; CPU min {min(cpus):.2f} s"
    )
    print(
        f"statsmodels coint (1 BLAS thread), {SUBSET} pairs scaled to {len(screen)}: "
        f"{sm_wall * scale:.0f} s "
        f"wall, {sm_cpu * scale:.0f} s CPU (max |diff| on those pairs {diff:.1e})"
    )
    print(
        f"ratio: {sm_wall * scale / min(walls):.0f}x wall (min), "
        f"{sm_wall * scale / statistics.median(walls):.0f}x wall (median), "
        f"{sm_cpu * scale / min(cpus):.0f}x CPU"
    )
    print(f"raw p < 0.05: {raw} pairs; Benjamini-Hochberg at FDR 5 %: {bh}")


if __name__ == "__main__":
    main()
