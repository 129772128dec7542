"""Numba kernels of the per-event order-book features (plain arrays only).

One row step, :func:`features_step_nb`, computes every per-event feature from the book after
the event and the best quotes before it; the replay + features loop calls it after the
replay's own step, :func:`apply_message_nb`.

Columns of the float64 output (``F_*``): mid, spread, size-weighted mid (USD), depth imbalance
over the first ``depth`` levels, Cont-Kukanov-Stoikov order-flow imbalance e_n (shares) and the
log return of the mid since the previous event. Trade sign and size go to int arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
from numpy.typing import NDArray

from toolkit.orderbook._replay import REFILL_ASK, REFILL_BID, apply_message_nb, refill_nb

F_MID = 0
F_SPREAD = 1
F_WMID = 2
F_DEPTH_IMB = 3
F_OFI = 4
F_LOGRET = 5
N_FEATURES = 6
SCALE = 1e-4  # LOBSTER price units to USD
DUMMY = 9_999_999_999


@nb.njit(cache=True, inline="always")
def features_step_nb(
    row: NDArray[Any],
    depth: int,
    pap: int,
    pas: int,
    pbp: int,
    pbs: int,
    kind: int,
    size: int,
    direction: int,
    out: NDArray[Any],
    signs: NDArray[Any],
    trade_sizes: NDArray[Any],
    i: int,
) -> None:
    """Features of event ``i`` from ``row`` (the book after it, LOBSTER column order) and the
    previous best ask/bid price and size (``pap, pas, pbp, pbs``; ask price 0 = no previous)."""
    ap = row[0]
    asz = row[1]
    bp = row[2]
    bsz = row[3]
    two_sided = ap != DUMMY and bp != -DUMMY
    if two_sided:
        mid = 0.5 * (ap + bp) * SCALE
        out[i, F_MID] = mid
        out[i, F_SPREAD] = (ap - bp) * SCALE
        # size-weighted mid ("weighted mid"): the bid weighs by the ask's size and vice versa
        out[i, F_WMID] = (bp * asz + ap * bsz) / (asz + bsz) * SCALE
    else:
        out[i, F_MID] = math.nan
        out[i, F_SPREAD] = math.nan
        out[i, F_WMID] = math.nan
    bid_depth = 0
    ask_depth = 0
    for k in range(depth):
        ask_depth += row[4 * k + 1]
        bid_depth += row[4 * k + 3]
    total = bid_depth + ask_depth
    out[i, F_DEPTH_IMB] = (bid_depth - ask_depth) / total if total > 0 else 0.0
    # Cont, Kukanov & Stoikov (2014), "The price impact of order book events", eq. (1):
    # e_n = 1{Pb_n >= Pb_n-1} qb_n - 1{Pb_n <= Pb_n-1} qb_n-1
    #       - 1{Pa_n <= Pa_n-1} qa_n + 1{Pa_n >= Pa_n-1} qa_n-1
    e = 0
    if pap != 0:
        if bp >= pbp:
            e += bsz
        if bp <= pbp:
            e -= pbs
        if ap <= pap:
            e -= asz
        if ap >= pap:
            e += pas
    out[i, F_OFI] = e
    if pap != 0 and two_sided and pap != DUMMY and pbp != -DUMMY:
        # most events leave the mid where it was: skip the log (log 1 = 0 exactly)
        out[i, F_LOGRET] = 0.0 if ap + bp == pap + pbp else math.log((ap + bp) / (pap + pbp))
    else:
        out[i, F_LOGRET] = 0.0 if pap == 0 else math.nan
    # trade sign (LOBSTER ReadMe): executing a sell (buy) limit order is a buy (sell) trade
    if kind == 4 or kind == 5:
        signs[i] = -direction
        trade_sizes[i] = size
    else:
        signs[i] = 0
        trade_sizes[i] = size if kind == 6 else 0


@nb.njit(cache=True)
def replay_features_nb(
    kinds: NDArray[Any],
    sizes: NDArray[Any],
    prices: NDArray[Any],
    directions: NDArray[Any],
    book: NDArray[Any],
    depth: int,
    out: NDArray[Any],
    signs: NDArray[Any],
    trade_sizes: NDArray[Any],
) -> int:
    """Replay the messages from ``book[0]`` (refilling levels that enter from beyond the depth
    from ``book``) and compute each event's features on the rebuilt book, in one pass.
    Returns the number of refills."""
    n, width = book.shape
    levels = width // 4
    state = book[0].copy()
    refills = 0
    features_step_nb(
        state, depth, 0, 0, 0, 0, kinds[0], sizes[0], directions[0], out, signs, trade_sizes, 0
    )
    for i in range(1, n):
        pap = state[0]
        pas = state[1]
        pbp = state[2]
        pbs = state[3]
        code = apply_message_nb(state, levels, kinds[i], sizes[i], prices[i], directions[i])
        if code in (REFILL_ASK, REFILL_BID):
            refill_nb(state, book[i], levels, code)
            refills += 1
        features_step_nb(
            state, depth, pap, pas, pbp, pbs, kinds[i], sizes[i], directions[i], out, signs,
            trade_sizes, i,
        )  # fmt: skip
    return refills


@nb.njit(cache=True)
def bin_features_nb(
    times: NDArray[Any],
    feats: NDArray[Any],
    signs: NDArray[Any],
    trade_sizes: NDArray[Any],
    start: float,
    width: float,
    nbins: int,
    out: NDArray[Any],
    counts: NDArray[Any],
) -> None:
    """Aggregate per-event features into ``nbins`` bins [start + k w, start + (k+1) w).

    ``out`` (nbins, 8): OFI sum, buy volume, sell volume, trade-sign imbalance by volume
    ((buy - sell) / (buy + sell), 0 without trades), realised variance (sum of squared log mid
    returns of the bin's events), last mid, event-mean spread, last depth imbalance; a bin
    without events carries the last values forward (mid, depth imbalance) and zero flows.
    ``counts`` (nbins, 2): events, trades."""
    last_mid = math.nan
    last_imb = 0.0
    j = 0
    n = times.shape[0]
    for k in range(nbins):
        end = start + (k + 1) * width
        ofi = 0.0
        buy = 0.0
        sell = 0.0
        rv = 0.0
        spread_sum = 0.0
        spread_n = 0
        events = 0
        trades = 0
        while j < n and times[j] < end:
            ofi += feats[j, F_OFI]
            if signs[j] > 0:
                buy += trade_sizes[j]
            elif signs[j] < 0:
                sell += trade_sizes[j]
            if signs[j] != 0:
                trades += 1
            r = feats[j, F_LOGRET]
            if not math.isnan(r):
                rv += r * r
            if not math.isnan(feats[j, F_SPREAD]):
                spread_sum += feats[j, F_SPREAD]
                spread_n += 1
            last_mid = feats[j, F_MID]
            last_imb = feats[j, F_DEPTH_IMB]
            events += 1
            j += 1
        out[k, 0] = ofi
        out[k, 1] = buy
        out[k, 2] = sell
        out[k, 3] = (buy - sell) / (buy + sell) if buy + sell > 0 else 0.0
        out[k, 4] = rv
        out[k, 5] = last_mid
        out[k, 6] = spread_sum / spread_n if spread_n > 0 else math.nan
        out[k, 7] = last_imb
        counts[k, 0] = events
        counts[k, 1] = trades
