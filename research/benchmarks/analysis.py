"""Robustness benchmarks: a 10-fold walk-forward over 19,900 SMA pairs on 5,000 SPY bars, and
10,000 Monte Carlo paths of 5,000 bars for each resampling method (warm medians)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import toolkit as tk


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    bars = tk.load("SPY").iloc[-5000:]
    settings = tk.EngineSettings(commission=tk.ibkr_fixed(), slippage_bps=1.0)
    grid = tk.make_grid("sma_cross", {"fast": range(2, 202), "slow": range(2, 202)})
    folds = tk.analysis.make_folds(bars.index, n_folds=10)
    in_sample = sum(f.train_stop - f.train_start for f in folds)
    tk.walk_forward(bars.iloc[:600], "sma_cross", {"fast": [5], "slow": [20]}, n_folds=2)  # warm

    t_wf, wf = _median(lambda: tk.walk_forward(bars, "sma_cross", grid, settings, folds=folds), 3)
    print("== walk-forward: 10 folds x 19,900 SMA pairs, 5,000 SPY bars (IBKR costs, next open) ==")
    print(
        f"total {t_wf:.2f} s; in-sample bar-combinations {in_sample * len(grid) / 1e9:.2f} G "
        f"({in_sample * len(grid) / t_wf / 1e6:.0f} M/s); efficiency {wf.efficiency:.2f}"
    )
    result = tk.backtest(bars, "sma_cross", {"fast": 20, "slow": 100}, settings)
    print("== Monte Carlo: 10,000 paths ==")
    for method in ("block_bootstrap", "trade_bootstrap", "trade_shuffle"):
        tk.monte_carlo(result, method, n_paths=10, seed=1)  # warm
        t, mc = _median(lambda m=method: tk.monte_carlo(result, m, n_paths=10_000, seed=1), 5)
        length = (
            len(result.returns)
            if method == "block_bootstrap"
            else len(tk.analysis.trade_returns(result))
        )
        print(
            f"{method:<16} {t * 1e3:8.1f} ms  ({length:,} steps per path, "
            f"{10_000 * length / t / 1e6:.0f} M steps/s); P(DD <= -20%) {mc.prob_drawdown:.3f}"
        )
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
