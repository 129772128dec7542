"""Sector rotation sweep (issue 15 item 6): 160 parameter sets of
research/strategies/sector_rotation.py on the nine 1998 sector SPDRs + BIL (2007-2025, IBKR
fixed costs) through ``tk.sweep`` -- wall min / median and CPU of 3 runs -- then the best
sets, the deflated Sharpe ratio of the best one with all 160 sets counted as trials, and SPY
buy & hold over the same bars."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import toolkit as tk
from research.strategies.sector_rotation import sector_rotation

SECTORS = ["XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY"]
GRID = {
    "lookback": [63, 126, 189, 252],
    "top": [1, 2, 3, 4, 5],
    "rebalance": [5, 10, 21, 42],
    "absolute": [0, 1],
}


def main(repeat: int = 3) -> None:
    panel = tk.load_many([*SECTORS, "BIL"])
    settings = tk.EngineSettings(slippage_bps=2.0)
    sets = int(np.prod([len(v) for v in GRID.values()]))
    walls, cpus = [], []
    rows = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        rows = tk.sweep(panel, sector_rotation, GRID, settings, progress=False)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    assert rows is not None and len(rows) == sets
    first, last = panel.index[0], panel.index[-1]
    print(
        f"== sector rotation sweep: {sets} sets x {len(panel):,} bars x {panel['close'].shape[1]}"
        f" symbols ({first:%Y-%m-%d}..{last:%Y-%m-%d}), one engine run per set =="
    )
    best_wall = min(walls)
    print(
        f"wall min {best_wall:.2f} s  median {statistics.median(walls):.2f} s  "
        f"cpu {cpus[walls.index(best_wall)]:.2f} s  ({best_wall / sets * 1e3:.1f} ms per set)"
    )
    cols = [*GRID, "cagr", "sharpe", "max_drawdown", "trades"]
    print(rows.sort_values("sharpe", ascending=False)[cols].head(5).to_string(index=False))
    best = rows.sort_values("sharpe", ascending=False).iloc[0]
    params = {k: int(best[k]) for k in GRID}
    result = tk.backtest(panel, sector_rotation, params, settings)
    variance = float((rows["sharpe"] / np.sqrt(252)).var())
    dsr = tk.deflated_sharpe(result.returns.iloc[int(best["lookback"]) :], sets, variance)
    print(
        f"best set {params}: deflated Sharpe probability {dsr.dsr:.3f} "
        f"(per-bar SR {dsr.sharpe:.4f}; the best of {sets} null trials would reach "
        f"{dsr.sharpe_threshold:.4f})"
    )
    spy = tk.load("SPY")["close"].reindex(panel.index).pct_change().iloc[1:]
    print(
        f"SPY buy & hold same bars: CAGR {tk.metrics.cagr(spy, 252):.2%}  "
        f"Sharpe {tk.metrics.sharpe(spy, 252):.3f}"
    )


if __name__ == "__main__":
    main()
