"""Sector rotation: hold the ``top`` sector ETFs with the best trailing return, re-ranked
monthly, with an optional absolute-momentum filter that parks a slot in T-bills.

Relative strength across US sectors, the top few held equally and re-ranked monthly, is the
rotation Faber tested (M. Faber, "Relative Strength Strategies for Investing", SSRN 1585517,
2010); here over the Select Sector SPDRs. It follows his trend-filtered allocation
(M. Faber, "A Quantitative Approach to Tactical Asset Allocation", J. of Wealth Management
9(4), 2007, which moves an asset to cash when its trend turns down). The filter used here is
Antonacci's absolute momentum (G. Antonacci, "Dual Momentum Investing", McGraw-Hill 2014,
ch. 8): a chosen sector is held only while its trailing return beats the T-bill ETF's over
the same window; otherwise its 1/top slot goes to the T-bill ETF.

Panel layout: the sector ETFs, then the T-bill ETF (BIL) as the **last** column; the last
column is never ranked. Closes should be total-return adjusted (the loader's default), so
momentum counts dividends. "Monthly" is every ``rebalance`` bars (21 trading days), counted
from the first bar with a full ``lookback``: the signal sees bars, not dates, so the
schedule is the same in a backtest, a sweep and a live session holding the same history
(a session restarted with a later first history bar re-ranks on other days).
Ties rank by column order (a stable sort). The engine trades a target when it changes
(``rebalance = "on_change"``): a sector that stays chosen keeps its shares and drifts from
1/top; ``[engine] rebalance = "every_bar"`` with a ``rebalance_band`` also restores it.
"""

from __future__ import annotations

import numpy as np

import toolkit as tk


@tk.strategy(
    kind="cross_sectional",
    params=[
        tk.Param("lookback", int, 252, 1, 504, "momentum window: trailing return, bars"),
        tk.Param("top", int, 3, 1, 10, "how many sectors to hold, 1/top of equity each"),
        tk.Param("rebalance", int, 21, 1, 252, "re-rank every this many bars (21 ~ monthly)"),
        tk.Param("absolute", int, 1, 0, 1, "1: a sector must beat T-bills (last column)"),
    ],
)
def sector_rotation(
    close: np.ndarray, lookback: int, top: int, rebalance: int, absolute: int
) -> np.ndarray:
    """Weights (bars x symbols): 1/top on each of the ``top`` sectors with the best
    ``lookback``-bar return (a slot whose sector does not beat the last column's return goes
    to the last column when ``absolute`` is 1), re-ranked every ``rebalance`` bars from bar
    ``lookback`` on; 0 before."""
    n, m = close.shape
    if m < 2:
        raise tk.ConfigError(
            "sector_rotation needs the sector ETFs and a T-bill ETF (e.g. BIL) listed last."
        )
    sectors = m - 1
    k = min(top, sectors)
    out = np.zeros((n, m))
    held = np.zeros(m)
    for t in range(lookback, n):
        if (t - lookback) % rebalance == 0:
            momentum = close[t] / close[t - lookback] - 1.0
            best = np.argsort(-momentum[:sectors], kind="stable")[:k]
            held = np.zeros(m)
            for j in best:
                if absolute and not momentum[j] > momentum[-1]:
                    held[-1] += 1.0 / k  # absolute momentum failed: this slot sits in T-bills
                else:
                    held[j] = 1.0 / k
        out[t] = held
    return out
