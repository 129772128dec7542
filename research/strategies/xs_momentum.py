"""Cross-sectional momentum: hold the ``top`` symbols with the best ``lookback``-bar return.

An example of a cross-sectional strategy of your own, in plain NumPy: it sees the panel of
closes (bars x symbols) and returns target weights of one shared book (bars x symbols).
Every ``rebalance`` bars it ranks the symbols by trailing return and gives each of the
``top`` best 1/top of equity, skipping any whose own return is negative (absolute-momentum
filter, so the book can sit partly in cash). Jegadeesh & Titman (1993, J. Finance 48(1))
rank on past returns; this is the simplest version of that idea.
"""

from __future__ import annotations

import numpy as np

import toolkit as tk


@tk.strategy(
    kind="cross_sectional",
    params=[
        tk.Param("lookback", int, 126, 5, 504, "ranking window: trailing return, bars"),
        tk.Param("top", int, 3, 1, 50, "how many symbols to hold"),
        tk.Param("rebalance", int, 21, 1, 252, "re-rank every this many bars"),
    ],
)
def xs_momentum(close: np.ndarray, lookback: int, top: int, rebalance: int) -> np.ndarray:
    """Weights (bars x symbols): 1/top on each of the ``top`` best trailing returns (if
    positive), re-ranked every ``rebalance`` bars from bar ``lookback`` on; 0 before."""
    n, m = close.shape
    out = np.zeros((n, m))
    held = np.zeros(m)
    k = min(top, m)
    for t in range(lookback, n):
        if (t - lookback) % rebalance == 0:
            momentum = close[t] / close[t - lookback] - 1.0
            best = np.argsort(-momentum, kind="stable")[:k]
            held = np.zeros(m)
            held[best[momentum[best] > 0.0]] = 1.0 / k
        out[t] = held
    return out
