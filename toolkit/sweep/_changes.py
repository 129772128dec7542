"""The sweep's change-point driver: a simulation that jumps from target change to target change.

A rule that emits change points -- the bars where its target changes and the new value
(:func:`toolkit.strategies._dispatch.changes_nb`) -- instead of a full target array lets the
simulation visit only the bars where something can happen: a change point, the bar after a
next-open order, a bar the rebalance band holds back, a bar where equity falls to zero.
Between them a flat position's equity is its cash (every return 0: nothing to fold) and a
held one's is ``cash + shares x close``: a long stretch is folded at once from the price
tables of :mod:`toolkit.metrics._kernels`, a short or brief one bar by bar. Every visited bar
runs the engine's step functions (:mod:`toolkit.engine._step`) in the per-bar driver's order,
so the rows are equal to its rows and to the engine's (tests/sweep checks both).

Change points: ``cp_bar[0] = 0``, ``cp_bar`` strictly increasing, and the target is
``cp_val[i]`` on bars ``cp_bar[i] <= t < cp_bar[i + 1]`` (NaN: no instruction).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.engine._step import (
    D_DONE,
    D_ORDER,
    MARKET,
    decide_code_nb,
    effective_target_nb,
    pending_fill_nb,
)
from toolkit.engine.fills import slipped_nb
from toolkit.engine.settings import KernelSettings
from toolkit.metrics._kernels import (
    close_range_nb,
    fold_drawdown_nb,
    fold_return_nb,
    held_drawdown_nb,
    held_sums_nb,
    held_terms_nb,
)
from toolkit.risk.rules import kill_code_nb, kill_floors_nb
from toolkit.sweep._fold import (
    A_MONTH,
    execute_fold_inline_nb,
    execute_fold_nb,
    finish_nb,
    njit_no_refcount,
)

# The held-stretch folds (toolkit.metrics._kernels held_*) are compiled inline into this
# driver: as calls, numba passes each array argument as a 7-word struct, once per stretch.
# The next-open fill is inlined too, without its buy trimming (execute_fold_inline_nb, see
# there); the whole fill chain inlined at both fill sites took the first sweep's compile
# from 26.7 to 41.8 s (the bench's cold_compile_seconds, side by side): not worth it.

# A held long stretch at least this long is folded from the price tables, a shorter one bar
# by bar: a stretch from the tables costs ~14 ns, a bar's fold ~3 ns, and stretches of 12 to
# 31 bars from the tables took the headline grid's simulation 57.8/56.3 -> 55.1/55.0 ms (one
# thread, interleaved runs; 32 before, 8 and 6 slower than 12).
_TABLE_MIN = 12
# A table stretch whose drawdown cannot be passed at once is kept for the end (a row of the
# ``held`` work array): first bar, end, cash, shares, peak before it, its max and min close,
# and the bound its fall starts from.
H_LO, H_HI, H_CASH, H_POS, H_TOP, H_CHI, H_CLO, H_KEY = range(8)
HELD_COLS = 8


@njit(cache=True)
def held_rows(n: int) -> int:
    """Rows of the ``held`` work array for ``n`` bars: one per table stretch at most (each
    is >= _TABLE_MIN bars, disjoint) -- 27 KB on 5,000 bars instead of a row a bar."""
    return n // _TABLE_MIN + 1


@njit_no_refcount  # it allocates nothing: its work rows come from the caller
def simulate_changes_nb(
    open_: np.ndarray,
    close: np.ndarray,
    cp_bar: np.ndarray,
    cp_val: np.ndarray,
    m: int,
    month_id: np.ndarray,
    weight: float,
    settings: KernelSettings,
    prefix: np.ndarray,
    ranges: np.ndarray,
    st: np.ndarray,
    acc: np.ndarray,
    scratch: np.ndarray,
    stack: np.ndarray,
    held: np.ndarray,
    out: np.ndarray,
) -> None:
    """METRICS into ``out`` for one symbol at sleeve ``weight`` whose target path is ``m``
    change points; market orders, no stops, ``on_change`` rebalancing and no daily-loss or
    drawdown limit (the per-bar driver, ``simulate_metrics_nb``, runs the rest).

    ``prefix``, ``ranges`` are ``price_tables_nb(close)``; ``st``
    (STATE_COLS,), ``acc`` (ACC_SIZE,), ``scratch`` (1, TRADE_COLS), ``stack`` (STACK_ROWS,
    2) int64 and ``held`` (:func:`held_rows` of the bars, HELD_COLS) are work rows.

    The maximum drawdown is the lowest equity / running peak - 1 over all bars, whatever
    the order the bars are searched in, as long as each bar is measured against its own
    running peak: a long stretch whose lowest equity may set a new low is kept (its bars'
    peaks follow from the peak before it) and searched at the end, deepest bound first, so
    the bisection of :func:`held_drawdown_nb` starts from a low that is already deep and
    passes most ranges at once (headline grid: 5.3 -> 0.8 million bars folded, 1.46 ->
    0.39 million ranges tested). The result is the bar-by-bar fold's.
    """
    n = close.shape[0]
    init_cash, next_open, slippage = settings.init_cash, settings.next_open, settings.slippage
    band, max_leverage, fractional = settings.band, settings.max_leverage, settings.fractional
    cost, risk = settings.cost, settings.risk
    cash = init_cash
    pos = 0.0
    st[:] = 0.0
    acc[:] = 0.0
    acc[A_MONTH] = month_id[0]
    acted = np.nan
    pend_qty = 0.0
    pend_target = 0.0
    killed = False
    prev = init_cash
    s1 = 0.0
    s2 = 0.0
    down = 0.0
    top = init_cash
    mdd = 0.0
    # typed int64, not literal 0s: numba would compile the callees a second time for literals
    invested = int(np.int64(0))
    i = int(np.int64(0))  # the change point in force
    seg_end = cp_bar[1] if m > 1 else n  # where the next one starts
    b = int(np.int64(0))
    market = int(np.int64(MARKET))  # a global int is a literal too
    kept = int(np.int64(0))  # table stretches whose drawdown is searched at the end
    # the kill switch's floors, once: this driver runs without the daily-loss and drawdown
    # limits, so the day's start and the peak never matter (as in the engine then) and
    # only a wiped-out account trips it
    day_floor, peak_floor = kill_floors_nb(init_cash, init_cash, risk)
    while b < n:
        while b >= seg_end:
            i += 1
            seg_end = cp_bar[i + 1] if i + 1 < m else n
        # a visited bar: 1. the pending market order fills at the open
        if pend_qty != 0.0:
            q = pend_qty
            px, _ = pending_fill_nb(market, q, np.nan, open_[b], open_[b], open_[b], slippage)
            pend_qty = 0.0
            budget = cash + (max_leverage - 1.0) * (cash + pos * open_[b]) if q > 0 else 0.0
            q, cash, pos = execute_fold_inline_nb(
                st, acc, scratch, pos, cash, q, px, budget, cost, fractional, b, month_id[b]
            )
            acted = pend_target
        # 3. at the close the target becomes an order
        c = close[b]
        raw = cp_val[i]
        value = cash + pos * c
        if not killed and kill_code_nb(value, day_floor, peak_floor) != 0:
            killed = True
        tgt = effective_target_nb(raw, killed or value <= 0.0, max_leverage)
        if not np.isnan(tgt) and tgt != acted:
            what, _, delta, _ = decide_code_nb(
                tgt, weight, value, c, pos, band, 0.0, risk, fractional
            )
            if what == D_DONE:
                acted = tgt
            elif what == D_ORDER:
                if next_open:
                    pend_qty = delta
                    pend_target = tgt
                else:
                    px = slipped_nb(c, 1.0 if delta > 0 else -1.0, slippage)
                    budget = cash + (max_leverage - 1.0) * value
                    q, cash, pos = execute_fold_nb(
                        st, acc, scratch, pos, cash, delta, px, budget, cost, fractional, b,
                        month_id[b],
                    )  # fmt: skip
                    acted = tgt
        eq = cash + pos * c
        if pos != 0.0:
            invested += 1
        s1, s2, down = fold_return_nb(eq, prev, s1, s2, down)
        top, mdd = fold_drawdown_nb(eq, top, mdd)
        prev = eq
        b += 1
        # the rest of the segment is quiet when no order is pending and its target is NaN
        # or already acted on: the step would only mark to market there
        if b >= seg_end or pend_qty != 0.0:
            continue
        if not np.isnan(raw) and effective_target_nb(raw, killed, max_leverage) != acted:
            continue  # the band holds an order back: decide again next bar
        if pos == 0.0:
            if cash > 0.0:  # flat: equity is the cash, every return 0, nothing to fold
                b = seg_end
            continue
        start = b
        if pos > 0.0 and seg_end - b >= _TABLE_MIN:
            # a long stretch at once from the price tables (equity stays above zero there:
            # the expansion needs |cash| / (pos x close) well below 1)
            k = cash / pos
            # one lookup of the stretch's close range serves the terms (returns divide by
            # closes b - 1 .. seg_end - 2: their min is >= this bound) and the drawdown
            c_hi, c_lo = close_range_nb(ranges, b, seg_end)
            terms = held_terms_nb(k, min(c_lo, close[b - 1]))
            if terms > 0:
                d1, d2, d3, err = held_sums_nb(prefix, b, seg_end, k)
                if err <= 1e-13:
                    s1 += d1
                    s2 += d2
                    down += d3
                    peak = max(top, cash + pos * c_hi)  # exact: rounding is monotone
                    low = cash + pos * c_lo
                    # the row is written either way and kept when its low may be a new
                    # one: no branch (which way it goes is a coin toss, mispredicted)
                    row = held[kept]
                    row[H_LO] = b
                    row[H_HI] = seg_end
                    row[H_CASH] = cash
                    row[H_POS] = pos
                    row[H_TOP] = top
                    row[H_CHI] = c_hi
                    row[H_CLO] = c_lo
                    row[H_KEY] = low / peak
                    kept += int(low < peak * (1.0 + mdd) * (1.0 + 1e-12))
                    top = peak
                    prev = cash + pos * close[seg_end - 1]
                    b = seg_end
        while b < seg_end:
            eq = cash + pos * close[b]
            if eq <= 0.0:
                break  # an event: the step flattens a wiped-out account
            s1, s2, down = fold_return_nb(eq, prev, s1, s2, down)
            top, mdd = fold_drawdown_nb(eq, top, mdd)
            prev = eq
            b += 1
        invested += b - start
    mdd = kept_drawdown_nb(close, ranges, held, kept, mdd, stack)
    finish_nb(out, acc, init_cash, prev, n, s1, s2, down, mdd, invested, settings.periods)


@njit(cache=True, inline="always")
def kept_drawdown_nb(
    close: np.ndarray,
    ranges: np.ndarray,
    held: np.ndarray,
    kept: int,
    worst: float,
    stack: np.ndarray,
) -> float:
    """The lowest of ``worst`` and the drawdowns of the ``kept`` stretches in ``held``
    (rows as :data:`HELD_COLS`): the one with the deepest bound (lowest equity over highest
    peak) first, then the others in turn, each passed at once when its bound no longer
    reaches below the low found so far. (A full sort by bound saves little more and costs
    the square of the stretches on long intraday runs.)"""
    if kept == 0:
        return worst
    first = 0
    for i in range(1, kept):
        if held[i, H_KEY] < held[first, H_KEY]:
            first = i
    for step in range(kept):
        i = first if step == 0 else (step - 1 if step <= first else step)
        row = held[i]
        if row[H_KEY] >= (1.0 + worst) * (1.0 + 1e-12):
            continue  # no bar of it can reach below the low found so far
        _, worst = held_drawdown_nb(
            close, ranges, int(row[H_LO]), int(row[H_HI]), row[H_CASH], row[H_POS],
            row[H_TOP], worst, stack, row[H_CHI], row[H_CLO],
        )  # fmt: skip
    return worst
