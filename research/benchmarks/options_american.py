"""American pricer: ours (numba, toolkit.options.american) vs QuantLib's QdFpAmericanEngine
(accurate and high-precision schemes), Barone-Adesi-Whaley and Bjerksund-Stensland, in one
process, on the shipped SPY chains.

Contracts and inputs: the rows of tests/options/data/american_reference.csv.gz (every contract
of the three SPY chains with time left, vendor vol, r = 4 %, q = 1.2 %; see
research/oracles/american_reference.py), whose ``price`` column is QuantLib's high-precision
value -- the accuracy reference.

Timing: ours prices each whole chain in one call (``american_price`` on the chain's arrays),
``REPEAT`` times; QuantLib prices a random subset one option at a time, with every option,
process and engine built before the clock starts (only ``recalculate(); NPV()`` is timed), so
its per-option time is the engine's, not Python's object building. Min and median wall time
and the median CPU (process) time per option are printed with the machine's load (2 shared
cores: wall times are noisy; CPU time is the steadier number). Also: all seven American Greeks
and the implied vol of QuantLib's prices (round trip to the input vol) on 1,000 random chain
rows, and BAW / Bjerksund-Stensland errors on every chain row.

Run: ``python -m research.benchmarks.options_american``.
"""

from __future__ import annotations

import importlib
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.options.american import american_greeks, american_implied_vol, american_price

REPEAT = 5
N_QL = {"accurate": 400, "high": 60, "baw": 400, "bjs": 400}
REF = Path(__file__).resolve().parents[2] / "tests/options/data/american_reference.csv.gz"
ql = importlib.import_module("QuantLib")  # dev extra: an oracle, never a runtime dependency
TODAY = ql.Date(2, 1, 2025)


def _time(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, float, float, Any]:
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), statistics.median(walls), statistics.median(cpus), out


def _ql_options(rows: pd.DataFrame, scheme: str) -> list[Any]:
    """One priced-ready QuantLib option per row (own quotes, curves, process and engine)."""
    ql.Settings.instance().evaluationDate = TODAY
    dc = ql.Actual365Fixed()
    out = []
    for row in rows.itertuples(index=False):
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(row.S)),
            ql.YieldTermStructureHandle(ql.FlatForward(TODAY, row.q, dc, ql.Continuous)),
            ql.YieldTermStructureHandle(ql.FlatForward(TODAY, row.r, dc, ql.Continuous)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(TODAY, ql.NullCalendar(), row.sigma, dc)
            ),
        )
        if scheme == "baw":
            engine = ql.BaroneAdesiWhaleyApproximationEngine(process)
        elif scheme == "bjs":
            engine = ql.BjerksundStenslandApproximationEngine(process)
        else:
            maker = {"accurate": ql.QdFpAmericanEngine.accurateScheme,
                     "high": ql.QdFpAmericanEngine.highPrecisionScheme}[scheme]
            engine = ql.QdFpAmericanEngine(process, maker())
        kind = ql.Option.Call if row.right == "C" else ql.Option.Put
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, row.K),
            ql.AmericanExercise(TODAY, TODAY + int(row.days)),
        )
        option.setPricingEngine(engine)
        out.append((option, process, engine))
    return out


def _ql_prices(options: list[Any]) -> np.ndarray:
    prices = np.empty(len(options))
    for i, (option, _, _) in enumerate(options):
        option.recalculate()
        prices[i] = option.NPV()
    return prices


def _errors(ours: np.ndarray, ref: np.ndarray) -> str:
    e = np.abs(ours - ref)
    return f"max {e.max():.2e}  median {np.median(e):.2e}  > 1e-4: {(e > 1e-4).sum()}"


def main() -> None:
    ref = pd.read_csv(REF)
    chains = ref[ref["set"] != "grid"]
    print(f"load (uptime): {os.getloadavg()}")
    print(f"{len(chains):,} SPY contracts in {chains['set'].nunique()} chains; "
          f"grid rows {int((ref['set'] == 'grid').sum())}")

    def ours_all(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(american_price(frame["right"].to_numpy(), frame["S"], frame["K"],
                                         frame["days"] / 365.0, frame["r"], frame["q"],
                                         frame["sigma"]))

    ours_all(ref.iloc[:5])  # compile / load the cache outside the clock
    print("\naccuracy against QuantLib QdFp high precision (price, absolute):")
    print(f"  ours, SPY chains      {_errors(ours_all(chains), chains['price'].to_numpy())}")
    grid = ref[ref["set"] == "grid"]
    print(f"  ours, (r, q, vol) grid {_errors(ours_all(grid), grid['price'].to_numpy())}")

    print("\nper chain, ours (whole chain in one call):")
    print(f"{'chain':<12} {'n':>6} {'min s':>8} {'median s':>9} {'CPU s':>8} {'us/opt min':>11} "
          f"{'us/opt CPU':>11}")
    total_cpu = 0.0
    for name, frame in chains.groupby("set"):
        lo, med, cpu, _ = _time(lambda frame=frame: ours_all(frame))
        total_cpu += cpu
        print(f"{name:<12} {len(frame):>6} {lo:8.3f} {med:9.3f} {cpu:8.3f} "
              f"{lo / len(frame) * 1e6:11.1f} {cpu / len(frame) * 1e6:11.1f}")
    print(f"ours all chains: CPU {total_cpu:.3f} s = {total_cpu / len(chains) * 1e6:.1f} us/opt")

    rng = np.random.default_rng(3)
    sub = chains.iloc[rng.choice(len(chains), 1000, replace=False)]
    args = (sub["right"].to_numpy(), sub["S"], sub["K"], sub["days"] / 365.0, sub["r"], sub["q"])
    few = [np.asarray(a)[:3] for a in args]  # compile / load the cache outside the clock
    american_greeks(*few, sub["sigma"].to_numpy()[:3])
    lo, med, cpu, _ = _time(lambda: american_greeks(*args, sub["sigma"]), 3)
    print(f"\nours, all seven Greeks, 1,000 random chain rows: min {lo:.3f} s, median {med:.3f} s,"
          f" CPU {cpu:.3f} s = {cpu * 1e3:.0f} us/opt")
    prices = sub["price"].to_numpy()
    american_implied_vol(prices[:3], *few)
    lo, med, cpu, (iv, why) = _time(lambda: american_implied_vol(prices, *args), 3)
    ok = why == 0
    print(f"ours, implied vol of QuantLib's high-precision prices, same rows: min {lo:.3f} s, "
          f"CPU {cpu:.3f} s = {cpu * 1e3:.0f} us/opt; OK {ok.sum()} of {len(ok)}, "
          f"median |iv - sigma| {np.median(np.abs(iv[ok] - sub['sigma'].to_numpy()[ok])):.1e}")

    print(f"\nQuantLib per option (random subsets of the chains, engine time only), "
          f"load {os.getloadavg()[0]:.1f}:")
    print(f"{'engine':<34} {'n':>5} {'min us':>9} {'median us':>10} {'CPU us':>9}  "
          "accuracy vs high")
    for scheme, n in N_QL.items():
        rows = chains.iloc[rng.choice(len(chains), n, replace=False)]
        options = _ql_options(rows, scheme)
        repeat = 1 if scheme == "high" else 3
        lo, med, cpu, prices = _time(lambda options=options: _ql_prices(options), repeat)
        label = {"accurate": "QdFp accurateScheme", "high": "QdFp highPrecisionScheme",
                 "baw": "Barone-Adesi-Whaley", "bjs": "Bjerksund-Stensland"}[scheme]
        ours_sub = ours_all(rows)
        sub_lo, _, sub_cpu, _ = _time(lambda rows=rows: ours_all(rows))
        print(f"{label:<34} {n:>5} {lo / n * 1e6:9.1f} {med / n * 1e6:10.1f} "
              f"{cpu / n * 1e6:9.1f}  {_errors(prices, rows['price'].to_numpy())}")
        print(f"{'  ours, same rows':<34} {n:>5} {sub_lo / n * 1e6:9.1f} {'':>10} "
              f"{sub_cpu / n * 1e6:9.1f}  {_errors(ours_sub, rows['price'].to_numpy())}")
    for scheme, label in (("baw", "Barone-Adesi-Whaley"), ("bjs", "Bjerksund-Stensland")):
        options = _ql_options(chains, scheme)
        approx = _ql_prices(options)
        print(f"{label} on all {len(chains):,} chain rows: "
              f"{_errors(approx, chains['price'].to_numpy())}")
    print(f"\nload (uptime) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
