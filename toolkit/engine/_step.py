"""The rules of one bar, written once (numba): every simulation driver calls these.

ARCHITECTURE invariant 7 ("one step, three drivers"); the pattern is vectorbt's
``execute_order_nb`` called by every simulation mode and zipline's ``Position.update`` as the
one place a fill changes a position (STYLE 11, 13). The engine kernel
(``toolkit.engine._kernels``) drives these over a whole history and records orders and
trades; the sweep kernels (``toolkit.sweep._kernels``) drive them over many parameter sets and
fold metrics; the live sleeve (``toolkit.live.sleeve``) runs the close-of-bar decision
(:func:`plan_close_nb`) on each bar it decides. :func:`avg_cost_nb` is the one average-cost
booking of positions: engine and sweep (through :func:`book_fill_nb`), live books, the session
summary and the gateway simulator's portfolio. A new rule of the bar goes here, and nowhere
else.

A bar, in order: (1) the order placed at the previous close works through the bar
(:func:`pending_fill_nb`, then :func:`execute_nb`); (2) protective exits
(:func:`exit_fill_nb`); (3) at the close the targets become orders (:func:`plan_close_nb`:
:func:`effective_target_nb`, :func:`decide_code_nb`, sells before buys; then
:func:`order_price_nb` and a pending order, or :func:`execute_nb`).

Typed state, as plain float64 rows (numba-friendly records):

* open-trade state of one symbol: a (STATE_COLS,) row, columns ``S_*``;
* trade records: (k, TRADE_COLS) rows, columns ``T_*``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.engine.commissions import commission_nb, max_buy_qty_nb
from toolkit.engine.fills import limit_fill_nb, slipped_nb, stop_fill_nb
from toolkit.engine.settings import KernelSettings, OrderType, Reason
from toolkit.risk.portfolio import (
    RiskContext,
    cap_book_nb,
    scaled_order_nb,
    split_order_nb,
    vol_scale_nb,
    window_estimates_nb,
)
from toolkit.risk.rules import (
    G_BUYING_POWER,
    G_WARMUP,
    MAX_GROSS,
    VOL_TARGET,
    cap_order_nb,
    desired_shares_nb,
)

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
# What the close-of-bar decision came to (see decide_code_nb, plan_close_nb).
D_WAIT, D_DONE, D_ORDER, D_NONE, D_SAME = 0, 1, 2, 3, 4
# Columns of a close-of-bar plan row, one per symbol (see plan_close_nb).
P_WHAT, P_TGT, P_WANT, P_QTY, P_CODE, P_FROM, P_PX, P_FEE = range(8)
PLAN_COLS = 8
# When the plan's orders fill (see plan_close_nb).
FILL_LATER, FILL_NOW, FILL_ESTIMATE = 0, 1, 2
EPS = 1e-9


# calls, not inlined: a fill chain (execute_nb) with the commission inlined at its four call
# sites took ~1.3 s more of the engine's first compile; the sweep, where the calls would cost
# as much as the work, compiles its own inlined copy of the chain (toolkit.sweep._fold)
@njit(cache=True)
def affordable_nb(
    qty: float, price: float, budget: float, cost: np.ndarray, month_volume: float, fractional: bool
) -> float:
    """Largest buy quantity <= ``qty`` whose value plus commission fits in ``budget``."""
    if budget <= 0.0:
        return 0.0
    if qty * price + commission_nb(cost, qty, price, month_volume) <= budget:
        return qty
    q = max_buy_qty_nb(cost, price, budget, month_volume)
    if not fractional:
        # the closed form is exact to a few ulps of the budget (budget - a fee loses
        # precision near the fee: ulp(budget) / price in q): a hair above it, floored, then
        # checked down -- the largest whole quantity that fits, as commission_nb counts it
        q = np.floor(q * (1.0 + 1e-12) + 1e-15 * budget / price)
        while q > 0 and q * price + commission_nb(cost, q, price, month_volume) > budget:
            # one share at a time; beyond 2^53 shares a step of one is lost to rounding (the
            # loop never ended), so the step grows with q there
            q -= max(1.0, np.floor(q * 2.3e-16))
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
def moved_nb(pos: float, qty: float) -> float:
    """``pos + qty``, with a remainder within rounding of zero (relative to ``pos``) made
    exactly 0: a position that is closed is flat."""
    new = pos + qty
    if abs(new) <= EPS * max(abs(pos), 1.0):
        return 0.0
    return new


@njit(cache=True, inline="always")
def avg_cost_nb(pos: float, avg: float, qty: float, price: float) -> tuple[float, float, float]:
    """The one average-cost booking: a fill of signed ``qty`` at ``price`` on a position
    ``pos`` held at average price ``avg``. Returns (new position, its average price, the P&L
    realised by the part that closed).

    Opening or adding moves the average price (value-weighted); reducing realises
    ``direction x (price - avg)`` per share closed and keeps the average; closing to zero
    leaves average 0; a flip through zero closes ``|pos|`` and opens the rest at ``price``.
    Commissions are not part of it (the engine books them per trade, the gateway adds them
    to IB's avgCost). Used by the engine and sweep (:func:`book_fill_nb`), the live sleeve,
    the session summary and the gateway's positions.
    """
    if qty == 0.0:
        return pos, avg, 0.0
    if pos == 0.0:  # a new position: its average is its price (not q x price / q, an ulp off)
        return qty, price, 0.0
    if (pos > 0) == (qty > 0):
        new = pos + qty
        return new, (abs(pos) * avg + abs(qty) * price) / abs(new), 0.0
    closing = min(abs(qty), abs(pos))
    realized = (1.0 if pos > 0 else -1.0) * (price - avg) * closing
    new = moved_nb(pos, qty)
    if new == 0.0:
        return 0.0, 0.0, realized
    if (new > 0) != (pos > 0):  # flipped: the rest opens at this price
        return new, price, realized
    return new, avg, realized


@njit(cache=True)
def book_units_nb(
    pos: float, avg: float, cash: float, qty: float, price: float, multiplier: float, fee: float
) -> tuple[float, float, float, float]:
    """A fill of signed ``qty`` units (contracts, or shares with ``multiplier`` 1) at
    ``price`` per underlying unit, booked by :func:`avg_cost_nb`: the trader pays
    ``qty x price x multiplier + fee``. Returns (position, average price, cash, realised P&L
    in USD before fees). The option driver (toolkit.options) books every option fill, hedge
    fill and expiry (toolkit.engine._expiry) through this."""
    new, new_avg, realized = avg_cost_nb(pos, avg, qty, price)
    return new, new_avg, cash - qty * price * multiplier - fee, realized * multiplier


@njit(cache=True, inline="always")
def _new_trade_nb(
    st: np.ndarray, bar: int, qty: float, price: float, comm: float, opening: float
) -> None:
    """Start the trade record in ``st``: ``opening`` units in the direction of ``qty`` at
    ``price``, commission ``comm``. Every column but S_AVG is written, element by element
    (a slice assignment, ``st[:] = 0``, took ~1.5 ms of the headline sweep's ~53 ms
    simulation)."""
    st[S_ENTRY_BAR] = bar
    st[S_DIR] = 1.0 if qty > 0 else -1.0
    st[S_QTY_IN] = opening
    st[S_VAL_IN] = opening * price
    st[S_QTY_OUT] = 0.0
    st[S_VAL_OUT] = 0.0
    st[S_COMM] = comm
    st[S_REALIZED] = 0.0


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
    pnl_only: bool = False,
) -> tuple[float, int]:
    """Book a fill of signed ``qty`` at ``price`` (commission ``comm``) into the open-trade
    state ``st`` of a symbol holding ``pos``: position and average price by
    :func:`avg_cost_nb`; around it the trade record (quantities and values in and out,
    realised P&L, commissions). A fill that closes the trade (to zero or through it) writes
    it to ``trades[n_trades]`` (at most one per fill) -- only its T_PNL with ``pnl_only``
    (the sweep counts trades and wins, nothing else); a flip's commission is split between
    the closing and the opening part by quantity. Returns (new pos, n_trades).

    The cases in the order a round trip meets them, each returning as soon as it is booked
    (an open from flat, an add, then a reduction, close or flip): the sweep books ~2 fills
    per change point, and the general form's tests took ~2.7 ms of its ~53 ms simulation.
    """
    if qty == 0.0:
        return pos, n_trades
    new, avg, realized = avg_cost_nb(pos, st[S_AVG], qty, price)
    st[S_AVG] = avg
    if pos == 0.0:  # a new trade from flat
        _new_trade_nb(st, bar, qty, price, comm, abs(qty))
        return new, n_trades
    if (pos > 0) == (qty > 0):  # adding to the trade
        st[S_QTY_IN] += abs(qty)
        st[S_VAL_IN] += abs(qty) * price
        st[S_COMM] += comm
        return new, n_trades
    closing = min(abs(qty), abs(pos))
    # the commission's share of the closing part: all of it on a plain close (no division)
    c_part = comm if closing == abs(qty) else comm * (closing / abs(qty))
    st[S_QTY_OUT] += closing
    st[S_VAL_OUT] += closing * price
    st[S_COMM] += c_part
    st[S_REALIZED] += realized
    if new != 0.0 and (new > 0) != (qty > 0):
        return new, n_trades  # reduced: the trade is still open
    if pnl_only:  # closed, to zero or through it
        trades[n_trades, T_PNL] = trade_pnl_nb(st, 0.0)
    else:
        exit_px = st[S_VAL_OUT] / st[S_QTY_OUT]
        trade_record_nb(st, sym, bar, exit_px, 0.0, trades[n_trades])
    if new != 0.0:  # flipped: the rest opens a new trade at this price
        _new_trade_nb(st, bar, qty, price, comm - c_part, abs(new))
    return new, n_trades + 1


@njit(cache=True, inline="always")
def trade_pnl_nb(st: np.ndarray, unrealized: float) -> float:
    """The P&L of the trade held in ``st``: realised plus ``unrealized``, less commissions."""
    return float(st[S_REALIZED] + unrealized - st[S_COMM])


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
    rec[T_PNL] = trade_pnl_nb(st, unrealized)
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
    pnl_only: bool = False,
) -> tuple[float, float, float, float, float, int]:
    """Fill an order of signed ``qty`` at ``price``: a buy is trimmed to what ``budget``
    affords (its short-covering part never is), the trader pays price and commission, and the
    fill is booked (a closed trade's record whole, or its P&L only: :func:`book_fill_nb`).
    Returns (filled qty (0 = nothing filled), commission, cash, pos, month volume,
    n_trades)."""
    q = qty
    fee = commission_nb(cost, q, price, month_volume)
    # a buy that covers no short and fits whole is not trimmed (buy_qty_nb would find the
    # same after computing this fee again: one commission a fill instead of two)
    if q > 0.0 and (pos < 0.0 or not q * price + fee <= budget):  # (NaN: trimmed)
        q = buy_qty_nb(q, pos, price, budget, cost, month_volume, fractional)
        if q <= 0.0:
            return 0.0, 0.0, cash, pos, month_volume, n_trades
        fee = commission_nb(cost, q, price, month_volume)
    cash -= q * price + fee
    pos, n_trades = book_fill_nb(st, pos, q, price, fee, bar, sym, trades, n_trades, pnl_only)
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
def decide_code_nb(
    tgt: float,
    weight: float,
    value: float,
    price: float,
    pos: float,
    band: float,
    gross_other: float,
    risk: np.ndarray,
    fractional: bool,
) -> tuple[int, float, float, int]:
    """Target -> order at the close: shares for ``tgt x weight`` of equity ``value``
    (rounded toward zero for whole shares), the gap to ``pos``, the rebalance band, then the
    risk rulebook (toolkit.risk.rules; reductions are never trimmed).

    Returns (what, desired shares, signed order shares, guard bits of the rules that trimmed
    it): (D_DONE, want, 0, bits) when there is nothing to do (at target, or every share
    blocked; the target counts as acted on), (D_WAIT, want, 0, 0) when the band holds the
    order back (re-decided next bar), or (D_ORDER, want, shares, bits).
    """
    want = desired_shares_nb(tgt, weight, value, price, fractional)
    delta = want - pos
    if abs(delta) <= EPS * max(abs(pos), 1.0):
        return D_DONE, want, 0.0, 0
    if tgt != 0.0 and band > 0.0 and abs(delta) * price < band * value:
        return D_WAIT, want, 0.0, 0
    delta, code = cap_order_nb(delta, pos, price, value, gross_other, risk, fractional)
    if delta == 0.0:
        return D_DONE, want, 0.0, code
    return D_ORDER, want, delta, code


@njit(cache=True, inline="always")
def settled_nb(tgt: float, acted: float, every_bar: bool) -> bool:
    """True when the effective target ``tgt`` needs no decision at this close: no
    instruction (NaN), or (on_change) the target already acted on."""
    return np.isnan(tgt) or (not every_bar and tgt == acted)


@njit(cache=True, inline="always")
def to_decide_nb(
    target: np.ndarray, b: int, acted: np.ndarray, flatten: bool, settings: KernelSettings
) -> bool:
    """True when some symbol's target at bar ``b`` (a row of the (bars, symbols) targets)
    needs a decision; when none does, :func:`plan_close_nb` would change nothing and a
    driver may skip it (most bars)."""
    for j in range(target.shape[1]):
        tgt = effective_target_nb(target[b, j], flatten, settings.max_leverage)
        if not settled_nb(tgt, acted[j], settings.rebalance_always):
            return True
    return False


@njit(cache=True, inline="always")
def _decision_nb(
    j: int,
    tgt: float,
    held: np.ndarray,
    close: np.ndarray,
    b: int,
    weights: np.ndarray,
    value: float,
    use_gross: bool,
    vol_target: bool,
    cov: np.ndarray,
    settings: KernelSettings,
) -> tuple[int, float, float, int]:
    """:func:`decide_code_nb` for symbol ``j`` of a book at bar ``b``: its target sized by
    the volatility target when one is set, the gross of the other positions for the gross
    limit."""
    risk = settings.risk
    gross_other = 0.0
    if use_gross:
        for k in range(held.shape[0]):
            if k != j:
                gross_other += abs(held[k]) * close[b, k]
    sized = tgt
    if vol_target and tgt != 0.0:
        sized = tgt * vol_scale_nb(risk, cov, j, settings.periods)
        sized = min(max(sized, -settings.max_leverage), settings.max_leverage)
    return decide_code_nb(
        sized, weights[j], value, close[b, j], held[j], settings.band, gross_other, risk,
        settings.fractional,
    )  # fmt: skip


# a call, not inlined into the engine kernel: inlined it saved ~50 ns a decided bar (every
# bar with rebalance = "every_bar"; drivers skip the others, see to_decide_nb) but cost
# ~0.6 s more of the kernel's first compile
@njit(cache=True)
def plan_close_nb(
    target: np.ndarray,
    close: np.ndarray,
    b: int,
    acted: np.ndarray,
    held: np.ndarray,
    weights: np.ndarray,
    value: float,
    cash: float,
    month_volume: float,
    flatten: bool,
    fills: int,
    settings: KernelSettings,
    ctx: RiskContext | None,
    state: np.ndarray,
    trades: np.ndarray,
    n_trades: int,
    plan: np.ndarray,
    order: np.ndarray,
) -> tuple[int, float, float, int]:
    """The close-of-bar decision for every symbol of a book, sells before buys: the engine
    kernel's step 3 and the live sleeve's plan, one copy.

    Row ``b`` of ``target`` and ``close`` ((bars, symbols) arrays: rows, not row views,
    which cost a reference count each) holds the strategy's targets and the decision
    prices; ``acted`` the targets last acted on (updated here), ``held`` the positions the
    orders are sized against, ``value`` the equity marked at the close,
    ``cash``/``month_volume`` the account's; ``flatten``: the kill switch fired or equity
    is <= 0 (every target is 0); ``settings`` the EngineSettings.kernel(risk) record and
    ``ctx`` what its portfolio rules estimate from (toolkit.risk.portfolio: the volatility
    target sizes each decision; the book after every order of this close must meet the
    portfolio limits, so the orders' opening parts are cut by one common fraction while
    reductions and covers pass; an order whose opening part waits for a full estimation
    window is D_WAIT, decided again next bar).
    ``fills`` says when the orders fill:

    * FILL_LATER (the engine's orders for the next bar): nothing fills here;
    * FILL_NOW (the engine's market orders at the close): each order fills at the slipped
      close through :func:`execute_nb` (a buy trimmed to the buying power, a cover never),
      booked into ``held``, ``state`` (open trades) and ``trades`` for bar ``b``, so a later
      decision sees earlier fills;
    * FILL_ESTIMATE (the live sleeve, whose orders fill later at the broker): the same
      fills estimated on ``state`` as scratch (each row written here as the open trade of
      ``held`` at ``close``) to trim buys to the buying power the engine would see;
      ``held`` does not move.

    Fills ``plan`` (n_symbols, PLAN_COLS): per symbol what (D_NONE: no target, D_SAME: the
    target already acted on, else as :func:`decide_code_nb`); from D_SAME on the target;
    for a decision the desired shares, order shares (filled shares where a fill is made or
    estimated) and the guard bits that trimmed it (risk.rules ``G_*``, G_BUYING_POWER
    included); for an order the position before it; for a fill its price and commission.
    Writes the symbols to order, in order, into ``order``. Returns (number of orders, cash,
    month volume, n_trades) after the fills.
    """
    every_bar, risk = settings.rebalance_always, settings.risk
    max_leverage, fractional = settings.max_leverage, settings.fractional
    cost, slippage = settings.cost, settings.slippage
    m = target.shape[1]
    for j in range(m):
        plan[j, P_WHAT] = D_NONE  # the other columns are written where they mean something
        if fills == FILL_ESTIMATE:  # scratch: the position as one open trade at the close
            state[j, :] = 0.0
            state[j, S_DIR] = 1.0 if held[j] > 0.0 else -1.0
            state[j, S_QTY_IN] = abs(held[j])
            state[j, S_VAL_IN] = abs(held[j]) * close[b, j]
            state[j, S_AVG] = close[b, j]
    use_gross = np.isfinite(risk[MAX_GROSS])
    # without portfolio rules ctx is None and numba prunes every branch on it: the book rules
    # are not compiled into such a step at all
    size = 1 if ctx is None else m
    cov = np.empty((size, size))
    beta = np.empty(size)
    scale = np.ones(size)  # the fraction of each order's opening part the rules allow
    scale_bits = np.zeros(size, dtype=np.int64)
    ready = False
    vol_target = False
    if ctx is not None:
        ready = window_estimates_nb(ctx, b, cov, beta)
        vol_target = ready and np.isfinite(risk[VOL_TARGET])
        # the portfolio rules judge the book after all of this close's orders: the fraction
        # of each opening part they allow (toolkit.risk.portfolio.cap_book_nb), from the
        # decisions
        cover = np.zeros(m)
        opening = np.zeros(m)
        for j in range(m):
            tgt = effective_target_nb(target[b, j], flatten, max_leverage)
            if settled_nb(tgt, acted[j], every_bar):
                continue
            what, _, delta, _ = _decision_nb(
                j, tgt, held, close, b, weights, value, use_gross, vol_target, cov, settings
            )
            if what == D_ORDER:
                cover[j], opening[j] = split_order_nb(held[j], delta)
        cap_book_nb(
            held, cover, opening, close[b], value, cov, beta, ready, ctx, b, risk, scale,
            scale_bits,
        )  # fmt: skip
    n = 0
    for phase in range(2):  # sells first: they free cash (and gross room when filled now)
        for j in range(m):
            p = held[j]
            c = close[b, j]
            planned_buy = plan[j, P_WHAT] == D_ORDER and plan[j, P_QTY] > 0.0
            if phase == 1 and fills != FILL_NOW:
                # nothing has moved since the sells were decided: the buys stand as decided
                if not planned_buy:
                    continue
                tgt, delta, code = plan[j, P_TGT], plan[j, P_QTY], int(plan[j, P_CODE])
            else:
                tgt = effective_target_nb(target[b, j], flatten, max_leverage)
                if settled_nb(tgt, acted[j], every_bar):
                    if phase == 0 and not np.isnan(tgt):
                        plan[j, P_WHAT] = D_SAME
                        plan[j, P_TGT] = tgt
                    continue
                what, want, delta, code = _decision_nb(
                    j, tgt, held, close, b, weights, value, use_gross, vol_target, cov, settings
                )
                if phase == 0 or planned_buy or (what == D_ORDER and delta > 0.0):
                    plan[j, P_WHAT] = what
                    plan[j, P_TGT] = tgt
                    plan[j, P_WANT] = want
                    plan[j, P_QTY] = delta
                    plan[j, P_CODE] = code
                if what == D_DONE:
                    acted[j] = tgt
                    continue
                if what != D_ORDER or (phase == 0) != (delta < 0.0):
                    continue
            if ctx is not None and scale[j] < 1.0:
                capped = scaled_order_nb(p, delta, scale[j], fractional)
                if capped != delta:
                    delta = capped
                    code |= scale_bits[j]
                    plan[j, P_QTY] = delta
                    plan[j, P_CODE] = code
                    if delta == 0.0:
                        if scale_bits[j] & G_WARMUP:
                            plan[j, P_WHAT] = D_WAIT  # no estimate yet: decided next bar
                        else:
                            plan[j, P_WHAT] = D_DONE
                            acted[j] = tgt
                        continue
            plan[j, P_FROM] = p
            if fills != FILL_LATER:
                px = slipped_nb(c, 1.0 if delta > 0.0 else -1.0, slippage)
                q, fee, cash, new, month_volume, n_trades = execute_nb(
                    state[j], p, cash, delta, px, cash + (max_leverage - 1.0) * value, cost,
                    month_volume, fractional, b, j, trades, n_trades,
                )  # fmt: skip
                plan[j, P_QTY] = q
                plan[j, P_PX] = px
                plan[j, P_FEE] = fee
                if q != delta:  # only a buy's opening part is ever trimmed here
                    plan[j, P_CODE] = code | G_BUYING_POWER
                if fills == FILL_NOW:
                    held[j] = new
                    acted[j] = tgt
                if q == 0.0:
                    plan[j, P_WHAT] = D_DONE
                    acted[j] = tgt
                    continue
            order[n] = j
            n += 1
    return n, cash, month_volume, n_trades


@njit(cache=True)
def order_price_nb(order_type: int, side: float, close: float, offset: float) -> float:
    """Price of a signal order placed at ``close``: a limit ``offset`` better, a stop that
    much worse (a breakout entry), NaN for a market order."""
    if order_type == LIMIT:
        return close * (1.0 - side * offset)
    if order_type == STOP:
        return close * (1.0 + side * offset)
    return np.nan
