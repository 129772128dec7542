"""VaR: the SPY back-test table (one-day forecasts 1993-2025 at 95 % and 99 %: historical and
parametric over 250 and 500 days, RiskMetrics EWMA; Kupiec and Christoffersen tests) and the
speed of the rolling historical kernel against a sort per window (warm min / median)."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import toolkit as tk
from toolkit.risk.var_backtest import format_report


def _times(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def _sorted_per_window(r: np.ndarray, window: int, level: float) -> np.ndarray:
    out = np.full(r.size, np.nan)
    for t in range(window, r.size):
        out[t] = tk.historical_var(r[t - window : t], level)
    return out


def main() -> None:
    returns = tk.load("SPY")["close"].pct_change().iloc[1:]
    frame = tk.var_backtest_report(returns, levels=(0.95, 0.99), windows=(250, 500))
    print(f"== VaR back-test: SPY one-day forecasts, {len(returns):,} returns "
          f"{returns.index[0]:%Y-%m-%d}..{returns.index[-1]:%Y-%m-%d}; tested "
          f"{frame.attrs['first']:%Y-%m-%d}..{frame.attrs['last']:%Y-%m-%d} ==")
    print(format_report(frame))
    r = returns.to_numpy()
    print(f"== rolling historical VaR, {r.size:,} bars (warm; min / median of 5) ==")
    for window in (250, 500):
        tk.rolling_var(r, "historical", 0.99, window=window)  # compile
        kmin, kmed = _times(lambda w=window: tk.rolling_var(r, "historical", 0.99, window=w), 5)
        smin, smed = _times(lambda w=window: _sorted_per_window(r, w, 0.99), 5)
        same = np.array_equal(tk.rolling_var(r, "historical", 0.99, window=window),
                              _sorted_per_window(r, window, 0.99), equal_nan=True)
        print(f"window {window}: kernel {kmin * 1e3:.2f} / {kmed * 1e3:.2f} ms, a Python loop "
              f"of tk.historical_var (a sort per window) {smin * 1e3:.0f} / {smed * 1e3:.0f} ms "
              f"({smin / kmin:.0f}x); "
              f"identical: {same}")
    report_min, report_med = _times(
        lambda: tk.var_backtest_report(returns, levels=(0.95, 0.99), windows=(250, 500)), 5)
    print(f"whole report (10 forecast series + tests): {report_min * 1e3:.1f} / "
          f"{report_med * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
