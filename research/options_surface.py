"""The IV surface's accuracy table over the shipped chains, and our VIX against Cboe's.

    python -m research.options_surface [--dates N]

For each shipped chain (every quote date of the SPX 2011 file, the first N of the others):
SVI slices fitted, fit error per slice (RMSE and max error in vol points, share of fitted vols
inside the bid-ask vol range), butterfly violations before and after the repair, calendar
crossings and fit time per slice. Then the VIX recomputed from the SPX 2011 chain next to
Cboe's published close.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from toolkit.data import load_option_quotes, load_vix
from toolkit.options.surface import cboe_index, fit_surface

CHAINS = (
    "SPX_eod_2011-01-03_2011-01-07_ivolatility.csv",
    "SPXW_eod_2018-01-02_2018-02-28_2expiries.csv",
    "VXX_eod_2016-12.csv",
    "SPY_chain_2025-08-26.csv",
    "SPY_chain_2026-02-11.csv",
    "SPY_chain_2026-05-01.csv",
)


def surface_table(dates_per_file: int) -> pd.DataFrame:
    rows = []
    for name in CHAINS:
        quotes = load_option_quotes(name)
        days = sorted(quotes["quote_date"].unique())
        if not name.startswith("SPX_"):
            days = days[:: max(1, len(days) // dates_per_file)][:dates_per_file]
        tables, crossings, seconds = [], 0, 0.0
        for day in days:
            start = time.process_time()
            surface = fit_surface(quotes, day)
            seconds += time.process_time() - start
            tables.append(surface.term_structure())
            crossings += len(surface.calendar)
        t = pd.concat(tables, ignore_index=True)
        rows.append(
            {
                "chain": name.split("_")[0] + " " + name.split("_")[-1].removesuffix(".csv"),
                "dates": len(days),
                "slices": len(t),
                "rmse_median": t["rmse_vol_points"].median(),
                "rmse_max": t["rmse_vol_points"].max(),
                "max_error": t["max_error_vol_points"].max(),
                "inside_spread": t["within_spread"].median(),
                "butterfly_before": int((t["violations_before_repair"] > 0).sum()),
                "butterfly_after": int((t["butterfly_violations"] > 0).sum()),
                "calendar_crossings": crossings,
                "cpu_ms_per_slice": 1000 * seconds / len(t),
            }
        )
    return pd.DataFrame(rows)


def vix_table() -> pd.DataFrame:
    quotes = load_option_quotes(CHAINS[0])
    vix = load_vix("VIX")
    rows = []
    for day, chain in quotes.groupby("quote_date"):
        ours = cboe_index(chain)
        close = float(vix.loc[day, "close"])
        rows.append(
            {
                "date": pd.Timestamp(day).date(),
                "ours": 100 * ours.iv,
                "cboe_close": close,
                "difference": 100 * ours.iv - close,
                "near_days": ours.days_before,
                "next_days": ours.days_after,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=5, help="quote dates per EOD file")
    args = parser.parse_args()
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(surface_table(args.dates).to_string(index=False))
        print()
        table = vix_table()
        print(table.to_string(index=False))
        print(f"max |difference| {np.abs(table['difference']).max():.3f} vol points")


if __name__ == "__main__":
    main()
