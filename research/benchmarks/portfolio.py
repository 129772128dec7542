"""Portfolio benchmarks (issue 15 item 6): a 60-symbol book through ``tk.backtest`` with and
without the portfolio risk rules, and the sector-rotation sweep under those rules.

Book: 60 of the shipped large US stocks (all 11 GICS sectors; GOOG left out as a second
share class of GOOGL, META as the latest listing) on their common dates, a long/short
cross-sectional momentum defined here (every 21 bars: the 10 best 126-bar returns long and
the 10 worst short, 5 % of equity each), IBKR fixed commissions, 2 bps slippage, next-open
fills. Cases: no rules; max_beta (to SPY, loaded from the data folder); parametric max_var;
historical max_var (bisection per opening order); vol_target; the three of max_beta,
max_var and vol_target together. Each case: wall min / median of warm runs and the CPU
seconds of the fastest, guard records past the warm-up (before 250 returns every opening
order waits: ``risk_warmup``, ~2,500 records), and peak memory measured in a fresh child process
the way research/benchmarks/sweep.py measures the sweep's (the kernel's VmHWM, reset through
/proc/self/clear_refs after imports, data loading and a warm-up run, so the parent's peak
is not inherited).

View: the parts of toolkit.analysis.portfolio (what notebook 13 draws) on the 60-stock book
under the three rules, min wall and CPU of warm runs.

Sweep: research/benchmarks/rotation.py's 160 sector-rotation sets (nine 1998 sector SPDRs +
BIL) timed here again without rules and with max_beta + max_var + vol_target (a sweep under
portfolio rules runs every row through the engine), in the same process.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import toolkit as tk
from research.benchmarks._memory import fresh_process_peak_mb
from research.benchmarks.rotation import GRID, SECTORS
from research.strategies.sector_rotation import sector_rotation
from toolkit.data.reference import load_sector_map
from toolkit.risk import RiskLimits

SETTINGS = tk.EngineSettings(slippage_bps=2.0)
LEFT_OUT = ("GOOG", "META")
CASES: dict[str, RiskLimits | None] = {
    "no rules": None,
    "max_beta 0.2": RiskLimits(max_beta=0.2),
    "max_var 1.5% (parametric)": RiskLimits(max_var=0.015),
    "max_var 1.5% (historical)": RiskLimits(max_var=0.015, var_method="historical"),
    "vol_target 20%": RiskLimits(vol_target=0.20),
    "max_beta + max_var + vol_target": RiskLimits(max_beta=0.2, max_var=0.015, vol_target=0.20),
}


@tk.strategy(
    kind="cross_sectional",
    params=[
        tk.Param("lookback", int, 126, 5, 504, "ranking window, bars"),
        tk.Param("legs", int, 10, 1, 30, "symbols long and short"),
        tk.Param("rebalance", int, 21, 1, 252, "re-rank every this many bars"),
    ],
)
def ls_momentum(close: np.ndarray, lookback: int, legs: int, rebalance: int) -> np.ndarray:
    """Long the ``legs`` best and short the ``legs`` worst trailing returns, 1 / (4 legs)
    of equity each (gross 50 %, dollar-neutral), re-ranked every ``rebalance`` bars."""
    n, m = close.shape
    out = np.zeros((n, m))
    held = np.zeros(m)
    for t in range(lookback, n):
        if (t - lookback) % rebalance == 0:
            order = np.argsort(close[t] / close[t - lookback], kind="stable")
            held = np.zeros(m)
            held[order[-legs:]] = 0.25 / legs
            held[order[:legs]] = -0.25 / legs
        out[t] = held
    return out


def book_symbols() -> list[str]:
    """The 60 stocks: shipped symbols with a GICS sector in the constituents file."""
    table = load_sector_map(etfs=False)
    return [s for s in tk.available_symbols() if s in table and s not in LEFT_OUT]


def load_book() -> Any:
    import warnings

    with warnings.catch_warnings():  # OXY's real -52 % day of 2020-03-09 is flagged
        warnings.simplefilter("ignore", tk.DataWarning)
        end = tk.load("SPY").index[-1]  # the beta benchmark's last close
        return tk.load_many(book_symbols(), end=f"{end:%Y-%m-%d}")


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """(min wall, median wall, CPU of the fastest run, last result) of warm runs."""
    out = fn()  # warm-up (compiles on a cold cache)
    runs = []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    best = min(runs)
    return best[0], statistics.median(w for w, _ in runs), best[1], out


def child_peak_mb(case: str) -> tuple[float, float]:
    """(peak RSS of a fresh process running the case's backtest once, that peak's rise above
    its RSS just before the run), MB, from the kernel's VmHWM (research/benchmarks/sweep.py)."""
    return fresh_process_peak_mb(
        (
            "from research.benchmarks.portfolio import CASES, SETTINGS, load_book, ls_momentum\n"
            "import toolkit as tk\n"
            "panel = load_book()\n"
            f"risk = CASES[{case!r}]\n"
            "r = tk.backtest(panel.iloc[:400], ls_momentum, None, SETTINGS, None, risk)\n"
            "r.equity, r.guards\n"
        ),
        (
            "r = tk.backtest(panel, ls_momentum, None, SETTINGS, None, risk)\n"
            "r.equity, r.positions, r.orders, r.guards\n"
        ),
    )


def book_benchmark(repeat: int = 5, memory: bool = True) -> list[dict[str, Any]]:
    panel = load_book()
    m = panel["close"].shape[1]
    print(
        f"== 60-symbol portfolio backtest: long/short momentum on {m} stocks x {len(panel):,} "
        f"bars ({panel.index[0]:%Y-%m-%d}..{panel.index[-1]:%Y-%m-%d}), risk_window 250 =="
    )
    rows = []
    for name, risk in CASES.items():

        def run(risk: RiskLimits | None = risk) -> tk.BacktestResult:
            r = tk.backtest(panel, ls_momentum, None, SETTINGS, None, risk)
            r.equity  # noqa: B018 -- build the frames a user reads first
            return r

        best, median, cpu, result = _timed(run, repeat)
        peak, rise = child_peak_mb(name) if memory else (float("nan"), float("nan"))
        rows.append(
            {
                "case": name,
                "min_s": best,
                "median_s": median,
                "cpu_s": cpu,
                "guards": int((result.guards["rules"] != "risk_warmup").sum()),
                "sharpe": result.metrics()["sharpe"],
                "peak_mb": peak,
                "rise_mb": rise,
            }
        )
        print(
            f"{name:33s} wall min {best * 1e3:8.1f} ms  median {median * 1e3:8.1f} ms  "
            f"cpu {cpu * 1e3:8.1f} ms  guards {rows[-1]['guards']:5,d}  "
            f"Sharpe {rows[-1]['sharpe']:+.2f}  peak {peak:6.0f} MB (+{rise:.0f} MB)"
        )
    return rows


def view_benchmark(repeat: int = 5) -> None:
    """The portfolio view (toolkit.analysis.portfolio, what notebook 13 draws) of the 60-stock
    book under the three rules: each part's min wall of warm runs."""
    from toolkit.analysis import portfolio as pf

    panel = load_book()
    spy = tk.load("SPY")["close"]
    result = tk.backtest(panel, ls_momentum, None, SETTINGS, None, CASES[list(CASES)[-1]])
    close = pf.close_of(panel, result)
    w = pf.weights(result, close)
    parts: dict[str, Callable[[], Any]] = {
        "weights, sectors, exposures": lambda: (
            pf.sector_weights(pf.weights(result, close)),
            pf.exposures(w),
        ),
        "symbol + holdings + realised beta": lambda: (
            pf.holdings_beta(w, pf.symbol_betas(close, spy)),
            pf.realised_beta(result.returns, close, spy),
        ),
        "book VaR/CVaR every bar": lambda: pf.book_var(w, close),
        "risk contributions + correlation": lambda: (
            pf.risk_contributions(w.iloc[-1], pf.covariance(close)),
            pf.correlation(close),
        ),
        "P&L by symbol": lambda: pf.pnl_table(result, close),
    }
    cells = []
    for name, fn in parts.items():
        best, _median, cpu, _ = _timed(fn, repeat)
        cells.append(f"{name} {best * 1e3:.0f} ms (cpu {cpu * 1e3:.0f})")
    print("portfolio view of that book, min wall of warm runs: " + "; ".join(cells))


def rotation_sweep(repeat: int = 3) -> None:
    panel = tk.load_many([*SECTORS, "BIL"])
    sets = int(np.prod([len(v) for v in GRID.values()]))
    risk = RiskLimits(max_beta=0.8, max_var=0.02, vol_target=0.15)
    print(
        f"== sector rotation sweep under portfolio rules: {sets} sets x {len(panel):,} bars "
        f"x {panel['close'].shape[1]} symbols =="
    )
    for label, limits in (("no rules", None), ("max_beta + max_var + vol_target", risk)):

        def run(limits: RiskLimits | None = limits) -> Any:
            return tk.sweep(panel, sector_rotation, GRID, SETTINGS, risk=limits, progress=False)

        best, median, cpu, rows = _timed(run, repeat)
        top = rows.sort_values("sharpe", ascending=False).iloc[0]
        print(
            f"{label:33s} wall min {best:6.2f} s  median {median:6.2f} s  cpu {cpu:6.2f} s  "
            f"({best / sets * 1e3:.1f} ms per set); best Sharpe {top['sharpe']:.3f} "
            f"(lookback {int(top['lookback'])}, top {int(top['top'])}, "
            f"rebalance {int(top['rebalance'])}, absolute {int(top['absolute'])})"
        )


def main() -> None:
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} logical CPUs, load average {load:.1f} at start")
    book_benchmark()
    view_benchmark()
    print()
    rotation_sweep()


if __name__ == "__main__":
    main()
