"""Engine benchmark: one full backtest (signals + simulation), toolkit vs vectorbt, same process.

Conventions are set to match (same-bar close fills, 0.1% proportional fees, fractional sizes,
all-in long/flat), final equity is checked equal, and warm medians are reported. Run with
``make bench``. Figures depend on the machine; compare ratios, not absolute times.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

import toolkit as tk
from toolkit.engine import strategy_targets


def _times(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """(min, median) wall seconds of ``repeat`` warm runs and the CPU seconds of the
    fastest: the machine may be shared, and the minimum is the least disturbed run."""
    runs = []
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    best = min(runs)
    return best[0], statistics.median(w for w, _ in runs), best[1]


def _median_seconds(fn: Callable[[], object], repeat: int) -> float:
    return _times(fn, repeat)[1]


def bench_single(
    symbol: str = "SPY", fast: int = 50, slow: int = 200, repeat: int = 15
) -> dict[str, float]:
    import vectorbt as vbt

    bars = tk.load(symbol)
    close = bars["close"]
    settings = tk.EngineSettings(
        init_cash=100.0, fill="close", commission=tk.proportional(0.001), fractional=True
    )
    params = {"fast": fast, "slow": slow}

    def ours() -> float:
        return float(tk.backtest(bars, "sma_cross", params, settings).equity.iloc[-1])

    def theirs() -> float:
        # vectorbt's standard pattern: indicator, crossed signals, from_signals
        target = strategy_targets(bars, tk.get_strategy("sma_cross"), params).iloc[:, 0]
        prev = target.shift(1, fill_value=0.0)
        pf = vbt.Portfolio.from_signals(
            close,
            (target > 0) & (prev <= 0),
            (target <= 0) & (prev > 0),
            fees=0.001,
            init_cash=100.0,
            freq="1D",
        )
        return float(pf.final_value())

    t0 = time.perf_counter()
    a = ours()
    first = time.perf_counter() - t0
    b = theirs()
    rel = abs(a / b - 1.0)
    ours_min, t_ours, ours_cpu = _times(ours, repeat)
    vbt_min, t_vbt, vbt_cpu = _times(theirs, repeat)
    return {
        "bars": float(len(bars)),
        "ours_s": t_ours,
        "vectorbt_s": t_vbt,
        "ours_min": ours_min,
        "vectorbt_min": vbt_min,
        "ours_cpu": ours_cpu,
        "vectorbt_cpu": vbt_cpu,
        "first_call_s": first,
        "rel_diff": rel,
    }


def bench_portfolio(repeat: int = 5) -> dict[str, float]:
    """All shipped daily symbols (89 since issue 15's data, on their common dates from XLC's
    2018-06-19) as one shared-cash portfolio (IBKR costs, whole shares)."""
    symbols = tk.available_symbols()
    panel = tk.load_many(symbols)
    t = _median_seconds(lambda: tk.backtest(panel, "tsmom", {"target_vol": 0.1}), repeat)
    return {"symbols": float(len(symbols)), "bars": float(len(panel)), "seconds": t}


def main() -> None:
    s = bench_single()
    n = s["bars"]
    print("== engine: one SMA(50/200) backtest on SPY, signals + simulation ==")
    print(f"bars                      {n:,.0f}")
    for label, key in (("toolkit", "ours"), ("vectorbt same signals", "vectorbt")):
        t = s[f"{key}_min"]
        print(
            f"{label:<25} min {t * 1e3:8.2f} ms  median {s[f'{key}_s'] * 1e3:8.2f} ms  "
            f"cpu {s[f'{key}_cpu'] * 1e3:8.2f} ms  {n / t / 1e6:6.2f} M bars/s"
        )
    print(f"speed-up vs vectorbt      {s['vectorbt_min'] / s['ours_min']:8.1f} x (fastest runs)")
    print(f"first call (import cache) {s['first_call_s'] * 1e3:8.1f} ms")
    verdict = "OK" if s["rel_diff"] < 1e-9 else "MISMATCH"
    print(f"final equity rel. diff    {s['rel_diff']:.2e}  ({verdict})")
    p = bench_portfolio()
    rate = p["symbols"] * p["bars"] / p["seconds"] / 1e6
    print("== engine: shared-cash portfolio, tsmom, IBKR fixed costs, whole shares ==")
    print(
        f"{p['symbols']:.0f} symbols x {p['bars']:,.0f} bars: {p['seconds'] * 1e3:.1f} ms "
        f"({rate:.2f} M bar-symbols/s)"
    )
    if s["rel_diff"] >= 1e-9:
        raise SystemExit("benchmark results disagree with vectorbt")


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    np.seterr(all="ignore")
    main()
