"""The rules of one bar, written once (numba): every simulation driver calls these.

ARCHITECTURE invariant 7 ("one step, three drivers"); the pattern is vectorbt's
``execute_order_nb`` called by every simulation mode and zipline's ``Position.update`` as the
one place a fill changes a position (STYLE 11, 13). The engine kernel
(``toolkit.engine._kernels``) drives these over a whole history and records orders and
trades; the sweep kernels (``toolkit.sweep._kernels``) drive them over many parameter sets and
fold metrics. A new rule of the bar goes here, and nowhere else.

A bar, in order: (1) the order placed at the previous close works through the bar
(:func:`pending_fill_nb`, then :func:`execute_nb`); (2) protective exits
(:func:`exit_fill_nb`); (3) at the close the target becomes an order (:func:`effective_target_nb`,
:func:`decide_nb`, :func:`order_price_nb`, then :func:`execute_nb` or a pending order).

Typed state, as plain float64 rows (numba-friendly records):

* open-trade state of one symbol: a (STATE_COLS,) row, columns ``S_*``;
* trade records: (k, TRADE_COLS) rows, columns ``T_*``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.engine.commissions import I_FIXED, I_KIND, I_RATE, PROPORTIONAL, commission_nb
from toolkit.engine.fills import limit_fill_nb, slipped_nb, stop_fill_nb
from toolkit.engine.settings import OrderType, Reason
from toolkit.risk.rules import cap_order_nb, desired_shares_nb

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
# Order reasons and types: the values of the Reason and OrderType enums
# (toolkit.engine.settings) as plain ints, which numba code compares and stores in float
# records (an IntEnum member cannot be cast to float, and passing one to a step function
# would compile it once more)
R_SIGNAL, R_STOP_LOSS, R_TAKE_PROFIT, R_TRAILING = (int(r) for r in Reason)
MARKET, LIMIT, STOP = (int(t) for t in OrderType)
# Open-trade state columns of one symbol.
S_ENTRY_BAR, S_DIR, S_QTY_IN, S_VAL_IN, S_QTY_OUT, S_VAL_OUT, S_COMM, S_REALIZED, S_AVG = range(9)
STATE_COLS = 9
# What the close-of-bar decision came to (see decide_nb).
D_WAIT, D_DONE, D_ORDER = 0, 1, 2
EPS = 1e-9


@njit(cache=True, inline="always")
def affordable_nb(
    qty: float, price: float, budget: float, cost: np.ndarray, month_volume: float, fractional: bool
) -> float:
    """Largest buy quantity <= ``qty`` whose value plus commission fits in ``budget``."""
    if budget <= 0.0:
        return 0.0
    if qty * price + commission_nb(cost, qty, price, month_volume) <= budget:
        return qty
    if int(cost[I_KIND]) == PROPORTIONAL and cost[I_FIXED] == 0.0:
        q = budget / (price * (1.0 + cost[I_RATE]))  # proportional fee: closed form
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
def buy_qty_nb(
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
    return cover + affordable_nb(extra, price, budget, cost, month_volume, fractional)


@njit(cache=True, inline="always")
def book_fill_nb(
    st: np.ndarray,
    pos: float,
    qty: float,
    price: float,
    comm: float,
    bar: int,
    sym: int,
    trades: np.ndarray,
    n_trades: int,
) -> tuple[float, int]:
    """The one position update: book a fill of signed ``qty`` at ``price`` (commission
    ``comm``) into the open-trade state ``st`` of a symbol holding ``pos``.

    Average-cost accounting: a fill that opens or adds moves the average price; one that
    reduces realises ``direction x (price - avg)`` per share closed; a flip closes the trade
    and opens a new one with the rest, commission split by quantity. A trade that closes is
    written to ``trades[n_trades]`` (at most one per fill). Returns (new pos, n_trades).
    """
    remaining = qty
    remaining_comm = comm
    while abs(remaining) > 0.0:
        p = pos
        if p == 0.0 or (p > 0) == (remaining > 0):
            # open or add: the whole remainder goes in
            if p == 0.0:
                st[:] = 0.0
                st[S_ENTRY_BAR] = bar
                st[S_DIR] = 1.0 if remaining > 0 else -1.0
            st[S_QTY_IN] += abs(remaining)
            st[S_VAL_IN] += abs(remaining) * price
            st[S_COMM] += remaining_comm
            new_pos = p + remaining
            st[S_AVG] = (abs(p) * st[S_AVG] + abs(remaining) * price) / abs(new_pos)
            pos = new_pos
            remaining = 0.0
        else:
            # reduce, close, or flip: close up to |p| first
            closing = min(abs(remaining), abs(p))
            share = closing / abs(remaining)
            c_part = remaining_comm * share
            d = st[S_DIR]
            st[S_QTY_OUT] += closing
            st[S_VAL_OUT] += closing * price
            st[S_COMM] += c_part
            st[S_REALIZED] += d * (price - st[S_AVG]) * closing
            remaining_comm -= c_part
            step = closing if remaining > 0 else -closing
            remaining -= step
            new_pos = p + step
            if abs(new_pos) <= EPS * max(abs(p), 1.0):
                new_pos = 0.0
            pos = new_pos
            if new_pos == 0.0:
                trade_record_nb(st, sym, bar, st[S_VAL_OUT] / st[S_QTY_OUT], 0.0, trades[n_trades])
                n_trades += 1
                if abs(remaining) <= EPS * max(abs(qty), 1.0):
                    remaining = 0.0
    return pos, n_trades


@njit(cache=True)
def trade_record_nb(
    st: np.ndarray, sym: int, exit_bar: int, exit_px: float, unrealized: float, rec: np.ndarray
) -> None:
    """Write the trade held in ``st`` as a record; ``unrealized`` > 0 marks it still open."""
    rec[T_SYM] = sym
    rec[T_DIR] = st[S_DIR]
    rec[T_ENTRY_BAR] = st[S_ENTRY_BAR]
    rec[T_EXIT_BAR] = exit_bar
    rec[T_QTY] = st[S_QTY_IN]
    rec[T_ENTRY_PX] = st[S_VAL_IN] / st[S_QTY_IN]
    rec[T_EXIT_PX] = exit_px
    rec[T_PNL] = st[S_REALIZED] + unrealized - st[S_COMM]
    rec[T_RET] = rec[T_PNL] / st[S_VAL_IN]
    rec[T_COMM] = st[S_COMM]
    rec[T_OPEN] = 0.0


@njit(cache=True)
def open_trade_nb(
    st: np.ndarray, pos: float, sym: int, last_bar: int, last: float, rec: np.ndarray
) -> None:
    """Write the still-open trade of a symbol holding ``pos``, marked at ``last``."""
    unreal = st[S_DIR] * (last - st[S_AVG]) * abs(pos)
    trade_record_nb(st, sym, last_bar, last, unreal, rec)
    rec[T_OPEN] = 1.0


@njit(cache=True)
def execute_nb(
    st: np.ndarray,
    pos: float,
    cash: float,
    qty: float,
    price: float,
    budget: float,
    cost: np.ndarray,
    month_volume: float,
    fractional: bool,
    bar: int,
    sym: int,
    trades: np.ndarray,
    n_trades: int,
) -> tuple[float, float, float, float, float, int]:
    """Fill an order of signed ``qty`` at ``price``: a buy is trimmed to what ``budget``
    affords (its short-covering part never is), the trader pays price and commission, and the
    fill is booked. Returns (filled qty (0 = nothing filled), commission, cash, pos, month
    volume, n_trades)."""
    q = qty
    if q > 0.0:
        q = buy_qty_nb(q, pos, price, budget, cost, month_volume, fractional)
        if q <= 0.0:
            return 0.0, 0.0, cash, pos, month_volume, n_trades
    fee = commission_nb(cost, q, price, month_volume)
    cash -= q * price + fee
    pos, n_trades = book_fill_nb(st, pos, q, price, fee, bar, sym, trades, n_trades)
    return q, fee, cash, pos, month_volume + abs(q), n_trades


@njit(cache=True, inline="always")
def entered_nb(before: float, after: float) -> bool:
    """True when a fill opened a new position (from flat, or through zero): trailing stops
    measure from its price."""
    return before == 0.0 or before * after < 0.0


@njit(cache=True)
def pending_fill_nb(
    order_type: int,
    qty: float,
    order_px: float,
    open_: float,
    high: float,
    low: float,
    slippage: float,
) -> tuple[float, float]:
    """Fill price of an order placed at the previous close working through this bar (NaN =
    unfilled: a limit/stop order is then cancelled and re-decided at this close), and its
    reference price (the open for market orders, else the order's price)."""
    side = 1.0 if qty > 0 else -1.0
    if order_type == MARKET:
        return slipped_nb(open_, side, slippage), open_
    if order_type == LIMIT:
        return limit_fill_nb(side, order_px, open_, high, low), order_px
    trig = stop_fill_nb(side, order_px, open_, high, low)
    return slipped_nb(trig, side, slippage), order_px


@njit(cache=True)
def exit_fill_nb(
    d: float,
    avg: float,
    peak: float,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    open_: float,
    high: float,
    low: float,
    slippage: float,
) -> tuple[float, int, int, float]:
    """Protective exit of a position of direction ``d`` through this bar's range.

    Stop distances are fractions of the average entry price ``avg`` (trailing: of ``peak``,
    the best price since entry); NaN switches one off. Returns (fill price or NaN, reason,
    order type, reference price). A gap through the target at the open beats an intrabar
    stop; otherwise, when both are inside the range, the stop is assumed hit first.
    """
    stop_px = np.nan
    reason = R_STOP_LOSS
    if not np.isnan(stop_loss):
        stop_px = avg * (1.0 - d * stop_loss)
    if not np.isnan(trailing_stop):
        trail = peak * (1.0 - d * trailing_stop)
        if np.isnan(stop_px) or d * trail > d * stop_px:
            stop_px = trail
            reason = R_TRAILING
    fill = np.nan
    kind = STOP
    if not np.isnan(stop_px):
        trig = stop_fill_nb(-d, stop_px, open_, high, low)
        if not np.isnan(trig):
            fill = slipped_nb(trig, -d, slippage)
    if not np.isnan(take_profit):
        tp_px = avg * (1.0 + d * take_profit)
        tp = limit_fill_nb(-d, tp_px, open_, high, low)
        if not np.isnan(tp) and (np.isnan(fill) or (tp == open_ and fill != open_)):
            fill = tp
            reason = R_TAKE_PROFIT
            kind = LIMIT
            stop_px = tp_px
    return fill, reason, kind, stop_px


@njit(cache=True, inline="always")
def trail_peak_nb(d: float, peak: float, high: float, low: float) -> float:
    """Best price since entry after a bar the position survived."""
    return max(peak, high) if d > 0 else min(peak, low)


@njit(cache=True, inline="always")
def effective_target_nb(raw: float, flatten: bool, max_leverage: float) -> float:
    """The exposure acted on: 0 when the account must flatten (kill switch, equity <= 0 --
    even over a NaN signal), NaN (no instruction) passed through, else ``raw`` clipped to
    +/- ``max_leverage``."""
    if flatten:
        return 0.0
    if np.isnan(raw):
        return raw
    return min(max(raw, -max_leverage), max_leverage)


@njit(cache=True, inline="always")
def decide_nb(
    tgt: float,
    weight: float,
    value: float,
    price: float,
    pos: float,
    band: float,
    gross_other: float,
    risk: np.ndarray,
    fractional: bool,
) -> tuple[int, float]:
    """Target -> order at the close: shares for ``tgt x weight`` of equity ``value``
    (rounded toward zero for whole shares), the gap to ``pos``, the rebalance band, then the
    risk rulebook (toolkit.risk.rules; reductions are never trimmed).

    Returns (D_DONE, 0) when there is nothing to do (the target counts as acted on),
    (D_WAIT, 0) when the band holds the order back (re-decided next bar), or
    (D_ORDER, signed shares).
    """
    want = desired_shares_nb(tgt, weight, value, price, fractional)
    delta = want - pos
    if abs(delta) <= EPS * max(abs(pos), 1.0):
        return D_DONE, 0.0
    if tgt != 0.0 and band > 0.0 and abs(delta) * price < band * value:
        return D_WAIT, 0.0
    delta, _ = cap_order_nb(delta, pos, price, value, gross_other, risk, fractional)
    if delta == 0.0:
        return D_DONE, 0.0
    return D_ORDER, delta


@njit(cache=True)
def order_price_nb(order_type: int, side: float, close: float, offset: float) -> float:
    """Price of a signal order placed at ``close``: a limit ``offset`` better, a stop that
    much worse (a breakout entry), NaN for a market order."""
    if order_type == LIMIT:
        return close * (1.0 - side * offset)
    if order_type == STOP:
        return close * (1.0 + side * offset)
    return np.nan
