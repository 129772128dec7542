"""Sweep kernels (numba): many parameter sets x one symbol, metrics only, in parallel threads.

Both simulation drivers here call the engine's step functions (:mod:`toolkit.engine._step`:
fills, sizing, the risk rulebook, booking) and fold equity into the metric sums of
:mod:`toolkit.metrics._kernels`; they keep no per-bar arrays, so memory is O(bars) per thread
for any grid size. tests/sweep checks every row equals the engine's.

* :func:`simulate_metrics_nb` runs every bar (what stops, limit/stop orders, every-bar
  rebalancing and the daily-loss and drawdown limits need).
* :func:`toolkit.sweep._changes.simulate_changes_nb` is the fast path for the rest: the rule
  emits change points and the driver visits only the bars where something can happen. Its
  rows equal the per-bar driver's.

numba's cache keys a compiled function on its own file's source only: a kernel here keeps
the compiled code of the drivers it calls until this file changes. A change to a driver (or
to a step function inlined into one) that must reach ``sweep_nb`` in warm caches comes with
a change here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from toolkit._work_queue import COUNTER_SIZE, take_next_nb
from toolkit.engine._step import (
    D_DONE,
    D_ORDER,
    MARKET,
    S_AVG,
    STATE_COLS,
    TRADE_COLS,
    decide_code_nb,
    effective_target_nb,
    entered_nb,
    exit_fill_nb,
    order_price_nb,
    pending_fill_nb,
    trail_peak_nb,
)
from toolkit.engine.fills import slipped_nb
from toolkit.engine.settings import KernelSettings
from toolkit.metrics._kernels import (
    STACK_ROWS,
    fold_drawdown_nb,
    fold_return_nb,
    price_tables_nb,
)
from toolkit.risk.rules import DAILY_LOSS, MAX_DRAWDOWN
from toolkit.strategies._dispatch import changes_nb, rule_nb
from toolkit.sweep._changes import HELD_COLS, held_rows, simulate_changes_nb
from toolkit.sweep._fold import (
    A_MONTH,
    ACC_SIZE,
    execute_fold_nb,
    finish_nb,
    kill_switch_inline_nb,
    njit_no_refcount,
)

# Output columns, in order.
METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "trades",
    "win_rate",
    "exposure",
    "commissions",
    "final_equity",
)
N_METRICS = len(METRICS)
# Neighbouring grid rows a chunk of sweep_nb runs one after the other (see there).
_BLOCK = 16


@njit_no_refcount  # it allocates nothing: its work rows come from the caller
def simulate_metrics_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    target: np.ndarray,
    cost: np.ndarray,
    month_id: np.ndarray,
    day_id: np.ndarray,
    init_cash: float,
    next_open: bool,
    order_type: int,
    order_offset: float,
    slippage: float,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    rebalance_always: bool,
    band: float,
    max_leverage: float,
    fractional: bool,
    risk: np.ndarray,
    weight: float,
    periods: float,
    st: np.ndarray,
    acc: np.ndarray,
    scratch: np.ndarray,
    out: np.ndarray,
) -> None:
    """One symbol at sleeve ``weight``, one target path, every bar -> METRICS into ``out``.

    The engine kernel's bar (toolkit.engine._kernels.simulate_nb) for one symbol: the same
    step functions in the same order; only the bookkeeping differs (running sums instead of
    records). ``st`` (STATE_COLS,), ``acc`` (ACC_SIZE,) and ``scratch`` (1, TRADE_COLS) are
    work rows, overwritten.
    """
    n = close.shape[0]
    cash = init_cash
    pos = 0.0
    st[:] = 0.0
    acc[:] = 0.0
    acc[A_MONTH] = month_id[0]
    acted = np.nan
    pend_qty = 0.0
    pend_px = np.nan
    pend_target = 0.0
    peak = 0.0
    use_stops = not (np.isnan(stop_loss) and np.isnan(take_profit) and np.isnan(trailing_stop))
    killed = False
    peak_equity = init_cash
    day_start = init_cash
    day = day_id[0]
    prev = init_cash
    s1 = 0.0
    s2 = 0.0
    down = 0.0
    top = init_cash
    mdd = 0.0
    invested = int(np.int64(0))  # not a literal 0: numba would compile finish_nb twice
    for b in range(n):
        fresh = False
        # 1. the order placed at the previous close works through this bar
        if pend_qty != 0.0:
            q = pend_qty
            px, _ = pending_fill_nb(order_type, q, pend_px, open_[b], high[b], low[b], slippage)
            pend_qty = 0.0
            if not np.isnan(px):
                budget = cash + (max_leverage - 1.0) * (cash + pos * open_[b]) if q > 0 else 0.0
                before = pos
                q, cash, pos = execute_fold_nb(
                    st, acc, scratch, pos, cash, q, px, budget, cost, fractional, b, month_id[b]
                )
                if q != 0.0:
                    if entered_nb(before, pos):
                        peak = px
                    fresh = not (px == open_[b] or order_type == MARKET)
                acted = pend_target
        # 2. protective exits
        if use_stops and pos != 0.0 and not fresh:
            d = 1.0 if pos > 0 else -1.0
            fill, _, _, _ = exit_fill_nb(
                d, st[S_AVG], peak, stop_loss, take_profit, trailing_stop,
                open_[b], high[b], low[b], slippage,
            )  # fmt: skip
            if np.isnan(fill):
                peak = trail_peak_nb(d, peak, high[b], low[b])
            else:
                _, cash, pos = execute_fold_nb(
                    st, acc, scratch, pos, cash, -pos, fill, 0.0, cost, fractional, b, month_id[b]
                )
                pend_qty = 0.0
        # 3. at the close: the target becomes an order
        c = close[b]
        value = cash + pos * c
        if day_id[b] != day:
            day = day_id[b]
            day_start = prev
        peak_equity = max(peak_equity, value)
        if not killed and kill_switch_inline_nb(value, peak_equity, day_start, risk) != 0:
            killed = True
        tgt = effective_target_nb(target[b], killed or value <= 0.0, max_leverage)
        if not np.isnan(tgt) and (rebalance_always or tgt != acted):
            what, _, delta, _ = decide_code_nb(
                tgt, weight, value, c, pos, band, 0.0, risk, fractional
            )
            if what == D_DONE:
                acted = tgt
            elif what == D_ORDER:
                side = 1.0 if delta > 0 else -1.0
                if next_open or order_type != MARKET:
                    pend_qty = delta
                    pend_target = tgt
                    pend_px = order_price_nb(order_type, side, c, order_offset)
                else:
                    px = slipped_nb(c, side, slippage)
                    before = pos
                    budget = cash + (max_leverage - 1.0) * value
                    q, cash, pos = execute_fold_nb(
                        st, acc, scratch, pos, cash, delta, px, budget, cost, fractional, b,
                        month_id[b],
                    )  # fmt: skip
                    if q != 0.0 and entered_nb(before, pos):
                        peak = px
                    acted = tgt
        # mark to market and fold into the metric sums
        eq = cash + pos * c
        if pos != 0.0:
            invested += 1
        s1, s2, down = fold_return_nb(eq, prev, s1, s2, down)
        top, mdd = fold_drawdown_nb(eq, top, mdd)
        prev = eq
    finish_nb(out, acc, init_cash, prev, n, s1, s2, down, mdd, invested, periods)


@njit(parallel=True, cache=True)
def sweep_nb(
    sid: int,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    aux: np.ndarray,
    index: np.ndarray,
    grid: np.ndarray,
    month_id: np.ndarray,
    day_id: np.ndarray,
    weight: float,
    settings: KernelSettings,
    workers: int,
    use_stops: bool,
    tiered: bool,
    out: np.ndarray,
) -> None:
    """Evaluate every row of ``grid`` (K x P) on one symbol; METRICS into ``out`` (K x N).

    ``workers`` (numba's thread count) loops run in parallel, each with its own buffers,
    taking blocks of rows in grid order until none is left. ``aux``/``index`` come from the
    strategy's features function for this grid. The driver is chosen once for the run
    (settings are run constants): the change-point driver when nothing needs every bar (the
    rule then emits change points), else the per-bar one. ``tiered`` is unused (the monthly
    volume is kept for every schedule) and kept for callers. ``settings`` is the run's
    EngineSettings.kernel() record (with its risk limits), ``day_id`` numbers the trading
    days (for the daily-loss limit) and ``weight`` is the symbol's sleeve weight, as in the
    engine kernel.
    """
    init_cash, next_open, order_type = settings.init_cash, settings.next_open, settings.order_type
    order_offset, slippage, band = settings.order_offset, settings.slippage, settings.band
    stop_loss, take_profit = settings.stop_loss, settings.take_profit
    trailing_stop, rebalance_always = settings.trailing_stop, settings.rebalance_always
    max_leverage, fractional, periods = settings.max_leverage, settings.fractional, settings.periods
    cost, risk = settings.cost, settings.risk
    k_total = grid.shape[0]
    n = close.shape[0]
    events = (
        order_type == MARKET
        and not use_stops
        and not rebalance_always
        and np.isinf(risk[DAILY_LOSS])
        and np.isinf(risk[MAX_DRAWDOWN])
    )
    if events:
        prefix, ranges = price_tables_nb(close)
    else:
        prefix, ranges = np.empty((1, 1)), np.empty((1, 1, 2))
    # the grid in blocks of _BLOCK neighbouring rows (they share indicator rows and cost
    # alike), each thread taking the next block in grid order as it frees up (a shared
    # counter): the threads stay on nearby rows and finish together. (prange alone deals
    # equal contiguous shares up front: the grid's first rows, small windows that trade
    # often, cost most.)
    blocks = (k_total + _BLOCK - 1) // _BLOCK
    counter = np.zeros(COUNTER_SIZE, dtype=np.int64)
    for _ in prange(max(1, workers)):
        target = np.empty(n)
        cp_bar = np.empty(n, dtype=np.int64)
        cp_val = np.empty(n)
        st = np.empty(STATE_COLS)
        acc = np.empty(ACC_SIZE)
        scratch = np.empty((1, TRADE_COLS))
        stack = np.empty((STACK_ROWS, 2), dtype=np.int64)
        held = np.empty((held_rows(n) if events else 1, HELD_COLS))
        while True:
            blk = take_next_nb(counter)
            if blk >= blocks:
                break
            for k in range(blk * _BLOCK, min((blk + 1) * _BLOCK, k_total)):
                if events:
                    m = changes_nb(
                        sid, open_, high, low, close, volume, aux, grid[k], index[k], target,
                        cp_bar, cp_val,
                    )  # fmt: skip
                    simulate_changes_nb(
                        open_, close, cp_bar, cp_val, m, month_id, weight, settings, prefix,
                        ranges, st, acc, scratch, stack, held, out[k],
                    )  # fmt: skip
                else:
                    rule_nb(sid, open_, high, low, close, volume, aux, grid[k], index[k], target)
                    simulate_metrics_nb(
                        open_, high, low, close, target, cost, month_id, day_id, init_cash,
                        next_open, order_type, order_offset, slippage, stop_loss, take_profit,
                        trailing_stop, rebalance_always, band, max_leverage, fractional, risk,
                        weight, periods, st, acc, scratch, out[k],
                    )  # fmt: skip
