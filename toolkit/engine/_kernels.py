"""Portfolio simulation kernel (numba). Arrays in, arrays out; see engine/__init__ for the rules.

The rules of a bar are the shared step functions of :mod:`toolkit.engine._step`; this driver
runs them over a whole history for every symbol and records orders, trades, equity and
positions.

Shapes: prices and targets are (n_bars, n_symbols) float64, C-contiguous; ``weights`` is
(n_symbols,); ``cost`` is a Commission.vector(); ``month_id`` is (n_bars,) int64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.engine._step import (
    D_DONE,
    D_ORDER,
    D_WAIT,
    FILL_LATER,
    FILL_NOW,
    LIMIT,
    MARKET,
    P_CODE,
    P_FEE,
    P_FROM,
    P_PX,
    P_QTY,
    P_TGT,
    P_WANT,
    P_WHAT,
    PLAN_COLS,
    R_SIGNAL,
    R_STOP_LOSS,
    R_TAKE_PROFIT,
    R_TRAILING,
    S_AVG,
    STATE_COLS,
    STOP,
    T_COMM,
    T_DIR,
    T_ENTRY_BAR,
    T_ENTRY_PX,
    T_EXIT_BAR,
    T_EXIT_PX,
    T_OPEN,
    T_PNL,
    T_QTY,
    T_RET,
    T_SYM,
    TRADE_COLS,
    entered_nb,
    execute_nb,
    exit_fill_nb,
    open_trade_nb,
    order_price_nb,
    pending_fill_nb,
    plan_close_nb,
    to_decide_nb,
    trail_peak_nb,
)
from toolkit.engine.settings import KernelSettings
from toolkit.risk.portfolio import RiskContext
from toolkit.risk.rules import kill_switch_nb

__all__ = [
    "GUARD_COLS",
    "LIMIT",
    "MARKET",
    "ORDER_COLS",
    "R_SIGNAL",
    "R_STOP_LOSS",
    "R_TAKE_PROFIT",
    "R_TRAILING",
    "STOP",
    "TRADE_COLS",
    "T_COMM",
    "T_DIR",
    "T_ENTRY_BAR",
    "T_ENTRY_PX",
    "T_EXIT_BAR",
    "T_EXIT_PX",
    "T_OPEN",
    "T_PNL",
    "T_QTY",
    "T_RET",
    "T_SYM",
    "simulate_nb",
]

# Order record columns.
O_BAR, O_SYM, O_QTY, O_PRICE, O_COMM, O_REASON, O_REF, O_TYPE = range(8)
ORDER_COLS = 8
# Guard record columns: a risk rule cut or held back a decision (the bits of risk.rules G_*,
# the shares the target wanted, the order's shares after the cut).
GD_BAR, GD_SYM, GD_CODE, GD_WANT, GD_QTY = range(5)
GUARD_COLS = 5


@njit(cache=True)
def _record_guards_nb(
    guards: np.ndarray, n: int, plan: np.ndarray, b: int
) -> tuple[np.ndarray, int]:
    """Append a record per symbol of this close's plan that a risk rule cut, blocked or
    held back (the record array doubles when full)."""
    for j in range(plan.shape[0]):
        what = plan[j, P_WHAT]
        if (what != D_ORDER and what != D_DONE and what != D_WAIT) or plan[j, P_CODE] == 0.0:
            continue
        if n == guards.shape[0]:
            grown = np.empty((2 * n, GUARD_COLS))
            # element copies: a slice assignment compiles numba's shape-error messages
            # (~3-5 s of the engine's cold compile)
            for i in range(n):
                for c in range(GUARD_COLS):
                    grown[i, c] = guards[i, c]
            guards = grown
        rec = guards[n]
        rec[GD_BAR] = b
        rec[GD_SYM] = j
        rec[GD_CODE] = plan[j, P_CODE]
        rec[GD_WANT] = plan[j, P_WANT]
        rec[GD_QTY] = plan[j, P_QTY] if what == D_ORDER else 0.0
        n += 1
    return guards, n


@njit(cache=True, inline="always")
def _record_order_nb(
    orders: np.ndarray,
    i: int,
    bar: int,
    j: int,
    qty: float,
    price: float,
    comm: float,
    reason: int,
    ref: float,
    otype: int,
) -> None:
    rec = orders[i]
    rec[O_BAR] = bar
    rec[O_SYM] = j
    rec[O_QTY] = qty
    rec[O_PRICE] = price
    rec[O_COMM] = comm
    rec[O_REASON] = reason
    rec[O_REF] = ref
    rec[O_TYPE] = otype


@njit(cache=True)
def simulate_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    month_id: np.ndarray,
    day_id: np.ndarray,
    settings: KernelSettings,
    ctx: RiskContext | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one portfolio; return (equity, cash, positions, orders, trades, guards).

    ``equity``/``cash`` are (n_bars,) marked at each close; ``positions`` (n_bars, n_symbols)
    in shares; ``orders`` (k, ORDER_COLS), ``trades`` (t, TRADE_COLS) and ``guards``
    (g, GUARD_COLS: every decision a risk rule cut or held back) records.
    ``settings`` is the EngineSettings.kernel() record: stop distances are fractions of the
    entry price (NaN = off); targets are clipped to [-max_leverage, max_leverage] and scaled
    by ``weights``; orders are trimmed to its risk limits (toolkit.risk.rules) at the close,
    and when the daily-loss or drawdown switch fires (``day_id`` numbers the trading days)
    every position is closed and no new one is opened for the rest of the run. ``ctx`` is
    what the portfolio rules estimate from (toolkit.risk.portfolio; None without them:
    then they are not compiled in).
    """
    init_cash, next_open, order_type = settings.init_cash, settings.next_open, settings.order_type
    order_offset, slippage = settings.order_offset, settings.slippage
    stop_loss, take_profit = settings.stop_loss, settings.take_profit
    trailing_stop = settings.trailing_stop
    max_leverage, fractional = settings.max_leverage, settings.fractional
    cost, risk = settings.cost, settings.risk
    n, m = close.shape
    equity = np.empty(n)
    cash_out = np.empty(n)
    positions = np.empty((n, m))
    cap = n * m * 2 + 4
    orders = np.empty((cap, ORDER_COLS))
    trades = np.empty((cap, TRADE_COLS))
    n_orders = int(np.int64(0))  # int64 from the start: a literal 0 makes numba compile
    # the step functions it is passed to twice (once for the literal, once for int64)
    n_trades = int(np.int64(0))
    pos = np.zeros(m)
    state = np.zeros((m, STATE_COLS))
    cash = init_cash
    acted = np.full(m, np.nan)  # last target the engine acted on
    pend_qty = np.zeros(m)  # order waiting for the next bar
    pend_px = np.full(m, np.nan)  # its limit/stop price (NaN for market)
    pend_target = np.zeros(m)
    peak = np.zeros(m)  # best price since entry, for trailing stops
    fresh = np.zeros(m, dtype=np.bool_)  # entered intrabar this bar: exits start next bar
    month_vol = 0.0
    month = month_id[0] if n > 0 else 0
    use_stops = not (np.isnan(stop_loss) and np.isnan(take_profit) and np.isnan(trailing_stop))
    killed = False
    peak_equity = init_cash
    day_start = init_cash
    day = day_id[0] if n > 0 else 0
    # signal orders fill at the close (market orders), or work through the next bar
    fills = FILL_NOW if not next_open and order_type == MARKET else FILL_LATER
    plan = np.empty((m, PLAN_COLS))  # the close-of-bar plan (see _step.plan_close_nb)
    plan_order = np.empty(m, dtype=np.int64)
    guards = np.empty((16, GUARD_COLS))
    n_guards = int(np.int64(0))

    for b in range(n):
        if month_id[b] != month:
            month = month_id[b]
            month_vol = 0.0
        fresh[:] = False
        # 1. orders placed at the previous close work through this bar (sells first: frees cash)
        for phase in range(2):
            for j in range(m):
                q = pend_qty[j]
                if q == 0.0 or (phase == 0) != (q < 0):
                    continue
                px, ref = pending_fill_nb(
                    order_type, q, pend_px[j], open_[b, j], high[b, j], low[b, j], slippage
                )
                pend_qty[j] = 0.0
                if np.isnan(px):
                    continue  # unfilled limit/stop: cancelled; retried at this close
                budget = 0.0
                if q > 0:
                    mark = cash
                    for k in range(m):
                        mark += pos[k] * open_[b, k]
                    budget = cash + (max_leverage - 1.0) * mark
                before = pos[j]
                q, fee, cash, new_pos, month_vol, n_trades = execute_nb(
                    state[j], before, cash, q, px, budget, cost, month_vol, fractional, b, j,
                    trades, n_trades,
                )  # fmt: skip
                pos[j] = new_pos
                acted[j] = pend_target[j]
                if q == 0.0:
                    continue
                _record_order_nb(orders, n_orders, b, j, q, px, fee, R_SIGNAL, ref, order_type)
                n_orders += 1
                if entered_nb(before, pos[j]):  # new position: trail from here
                    peak[j] = px
                fresh[j] = not (px == open_[b, j] or order_type == MARKET)
        # 2. protective exits through this bar's range
        if use_stops:
            for j in range(m):
                p = pos[j]
                if p == 0.0 or fresh[j]:
                    continue
                d = 1.0 if p > 0 else -1.0
                fill, reason, kind, ref = exit_fill_nb(
                    d, state[j, S_AVG], peak[j], stop_loss, take_profit, trailing_stop,
                    open_[b, j], high[b, j], low[b, j], slippage,
                )  # fmt: skip
                if np.isnan(fill):
                    peak[j] = trail_peak_nb(d, peak[j], high[b, j], low[b, j])
                    continue
                q, fee, cash, new_pos, month_vol, n_trades = execute_nb(
                    state[j], p, cash, -p, fill, 0.0, cost, month_vol, fractional, b, j,
                    trades, n_trades,
                )  # fmt: skip
                pos[j] = new_pos
                _record_order_nb(orders, n_orders, b, j, q, fill, fee, reason, ref, kind)
                n_orders += 1
                pend_qty[j] = 0.0
        # 3. at the close: mark to market and turn targets into orders
        value = cash
        for j in range(m):
            value += pos[j] * close[b, j]
        if day_id[b] != day:
            day = day_id[b]
            day_start = equity[b - 1]
        peak_equity = max(peak_equity, value)
        if not killed and kill_switch_nb(value, peak_equity, day_start, risk) != 0:
            killed = True
        # the kill switch and a wiped-out account (equity <= 0 at the close) both flatten:
        # the target is 0 whatever the signal says, even when it is NaN
        flatten = killed or value <= 0.0
        n_plan = 0
        if to_decide_nb(target, b, acted, flatten, settings):
            n_plan, cash, month_vol, n_trades = plan_close_nb(
                target, close, b, acted, pos, weights, value, cash, month_vol, flatten, fills,
                settings, ctx, state, trades, n_trades, plan, plan_order,
            )  # fmt: skip
            guards, n_guards = _record_guards_nb(guards, n_guards, plan, b)
        for i in range(n_plan):
            j = plan_order[i]
            q = plan[j, P_QTY]
            c = close[b, j]
            if fills == FILL_LATER:
                pend_qty[j] = q
                pend_target[j] = plan[j, P_TGT]
                pend_px[j] = order_price_nb(order_type, 1.0 if q > 0 else -1.0, c, order_offset)
                continue
            px = plan[j, P_PX]
            _record_order_nb(orders, n_orders, b, j, q, px, plan[j, P_FEE], R_SIGNAL, c, MARKET)
            n_orders += 1
            if entered_nb(plan[j, P_FROM], pos[j]):
                peak[j] = px
        v = cash
        for j in range(m):
            v += pos[j] * close[b, j]
            positions[b, j] = pos[j]
        equity[b] = v
        cash_out[b] = cash
    # open trades at the end, marked at the last close
    for j in range(m):
        if pos[j] != 0.0 and n > 0:
            open_trade_nb(state[j], pos[j], j, n - 1, close[n - 1, j], trades[n_trades])
            n_trades += 1
    return (
        equity,
        cash_out,
        positions,
        orders[:n_orders].copy(),
        trades[:n_trades].copy(),
        guards[:n_guards].copy(),
    )
