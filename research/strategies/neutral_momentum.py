"""Market-neutral long/short momentum: long the ``top`` best, short the ``top`` worst, and
hedge what beta is left with the benchmark, so the book's beta is 0 at every rebalance.

Ranking: the return from ``lookback`` bars ago to ``skip`` bars ago (Jegadeesh & Titman
1993, J. Finance 48(1); the "12-1" momentum skips the last month for its short-term
reversal). The long leg holds ``gross / 2 / top`` of equity in each of the best names, the
short leg ``-gross / 2 / top`` in each of the worst (dollar neutral). Each name's beta is the
OLS slope of its daily close-to-close returns on the benchmark's over the last
``beta_window`` returns up to the decision bar (:func:`toolkit.stats.rolling_beta`, the same
estimator as the ``[risk] max_beta`` rule: cov / var over the window); the benchmark's own
beta is 1, so a benchmark weight of ``-sum(w_j beta_j)`` makes the book's beta exactly 0 by
that estimator (a beta-neutral book: e.g. Frazzini & Pedersen 2014, "Betting against beta",
J. Financial Economics 111(1), hedge their legs to beta 0 the same way).

Sector-neutral (``sector_size`` n > 0): the stocks are listed sector by sector, n to a
sector (e.g. 8 GICS sectors x 4 stocks), and the ranking is done inside each sector: the
``top`` best of each sector long and its ``top`` worst short (at most half a sector each
way; a last, shorter block is a sector too), every name at ``gross / 2 / (names long)``, so
each sector's net exposure is 0 and the momentum bet is within industries, not across them
(industry momentum is a separate effect: Moskowitz & Grinblatt 1999, "Do Industries Explain
Momentum?", J. Finance 54(4)).

Panel layout: the stocks, then the benchmark (e.g. SPY) as the **last** column; it is never
ranked, only used to hedge. The weights are given on rebalance bars only (every
``rebalance`` bars from the first bar with both windows full) and are NaN ("no instruction")
in between, so run it with ``[engine] rebalance = "every_bar"``: then every name is resized
to its weight at each rebalance (with ``on_change`` a name whose weight did not change would
keep its drifted shares and the book would be neutral only approximately).
"""

from __future__ import annotations

import numpy as np

import toolkit as tk
from toolkit.stats import rolling_beta


def daily_returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close simple returns (bars x symbols); row 0 is 0, as in the risk rules."""
    r = np.zeros_like(close)
    r[1:] = close[1:] / close[:-1] - 1.0
    return r


def betas(close: np.ndarray, window: int) -> np.ndarray:
    """(bars x symbols) beta of each column on the last column over the ``window`` returns
    ending at each bar (NaN before a full window): rows b use returns b - window + 1 .. b."""
    r = daily_returns(close)
    n, m = close.shape
    out = np.full((n, m), np.nan)
    if n - 1 < window:
        return out
    for j in range(m):
        out[1:, j] = rolling_beta(r[1:, j], r[1:, -1], window).beta
    return out


@tk.strategy(
    kind="cross_sectional",
    params=[
        tk.Param("lookback", int, 252, 20, 756, "momentum from this many bars ago"),
        tk.Param("skip", int, 21, 0, 126, "to this many bars ago (12-1 momentum: 252, 21)"),
        tk.Param("top", int, 5, 1, 50, "names held long and short each"),
        tk.Param("rebalance", int, 21, 1, 252, "re-rank and re-hedge every this many bars"),
        tk.Param("beta_window", int, 250, 20, 1000, "daily returns in each beta estimate"),
        tk.Param("gross", float, 1.0, 0.1, 4.0, "gross of the two legs, fraction of equity"),
        tk.Param(
            "sector_size", int, 0, 0, 100, "n > 0: blocks of n names are sectors, ranked within"
        ),
    ],
    valid=lambda p: p["skip"] < p["lookback"],
    valid_doc="skip < lookback",
)
def neutral_momentum(
    close: np.ndarray,
    lookback: int,
    skip: int,
    top: int,
    rebalance: int,
    beta_window: int,
    gross: float,
    sector_size: int,
) -> np.ndarray:
    """Weights (bars x symbols): on rebalance bars ``gross/2/top`` long in each of the ``top``
    best and short in each of the ``top`` worst momentum names (per sector of ``sector_size``
    names when it is above 0), the last column (benchmark) at
    minus the legs' beta; NaN between rebalances, 0 before the first."""
    n, m = close.shape
    names = m - 1
    if names < 2:
        raise tk.ConfigError(
            "neutral_momentum needs at least two stocks and the benchmark (e.g. SPY) last."
        )
    if skip >= lookback:
        raise tk.ConfigError(f"neutral_momentum: skip = {skip} must be below lookback.")
    size = min(sector_size or names, names)  # a last, shorter block is a sector too
    blocks = [(g, min(g + size, names)) for g in range(0, names, size)]
    picks = [min(top, (hi - lo) // 2) for lo, hi in blocks]  # a 1-name block sits out
    each = gross / 2.0 / sum(picks)
    beta = betas(close, beta_window)
    out = np.full((n, m), np.nan)
    start = max(lookback, beta_window)
    out[: min(start, n)] = 0.0
    for t in range(start, n, rebalance):
        momentum = close[t - skip, :names] / close[t - lookback, :names] - 1.0
        w = np.zeros(m)
        for (lo, hi), k in zip(blocks, picks, strict=True):
            if k == 0:
                continue
            order = lo + np.argsort(-momentum[lo:hi], kind="stable")
            w[order[:k]] = each
            w[order[hi - lo - k :]] = -each
        w[-1] = -float(w[:names] @ beta[t, :names])  # benchmark's own beta is 1
        out[t] = w
    return out
