"""Portfolio simulation kernel (numba). Arrays in, arrays out; see engine/__init__ for the rules.

Shapes: prices and targets are (n_bars, n_symbols) float64, C-contiguous; ``weights`` is
(n_symbols,); ``cost`` is a Commission.vector(); ``month_id`` is (n_bars,) int64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.engine.commissions import commission_nb
from toolkit.engine.fills import limit_fill_nb, slipped_nb, stop_fill_nb
from toolkit.risk.rules import MAX_GROSS, cap_order_nb, desired_shares_nb, kill_switch_nb

# Order record columns.
O_BAR, O_SYM, O_QTY, O_PRICE, O_COMM, O_REASON, O_REF, O_TYPE = range(8)
ORDER_COLS = 8
# Trade record columns.
(
    T_SYM,
    T_DIR,
    T_ENTRY_BAR,
    T_EXIT_BAR,
    T_QTY,
    T_ENTRY_PX,
    T_EXIT_PX,
    T_PNL,
    T_RET,
    T_COMM,
    T_OPEN,
) = range(11)
TRADE_COLS = 11
# Order reasons and types.
R_SIGNAL, R_STOP_LOSS, R_TAKE_PROFIT, R_TRAILING = 0, 1, 2, 3
MARKET, LIMIT, STOP = 0, 1, 2
# Per-symbol open-trade state columns.
S_ENTRY_BAR, S_DIR, S_QTY_IN, S_VAL_IN, S_QTY_OUT, S_VAL_OUT, S_COMM, S_REALIZED, S_AVG = range(9)
_EPS = 1e-9


@njit(cache=True, inline="always")
def _affordable_nb(
    qty: float, price: float, budget: float, cost: np.ndarray, month_volume: float, fractional: bool
) -> float:
    """Largest buy quantity <= ``qty`` whose value plus commission fits in ``budget``."""
    if budget <= 0.0:
        return 0.0
    if qty * price + commission_nb(cost, qty, price, month_volume) <= budget:
        return qty
    if int(cost[0]) == 1 and cost[10] == 0.0:
        q = budget / (price * (1.0 + cost[1]))  # proportional fee: closed form
    else:
        q = budget / price
        for _ in range(4):  # fixed point: q = (budget - fee(q)) / price
            q = max((budget - commission_nb(cost, q, price, month_volume)) / price, 0.0)
    if not fractional:
        q = np.floor(q)
        while q > 0 and q * price + commission_nb(cost, q, price, month_volume) > budget:
            q -= 1.0
    return float(min(q, qty))


@njit(cache=True, inline="always")
def _buy_qty_nb(
    qty: float,
    pos: float,
    price: float,
    budget: float,
    cost: np.ndarray,
    month_volume: float,
    fractional: bool,
) -> float:
    """Quantity of a buy of ``qty`` that fills: the part covering a short always fills (an
    order that reduces exposure is never trimmed by cash); only the part that opens or adds
    to a long must fit in ``budget`` after the cover is paid for."""
    cover = min(qty, -pos) if pos < 0.0 else 0.0
    extra = qty - cover
    if extra <= 0.0:
        return qty
    if cover > 0.0:
        budget -= cover * price + commission_nb(cost, cover, price, month_volume)
    return cover + _affordable_nb(extra, price, budget, cost, month_volume, fractional)


@njit(cache=True)
def _book_fill_nb(
    j: int,
    qty: float,
    price: float,
    comm: float,
    bar: int,
    reason: int,
    ref: float,
    otype: int,
    pos: np.ndarray,
    state: np.ndarray,
    orders: np.ndarray,
    n_orders: int,
    trades: np.ndarray,
    n_trades: int,
) -> int:
    """Record an order and update position and open-trade bookkeeping; return n_trades."""
    orders[n_orders, O_BAR] = bar
    orders[n_orders, O_SYM] = j
    orders[n_orders, O_QTY] = qty
    orders[n_orders, O_PRICE] = price
    orders[n_orders, O_COMM] = comm
    orders[n_orders, O_REASON] = reason
    orders[n_orders, O_REF] = ref
    orders[n_orders, O_TYPE] = otype
    remaining = qty
    remaining_comm = comm
    while abs(remaining) > 0.0:
        p = pos[j]
        if p == 0.0 or (p > 0) == (remaining > 0):
            # open or add: the whole remainder goes in
            if p == 0.0:
                state[j, :] = 0.0
                state[j, S_ENTRY_BAR] = bar
                state[j, S_DIR] = 1.0 if remaining > 0 else -1.0
            state[j, S_QTY_IN] += abs(remaining)
            state[j, S_VAL_IN] += abs(remaining) * price
            state[j, S_COMM] += remaining_comm
            new_pos = p + remaining
            state[j, S_AVG] = (abs(p) * state[j, S_AVG] + abs(remaining) * price) / abs(new_pos)
            pos[j] = new_pos
            remaining = 0.0
        else:
            # reduce, close, or flip: close up to |p| first
            closing = min(abs(remaining), abs(p))
            share = closing / abs(remaining)
            c_part = remaining_comm * share
            d = state[j, S_DIR]
            state[j, S_QTY_OUT] += closing
            state[j, S_VAL_OUT] += closing * price
            state[j, S_COMM] += c_part
            state[j, S_REALIZED] += d * (price - state[j, S_AVG]) * closing
            remaining_comm -= c_part
            step = closing if remaining > 0 else -closing
            remaining -= step
            new_pos = p + step
            if abs(new_pos) <= _EPS * max(abs(p), 1.0):
                new_pos = 0.0
            pos[j] = new_pos
            if new_pos == 0.0:
                t = n_trades
                trades[t, T_SYM] = j
                trades[t, T_DIR] = d
                trades[t, T_ENTRY_BAR] = state[j, S_ENTRY_BAR]
                trades[t, T_EXIT_BAR] = bar
                trades[t, T_QTY] = state[j, S_QTY_IN]
                trades[t, T_ENTRY_PX] = state[j, S_VAL_IN] / state[j, S_QTY_IN]
                trades[t, T_EXIT_PX] = state[j, S_VAL_OUT] / state[j, S_QTY_OUT]
                trades[t, T_PNL] = state[j, S_REALIZED] - state[j, S_COMM]
                trades[t, T_RET] = trades[t, T_PNL] / state[j, S_VAL_IN]
                trades[t, T_COMM] = state[j, S_COMM]
                trades[t, T_OPEN] = 0.0
                n_trades += 1
                if abs(remaining) <= _EPS * max(abs(qty), 1.0):
                    remaining = 0.0
    return n_trades


@njit(cache=True)
def simulate_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    cost: np.ndarray,
    month_id: np.ndarray,
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
    day_id: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one portfolio; return (equity, cash, positions, orders, trades).

    ``equity``/``cash`` are (n_bars,) marked at each close; ``positions`` (n_bars, n_symbols)
    in shares; ``orders`` (k, ORDER_COLS) and ``trades`` (t, TRADE_COLS) records. Stop
    distances are fractions of the entry price (NaN = off). Targets are clipped to
    [-max_leverage, max_leverage] and scaled by ``weights``. ``risk`` is a RiskLimits
    vector (toolkit.risk.rules): orders are trimmed to its limits at the close, and when the
    daily-loss or drawdown switch fires (``day_id`` numbers the trading days) every position
    is closed and no new one is opened for the rest of the run.
    """
    n, m = close.shape
    equity = np.empty(n)
    cash_out = np.empty(n)
    positions = np.empty((n, m))
    cap = n * m * 2 + 4
    orders = np.empty((cap, ORDER_COLS))
    trades = np.empty((cap, TRADE_COLS))
    n_orders = 0
    n_trades = 0
    pos = np.zeros(m)
    state = np.zeros((m, 9))
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
    use_gross = np.isfinite(risk[MAX_GROSS])

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
                side = 1.0 if q > 0 else -1.0
                if order_type == MARKET:
                    px = slipped_nb(open_[b, j], side, slippage)
                    ref = open_[b, j]
                elif order_type == LIMIT:
                    px = limit_fill_nb(side, pend_px[j], open_[b, j], high[b, j], low[b, j])
                    ref = pend_px[j]
                else:
                    trig = stop_fill_nb(side, pend_px[j], open_[b, j], high[b, j], low[b, j])
                    px = slipped_nb(trig, side, slippage)
                    ref = pend_px[j]
                pend_qty[j] = 0.0
                if np.isnan(px):
                    continue  # unfilled limit/stop: cancelled; retried at this close
                at_open = px == open_[b, j] or order_type == MARKET
                if q > 0:
                    mark = cash
                    for k in range(m):
                        mark += pos[k] * open_[b, k]
                    q = _buy_qty_nb(
                        q,
                        pos[j],
                        px,
                        cash + (max_leverage - 1.0) * mark,
                        cost,
                        month_vol,
                        fractional,
                    )
                    if q <= 0.0:
                        acted[j] = pend_target[j]
                        continue
                fee = commission_nb(cost, q, px, month_vol)
                before = pos[j]
                cash -= q * px + fee
                month_vol += abs(q)
                n_trades = _book_fill_nb(
                    j,
                    q,
                    px,
                    fee,
                    b,
                    R_SIGNAL,
                    ref,
                    order_type,
                    pos,
                    state,
                    orders,
                    n_orders,
                    trades,
                    n_trades,
                )
                n_orders += 1
                acted[j] = pend_target[j]
                if before == 0.0 or before * pos[j] < 0.0:  # new position: trail from here
                    peak[j] = px
                fresh[j] = not at_open
        # 2. protective exits through this bar's range
        if use_stops:
            for j in range(m):
                p = pos[j]
                if p == 0.0 or fresh[j]:
                    continue
                d = 1.0 if p > 0 else -1.0
                avg = state[j, S_AVG]
                stop_px = np.nan
                reason = R_STOP_LOSS
                if not np.isnan(stop_loss):
                    stop_px = avg * (1.0 - d * stop_loss)
                if not np.isnan(trailing_stop):
                    trail = peak[j] * (1.0 - d * trailing_stop)
                    if np.isnan(stop_px) or d * trail > d * stop_px:
                        stop_px = trail
                        reason = R_TRAILING
                fill = np.nan
                kind = STOP
                if not np.isnan(stop_px):
                    trig = stop_fill_nb(-d, stop_px, open_[b, j], high[b, j], low[b, j])
                    if not np.isnan(trig):
                        fill = slipped_nb(trig, -d, slippage)
                if not np.isnan(take_profit):
                    tp_px = avg * (1.0 + d * take_profit)
                    tp = limit_fill_nb(-d, tp_px, open_[b, j], high[b, j], low[b, j])
                    # a gap through the target at the open beats an intrabar stop; otherwise
                    # when both are inside the range the stop is assumed hit first
                    if not np.isnan(tp) and (
                        np.isnan(fill) or (tp == open_[b, j] and fill != open_[b, j])
                    ):
                        fill = tp
                        reason = R_TAKE_PROFIT
                        kind = LIMIT
                        stop_px = tp_px
                if not np.isnan(fill):
                    q = -p
                    fee = commission_nb(cost, q, fill, month_vol)
                    cash -= q * fill + fee
                    month_vol += abs(q)
                    n_trades = _book_fill_nb(
                        j,
                        q,
                        fill,
                        fee,
                        b,
                        reason,
                        stop_px,
                        kind,
                        pos,
                        state,
                        orders,
                        n_orders,
                        trades,
                        n_trades,
                    )
                    n_orders += 1
                    pend_qty[j] = 0.0
                else:
                    peak[j] = max(peak[j], high[b, j]) if d > 0 else min(peak[j], low[b, j])
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
        for phase in range(2):
            for j in range(m):
                # the kill switch and a wiped-out account (equity <= 0 at the close) both
                # flatten: the target is 0 whatever the signal says, even when it is NaN
                tgt = 0.0 if killed or value <= 0.0 else target[b, j]
                if np.isnan(tgt):
                    continue
                tgt = min(max(tgt, -max_leverage), max_leverage)
                if not rebalance_always and tgt == acted[j]:
                    continue
                c = close[b, j]
                want = desired_shares_nb(tgt, weights[j], value, c, fractional)
                delta = want - pos[j]
                if abs(delta) <= _EPS * max(abs(pos[j]), 1.0):
                    acted[j] = tgt
                    continue
                if tgt != 0.0 and band > 0.0 and abs(delta) * c < band * value:
                    continue
                gross_other = 0.0
                if use_gross:
                    for k in range(m):
                        if k != j:
                            gross_other += abs(pos[k]) * close[b, k]
                delta, _ = cap_order_nb(delta, pos[j], c, value, gross_other, risk, fractional)
                if delta == 0.0:
                    acted[j] = tgt
                    continue
                if (phase == 0) != (delta < 0):
                    continue
                side = 1.0 if delta > 0 else -1.0
                if next_open or order_type != MARKET:
                    pend_qty[j] = delta
                    pend_target[j] = tgt
                    if order_type == LIMIT:
                        pend_px[j] = c * (1.0 - side * order_offset)
                    elif order_type == STOP:
                        pend_px[j] = c * (1.0 + side * order_offset)
                    continue
                px = slipped_nb(c, side, slippage)
                q = delta
                if q > 0:
                    q = _buy_qty_nb(
                        q,
                        pos[j],
                        px,
                        cash + (max_leverage - 1.0) * value,
                        cost,
                        month_vol,
                        fractional,
                    )
                    if q <= 0.0:
                        acted[j] = tgt
                        continue
                fee = commission_nb(cost, q, px, month_vol)
                before = pos[j]
                cash -= q * px + fee
                month_vol += abs(q)
                n_trades = _book_fill_nb(
                    j,
                    q,
                    px,
                    fee,
                    b,
                    R_SIGNAL,
                    c,
                    MARKET,
                    pos,
                    state,
                    orders,
                    n_orders,
                    trades,
                    n_trades,
                )
                n_orders += 1
                acted[j] = tgt
                if before == 0.0 or before * pos[j] < 0.0:
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
            t = n_trades
            last = close[n - 1, j]
            d = state[j, S_DIR]
            unreal = d * (last - state[j, S_AVG]) * abs(pos[j])
            trades[t, T_SYM] = j
            trades[t, T_DIR] = d
            trades[t, T_ENTRY_BAR] = state[j, S_ENTRY_BAR]
            trades[t, T_EXIT_BAR] = n - 1
            trades[t, T_QTY] = state[j, S_QTY_IN]
            trades[t, T_ENTRY_PX] = state[j, S_VAL_IN] / state[j, S_QTY_IN]
            trades[t, T_EXIT_PX] = last
            trades[t, T_PNL] = state[j, S_REALIZED] + unreal - state[j, S_COMM]
            trades[t, T_RET] = trades[t, T_PNL] / state[j, S_VAL_IN]
            trades[t, T_COMM] = state[j, S_COMM]
            trades[t, T_OPEN] = 1.0
            n_trades += 1
    return equity, cash_out, positions, orders[:n_orders].copy(), trades[:n_trades].copy()
