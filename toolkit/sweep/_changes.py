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
from toolkit.sweep._fold import (
    A_MONTH,
    execute_fold_nb,
    finish_nb,
    kill_switch_inline_nb,
    njit_no_refcount,
)

# The held-stretch folds (toolkit.metrics._kernels held_*) are compiled inline into this
# driver: as calls, numba passes each array argument as a 7-word struct, once per stretch.
# Inlining the fill too (execute_fold_nb, ~2 per change point) saved another ~8% of the
# simulation but doubled this driver's cold compile (7 -> 17.5 s CPU): not worth it.

# A held long stretch at least this long is folded from the price tables, a shorter one bar
# by bar (the tables' fixed cost is that of a few dozen bars' folds).
_TABLE_MIN = 32


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
    out: np.ndarray,
) -> None:
    """METRICS into ``out`` for one symbol at sleeve ``weight`` whose target path is ``m``
    change points; market orders, no stops, ``on_change`` rebalancing and no daily-loss or
    drawdown limit (the per-bar driver, ``simulate_metrics_nb``, runs the rest).

    ``prefix``, ``ranges`` are ``price_tables_nb(close)``; ``st``
    (STATE_COLS,), ``acc`` (ACC_SIZE,), ``scratch`` (1, TRADE_COLS) and ``stack`` (STACK_ROWS,
    2) int64 are work rows.
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
            q, cash, pos = execute_fold_nb(
                st, acc, scratch, pos, cash, q, px, budget, cost, fractional, b, month_id[b]
            )
            acted = pend_target
        # 3. at the close the target becomes an order
        c = close[b]
        raw = cp_val[i]
        value = cash + pos * c
        # with the loss limits off only a wiped-out account can trip the switch (as in the
        # engine, where the day's start and the peak then never matter)
        if not killed and kill_switch_inline_nb(value, init_cash, init_cash, risk) != 0:
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
                d1, d2, d3, err = held_sums_nb(prefix, b, seg_end, k, terms)
                if err <= 1e-13:
                    s1 += d1
                    s2 += d2
                    down += d3
                    top, mdd = held_drawdown_nb(
                        close, ranges, b, seg_end, cash, pos, top, mdd, stack, c_hi, c_lo
                    )
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
    finish_nb(out, acc, init_cash, prev, n, s1, s2, down, mdd, invested, settings.periods)
