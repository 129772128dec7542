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


def bench_edge(symbol: str = "SPY", repeat: int = 50) -> dict[str, float]:
    """Where one ``tk.backtest`` goes: the whole call (default settings, SMA 20/100) against
    its two kernels alone on the same arrays -- the strategy's signal and ``simulate_nb`` --
    so the rest, the Python edge (input gate, targets, result), can be compared with them.
    The result's frames are built on first read, so a bare call builds none; reading them
    (and the metrics) is timed apart."""
    from toolkit.engine import _kernels

    bars = tk.load(symbol)
    params = {"fast": 20, "slow": 100}
    strat = tk.get_strategy("sma_cross")
    close = bars["close"].to_numpy(np.float64)
    fields = [np.ascontiguousarray(bars[f].to_numpy(np.float64)) for f in ("open", "high", "low")]
    fields += [close, np.ascontiguousarray(bars["volume"].to_numpy(np.float64))]
    vec = strat.vector(params)
    # the kernel's own arguments, taken from a real call (whatever its signature is today)
    real = _kernels.simulate_nb
    seen: list[tuple[object, ...]] = []
    _kernels.simulate_nb = lambda *args: seen.append(args) or real(*args)
    try:
        tk.backtest(bars, "sma_cross", params)
    finally:
        _kernels.simulate_nb = real
    (args,) = seen

    def signal() -> object:
        return strat.signal(*fields, vec)

    def simulate() -> object:
        return real(*args)

    def whole() -> object:
        return tk.backtest(bars, "sma_cross", params)

    def with_metrics() -> object:
        return tk.backtest(bars, "sma_cross", params).metrics()

    def read() -> object:
        r = tk.backtest(bars, "sma_cross", params)
        return r.equity, r.orders, r.trades, r.positions, r.metrics()

    out = {"bars": float(len(bars))}
    for name, fn in (
        ("backtest", whole),
        ("signal", signal),
        ("simulate", simulate),
        ("metrics", with_metrics),
    ):
        fn()
        out[f"{name}_min"], out[f"{name}_median"], out[f"{name}_cpu"] = _times(fn, repeat)
    read()
    out["read_min"], out["read_median"], _ = _times(read, max(5, repeat // 5))
    return out


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
    e = bench_edge()
    print("== engine: where one tk.backtest goes (SMA 20/100, default settings, 50 calls) ==")
    for label, key in (
        ("tk.backtest", "backtest"),
        ("  signal kernel alone", "signal"),
        ("  simulate_nb alone", "simulate"),
    ):
        print(
            f"{label:<25} min {e[f'{key}_min'] * 1e3:8.3f} ms  median "
            f"{e[f'{key}_median'] * 1e3:8.3f} ms"
        )
    kernels = e["signal_min"] + e["simulate_min"]
    edge = e["backtest_min"] - kernels
    print(
        f"Python edge (min - kernels) {edge * 1e3:6.3f} ms = {edge / kernels:.2f} x the kernels "
        f"({'OK' if edge <= kernels else 'NOT MET'}: target <= 1 x)"
    )
    print(
        f"tk.backtest(...).metrics()  min {e['metrics_min'] * 1e3:8.3f} ms  median "
        f"{e['metrics_median'] * 1e3:8.3f} ms"
    )
    print(
        f"+ reading equity, orders, trades, positions and metrics(): min "
        f"{e['read_min'] * 1e3:.2f} ms, median {e['read_median'] * 1e3:.2f} ms"
    )
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
