"""Reference file for the Engle-Granger screen: statsmodels on all 435 pairs of the 30 symbols.

Writes ``tests/stats/data/coint_435.csv``: one row per pair (y, x) of
``combinations(sorted(SYMBOLS), 2)``, tested on the logs of the total-return adjusted closes
``np.log(tk.load_many(SYMBOLS)["close"])`` (the 4,613 dates all 30 symbols traded, 2007-05-30 ..
2025-09-26; the convention of the issue's "78 of 435 at p < 0.05"), with statsmodels'
defaults: trend "c", autolag "aic", maxlag None.

statsmodels' ``coint`` does not return the lag it chose, so each pair is run through the same
two steps ``coint`` runs (OLS of y on [x, 1]; ``adfuller`` of the residuals with regression "n",
store=True for the lag; ``mackinnonp``/``mackinnoncrit`` with N=2 and nobs-1), and the first
pairs are checked against ``coint`` itself. Rows are appended as they finish, so an interrupted
run resumes. statsmodels took ~1,100 s for the 435 pairs on the 2-core dev machine (the
checked-in file: statsmodels 0.15.0, 2,460 s at nice 10 beside other jobs); delete the file
and run ``nice -n 10 python -m research.oracles.coint_statsmodels`` to regenerate it.
"""

from __future__ import annotations

import csv
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import toolkit as tk

# the 30 symbols shipped before the portfolio issue added more (their data/daily files)
SYMBOLS = [
    *("AAPL", "AGG", "AMZN", "BAC", "BIL", "DBC", "EEM", "EFA", "GE", "GLD"),
    *("GOOGL", "HYG", "IEF", "INTC", "IWM", "JNJ", "JPM", "KO", "LQD", "MSFT"),
    *("NVDA", "PG", "QQQ", "SHY", "SPY", "TIP", "TLT", "VNQ", "WMT", "XOM"),
]
OUT = Path(__file__).resolve().parents[2] / "tests" / "stats" / "data" / "coint_435.csv"
FIELDS = ["y", "x", "nobs", "t_stat", "p_value", "lag", "crit_1", "crit_5", "crit_10"]
CHECKED = 3  # pairs also run through statsmodels.tsa.stattools.coint itself


def _pair(y: np.ndarray, x: np.ndarray) -> dict[str, object]:
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp
    from statsmodels.tsa.stattools import adfuller
    from statsmodels.tsa.tsatools import add_trend

    first = OLS(y, add_trend(x[:, None], trend="c", prepend=False)).fit()
    assert first.rsquared < 1 - 100 * np.sqrt(np.finfo(float).eps), "collinear pair"
    stat, _, _, store = adfuller(
        first.resid, maxlag=None, autolag="aic", regression="n", store=True, result_object=False
    )
    crit = mackinnoncrit(N=2, regression="c", nobs=len(y) - 1)
    return {
        "nobs": len(y),
        "t_stat": repr(float(stat)),
        "p_value": repr(float(mackinnonp(stat, regression="c", N=2))),
        "lag": int(store.usedlag),
        "crit_1": repr(float(crit[0])),
        "crit_5": repr(float(crit[1])),
        "crit_10": repr(float(crit[2])),
    }


def main() -> None:
    from statsmodels.tsa.stattools import coint

    prices = np.log(tk.load_many(SYMBOLS)["close"])
    done: set[tuple[str, str]] = set()
    if OUT.exists():
        with OUT.open() as f:
            done = {(r["y"], r["x"]) for r in csv.DictReader(f)}
    new = not OUT.exists()
    t0 = time.perf_counter()
    with OUT.open("a", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        for i, (a, b) in enumerate(combinations(sorted(SYMBOLS), 2)):
            if (a, b) in done:
                continue
            y = prices[a].to_numpy(np.float64)
            x = prices[b].to_numpy(np.float64)
            row = {"y": a, "x": b, **_pair(y, x)}
            if i < CHECKED:
                ref = coint(y, x, trend="c", autolag="aic")
                assert float(row["t_stat"]) == ref[0] and float(row["p_value"]) == ref[1], (a, b)  # type: ignore[arg-type]
                assert np.array_equal(np.asarray(ref[2]), [float(row[k]) for k in FIELDS[6:]])  # type: ignore[arg-type]
            writer.writerow(row)
            f.flush()
            print(f"{i + 1:3d}/435 {a}-{b} t={row['t_stat']} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
