"""Reference prices for the American pricer: QuantLib's QdFpAmericanEngine, high-precision
scheme (tanh-sinh 1e-10, 30 Chebyshev nodes, 10 fixed-point sweeps), on every contract of the
shipped SPY chains plus a grid of rate/dividend/vol regimes the chains do not cover.

Writes ``tests/options/data/american_reference.csv.gz``, one row per contract:
``set`` (the chain's quote date, or ``grid``), ``right`` (C/P), ``S``, ``K``, ``days`` (calendar
days to expiry; T = days/365, QuantLib's Actual/365 Fixed), ``r``, ``q`` (flat continuous
rates), ``sigma``, ``price`` (QuantLib, high precision).

Inputs (the comparison is about the pricer, so both sides get exactly these):

* chains: ``toolkit.data.options.load_option_quotes`` on data/options/SPY_chain_*.csv; S = the
  file's underlying price; sigma = the vendor's (yfinance) implied vol, or 0.25 where the file
  has none (the loader maps yfinance's 1e-5 placeholders to NaN); r = 0.04 and q = 0.012
  (about the 3-month bill rate and SPY's dividend yield over 2025-26, fixed for all three
  dates; a flat pair keeps the test about the pricer, not about curves). Contracts expiring on
  the quote date (T = 0) are left out: QuantLib prices no option that expired today.
* grid: puts and calls, S = 100, K in {70, 90, 100, 110, 140}, days in {1, 30, 180, 730},
  (r, q) in {(0.04, 0), (0.02, 0.06) (q > r), (0.05, 0.05) (r = q), (0, 0.03), (0.08, 0.01)},
  sigma in {0.01, 0.2, 0.8}.

Takes ~4 minutes of QuantLib on the 2-core dev machine (more beside other jobs):
``nice -n 10 python -m research.oracles.american_reference``.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import QuantLib as ql  # noqa: N813 (QuantLib's own spelling)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from toolkit.data.options import load_option_quotes  # noqa: E402

OUT = ROOT / "tests" / "options" / "data" / "american_reference.csv.gz"
CHAINS = sorted((ROOT / "data" / "options").glob("SPY_chain_*.csv"))
R_CHAIN = 0.04
Q_CHAIN = 0.012
SIGMA_MISSING = 0.25
TODAY = ql.Date(2, 1, 2025)  # any date: only the day count to expiry matters


def ql_american(
    right: str, S: float, K: float, days: int, r: float, q: float, sigma: float,
    scheme: str = "high",
) -> float:
    """QdFpAmericanEngine price with flat continuous r, q and vol, expiry ``days`` from today.

    ``scheme``: ``high`` (highPrecisionScheme), ``accurate`` or ``fast``; also ``baw``
    (Barone-Adesi-Whaley) and ``bjs`` (Bjerksund-Stensland) for comparison."""
    ql.Settings.instance().evaluationDate = TODAY
    dc = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(S)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, q, dc, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, dc, ql.Continuous)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(TODAY, ql.NullCalendar(), sigma, dc)
        ),
    )
    if scheme == "baw":
        engine = ql.BaroneAdesiWhaleyApproximationEngine(process)
    elif scheme == "bjs":
        engine = ql.BjerksundStenslandApproximationEngine(process)
    else:
        maker = {
            "high": ql.QdFpAmericanEngine.highPrecisionScheme,
            "accurate": ql.QdFpAmericanEngine.accurateScheme,
            "fast": ql.QdFpAmericanEngine.fastScheme,
        }[scheme]
        engine = ql.QdFpAmericanEngine(process, maker())
    kind = ql.Option.Call if right == "C" else ql.Option.Put
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(kind, K), ql.AmericanExercise(TODAY, TODAY + int(days))
    )
    option.setPricingEngine(engine)
    return float(option.NPV())


def chain_inputs() -> pd.DataFrame:
    """One row per contract of the shipped SPY chains with time left (see module doc)."""
    parts = []
    for path in CHAINS:
        quotes = load_option_quotes(path)
        days = (quotes["expiry"] - quotes["quote_date"]).dt.days.to_numpy()
        sigma = quotes["iv"].to_numpy(dtype=float)
        parts.append(
            pd.DataFrame(
                {
                    "set": quotes["quote_date"].dt.strftime("%Y-%m-%d").to_numpy(),
                    "right": quotes["right"].to_numpy(),
                    "S": quotes["underlying_price"].to_numpy(dtype=float),
                    "K": quotes["strike"].to_numpy(dtype=float),
                    "days": days,
                    "r": R_CHAIN,
                    "q": Q_CHAIN,
                    "sigma": np.where(np.isfinite(sigma), sigma, SIGMA_MISSING),
                }
            )[days > 0]
        )
    return pd.concat(parts, ignore_index=True)


def grid_inputs() -> pd.DataFrame:
    """Rate/dividend/vol regimes beyond the chains (see module doc)."""
    rates = [(0.04, 0.0), (0.02, 0.06), (0.05, 0.05), (0.0, 0.03), (0.08, 0.01)]
    rows = [
        ("grid", right, 100.0, K, days, r, q, sigma)
        for right, K, days, (r, q), sigma in itertools.product(
            "CP", (70.0, 90.0, 100.0, 110.0, 140.0), (1, 30, 180, 730), rates, (0.01, 0.2, 0.8)
        )
    ]
    return pd.DataFrame(rows, columns=["set", "right", "S", "K", "days", "r", "q", "sigma"])


def main() -> None:
    inputs = pd.concat([chain_inputs(), grid_inputs()], ignore_index=True)
    for col in ("S", "K", "sigma"):  # priced as written: 12 significant digits round-trip
        inputs[col] = [float(f"{v:.12g}") for v in inputs[col]]
    start = time.perf_counter()
    prices = []
    for n, row in enumerate(inputs.itertuples(index=False)):
        prices.append(ql_american(row.right, row.S, row.K, row.days, row.r, row.q, row.sigma))
        if n % 2000 == 0:
            print(f"{n}/{len(inputs)} {time.perf_counter() - start:.0f} s", flush=True)
    inputs["price"] = prices
    OUT.parent.mkdir(parents=True, exist_ok=True)
    inputs.to_csv(OUT, index=False, float_format="%.12g")
    print(f"wrote {len(inputs)} rows to {OUT} in {time.perf_counter() - start:.0f} s "
          f"(QuantLib {ql.__version__})")


if __name__ == "__main__":
    main()
