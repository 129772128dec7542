"""Asset-class dual momentum: relative momentum picks the strongest risk assets, absolute
momentum against T-bills decides whether to hold them or step aside into bonds (or cash).

G. Antonacci, "Dual Momentum Investing", McGraw-Hill 2014: Global Equities Momentum (GEM)
holds the stronger of US and non-US stocks by 12-month return while US stocks beat T-bills
over those 12 months, else aggregate bonds. His "Risk Premia Harvesting Through Dual
Momentum" (SSRN 2042750, 2012) applies the same two steps per asset-class module, testing
the relative winner itself against T-bills; this strategy does that (it differs from GEM's
flow chart only when non-US stocks lead while US stocks trail T-bills). The ``top`` best
risk assets each get 1/top of equity; a chosen asset whose ``lookback`` return does not
beat the T-bill ETF's hands its slot to the bond ETF (``bond_filter`` 0, as GEM), or, with
``bond_filter`` 1, to bonds only while they beat T-bills themselves, else to T-bills.

Panel layout: the risk assets, then the bond ETF (e.g. AGG), then the T-bill ETF (BIL)
**last**. GEM is ``symbols = ["SPY", "EFA", "AGG", "BIL"]`` with ``top = 1``, ``lookback =
252``. Closes should be total-return adjusted (the loader's default). "Monthly" is every
``rebalance`` bars from the first bar with a full ``lookback`` (the signal sees bars, not
dates; a live session restarted with a later first history bar decides on other days).
Ties rank by column order. An asset that stays chosen keeps its shares and drifts from
1/top (the engine trades a target when it changes); ``[engine] rebalance = "every_bar"``
with a ``rebalance_band`` also restores it.
"""

from __future__ import annotations

import numpy as np

import toolkit as tk


@tk.strategy(
    kind="cross_sectional",
    params=[
        tk.Param("lookback", int, 252, 1, 504, "momentum window: trailing return, bars"),
        tk.Param("top", int, 1, 1, 10, "how many risk assets to hold, 1/top of equity each"),
        tk.Param("rebalance", int, 21, 1, 252, "decide again every this many bars"),
        tk.Param("bond_filter", int, 0, 0, 1, "1: bonds only while they beat T-bills"),
    ],
)
def dual_momentum(
    close: np.ndarray, lookback: int, top: int, rebalance: int, bond_filter: int
) -> np.ndarray:
    """Weights (bars x symbols): 1/top on each of the ``top`` risk assets with the best
    ``lookback``-bar return that also beats the T-bill column's return; each other slot on
    the bond column (or the T-bill column, see ``bond_filter``); decided every ``rebalance``
    bars from bar ``lookback`` on; 0 before."""
    n, m = close.shape
    if m < 3:
        raise tk.ConfigError(
            "dual_momentum needs risk assets, then a bond ETF (e.g. AGG), then a T-bill ETF "
            "(e.g. BIL) listed last."
        )
    risky, bond, bill = m - 2, m - 2, m - 1
    k = min(top, risky)
    out = np.zeros((n, m))
    held = np.zeros(m)
    for t in range(lookback, n):
        if (t - lookback) % rebalance == 0:
            momentum = close[t] / close[t - lookback] - 1.0
            safe = bill if bond_filter and not momentum[bond] > momentum[bill] else bond
            held = np.zeros(m)
            for j in np.argsort(-momentum[:risky], kind="stable")[:k]:
                held[j if momentum[j] > momentum[bill] else safe] += 1.0 / k
        out[t] = held
    return out
