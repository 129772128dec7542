"""Sweep kernels (numba): many parameter sets x one symbol, metrics only, in parallel threads.

``simulate_metrics_nb`` is the engine's simulation specialised to one symbol at full weight,
keeping no per-bar arrays: it applies the same rules in the same order as
``toolkit.engine._kernels.simulate_nb`` through the same helpers (fills, commissions,
affordable size, trade booking) and folds equity into running metric sums. tests/sweep
checks it equals the engine row by row. Memory is O(bars) per thread for any grid size.
"""

from __future__ import annotations

import numpy as np
from numba import literally, njit, prange  # type: ignore[attr-defined]

from toolkit.engine._kernels import (
    LIMIT,
    MARKET,
    STOP,
    _buy_qty_nb,
)
from toolkit.engine.commissions import commission_nb
from toolkit.engine.fills import limit_fill_nb, slipped_nb, stop_fill_nb
from toolkit.strategies._dispatch import rule_nb

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
_EPS = 1e-9


@njit(cache=True)
def _track_fill_nb(
    pos: float,
    avg: float,
    direction: float,
    realized: float,
    comm: float,
    q: float,
    px: float,
    fee: float,
) -> tuple[float, float, float, float, float, int, int]:
    """Average-cost round-trip bookkeeping of one fill, on scalars.

    The arithmetic of the engine's ``_book_fill_nb`` (a flip closes the trade and opens a
    new one, commission split by quantity) without its order and trade records. Returns
    (pos, avg, direction, realized, comm, trades closed, winning trades closed).
    """
    closed = 0
    won = 0
    remaining = q
    remaining_fee = fee
    while abs(remaining) > 0.0:
        if pos == 0.0 or (pos > 0) == (remaining > 0):
            if pos == 0.0:
                direction = 1.0 if remaining > 0 else -1.0
                realized = 0.0
                comm = 0.0
                avg = 0.0
            comm += remaining_fee
            new_pos = pos + remaining
            avg = (abs(pos) * avg + abs(remaining) * px) / abs(new_pos)
            pos = new_pos
            remaining = 0.0
        else:
            closing = min(abs(remaining), abs(pos))
            part = remaining_fee * (closing / abs(remaining))
            comm += part
            realized += direction * (px - avg) * closing
            remaining_fee -= part
            step = closing if remaining > 0 else -closing
            remaining -= step
            new_pos = pos + step
            if abs(new_pos) <= _EPS * max(abs(pos), 1.0):
                new_pos = 0.0
            pos = new_pos
            if new_pos == 0.0:
                closed += 1
                if realized - comm > 0.0:
                    won += 1
                if abs(remaining) <= _EPS * max(abs(q), 1.0):
                    remaining = 0.0
    return pos, avg, direction, realized, comm, closed, won


# Event bookkeeping of one simulation (touched only when an order fills).
B_AVG, B_DIR, B_REALIZED, B_COMM, B_FEES, B_MONTH_VOL, B_TRADES, B_WINS = range(8)


@njit(cache=True)
def _fill_nb(
    book: np.ndarray, cost: np.ndarray, q: float, px: float, cash: float, pos: float
) -> tuple[float, float]:
    """Fill ``q`` at ``px``: pay price and commission, book the trade; return (cash, pos)."""
    fee = commission_nb(cost, q, px, book[B_MONTH_VOL])
    book[B_FEES] += fee
    book[B_MONTH_VOL] += abs(q)
    pos, book[B_AVG], book[B_DIR], book[B_REALIZED], book[B_COMM], closed, won = _track_fill_nb(
        pos, book[B_AVG], book[B_DIR], book[B_REALIZED], book[B_COMM], q, px, fee
    )
    book[B_TRADES] += closed
    book[B_WINS] += won
    return cash - (q * px + fee), pos


@njit(cache=True)
def simulate_metrics_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    target: np.ndarray,
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
    periods: float,
    use_stops: bool,
    tiered: bool,
    out: np.ndarray,
) -> None:
    """One symbol, one target path -> METRICS written into ``out`` (no per-bar storage).

    The rules and their order are those of the engine kernel for one symbol at full weight;
    only the bookkeeping differs (running sums instead of records).
    """
    n = close.shape[0]
    cash = init_cash
    pos = 0.0
    book = np.zeros(8)
    acted = np.nan
    pend_qty = 0.0
    pend_px = np.nan
    pend_target = 0.0
    peak = 0.0
    month = month_id[0] if n > 0 else 0
    prev = init_cash
    s1 = 0.0
    s2 = 0.0
    down = 0.0
    top = init_cash
    mdd = 0.0
    invested = 0
    last_raw = np.nan
    last_clamped = np.nan
    for b in range(n):
        if tiered and month_id[b] != month:
            month = month_id[b]
            book[B_MONTH_VOL] = 0.0
        fresh = False
        # 1. the order placed at the previous close works through this bar
        if pend_qty != 0.0:
            q = pend_qty
            side = 1.0 if q > 0 else -1.0
            if order_type == MARKET:
                px = slipped_nb(open_[b], side, slippage)
            elif order_type == LIMIT:
                px = limit_fill_nb(side, pend_px, open_[b], high[b], low[b])
            else:
                px = slipped_nb(
                    stop_fill_nb(side, pend_px, open_[b], high[b], low[b]), side, slippage
                )
            pend_qty = 0.0
            if not np.isnan(px):
                at_open = px == open_[b] or order_type == MARKET
                if q > 0:
                    mark = cash + pos * open_[b]
                    q = _buy_qty_nb(
                        q,
                        pos,
                        px,
                        cash + (max_leverage - 1.0) * mark,
                        cost,
                        book[B_MONTH_VOL],
                        fractional,
                    )
                if q != 0.0:
                    before = pos
                    cash, pos = _fill_nb(book, cost, q, px, cash, pos)
                    if before == 0.0 or before * pos < 0.0:
                        peak = px
                    fresh = not at_open
                acted = pend_target
        # 2. protective exits
        if use_stops and pos != 0.0 and not fresh:
            d = 1.0 if pos > 0 else -1.0
            stop_px = np.nan
            if not np.isnan(stop_loss):
                stop_px = book[B_AVG] * (1.0 - d * stop_loss)
            if not np.isnan(trailing_stop):
                trail = peak * (1.0 - d * trailing_stop)
                if np.isnan(stop_px) or d * trail > d * stop_px:
                    stop_px = trail
            fill = np.nan
            if not np.isnan(stop_px):
                trig = stop_fill_nb(-d, stop_px, open_[b], high[b], low[b])
                if not np.isnan(trig):
                    fill = slipped_nb(trig, -d, slippage)
            if not np.isnan(take_profit):
                tp_px = book[B_AVG] * (1.0 + d * take_profit)
                tp = limit_fill_nb(-d, tp_px, open_[b], high[b], low[b])
                if not np.isnan(tp) and (np.isnan(fill) or (tp == open_[b] and fill != open_[b])):
                    fill = tp
            if not np.isnan(fill):
                q = -pos
                cash, pos = _fill_nb(book, cost, q, fill, cash, pos)
                pend_qty = 0.0
            elif d > 0:
                peak = max(peak, high[b])
            else:
                peak = min(peak, low[b])
        # 3. at the close: the target becomes an order
        c = close[b]
        tgt = target[b]
        value = cash + pos * c
        # skip the decision only when the raw target is unchanged and was already acted on
        # (an order skipped by the band or an unfilled limit/stop is retried, as in the
        # engine); equity <= 0 forces the target to 0 (even a NaN one) and is always re-decided
        if value <= 0.0 or (
            not np.isnan(tgt)
            and (rebalance_always or tgt != last_raw or last_clamped != acted)
        ):
            last_raw = tgt
            tgt = min(max(tgt, -max_leverage), max_leverage)
            last_clamped = tgt
            if value <= 0.0:
                tgt = 0.0
            if rebalance_always or tgt != acted:
                want = tgt * value / c
                if not fractional:
                    want = np.trunc(want)
                delta = want - pos
                if abs(delta) <= _EPS * max(abs(pos), 1.0):
                    acted = tgt
                elif not (tgt != 0.0 and band > 0.0 and abs(delta) * c < band * value):
                    side = 1.0 if delta > 0 else -1.0
                    if next_open or order_type != MARKET:
                        pend_qty = delta
                        pend_target = tgt
                        if order_type == LIMIT:
                            pend_px = c * (1.0 - side * order_offset)
                        elif order_type == STOP:
                            pend_px = c * (1.0 + side * order_offset)
                    else:
                        px = slipped_nb(c, side, slippage)
                        q = delta
                        if q > 0:
                            q = _buy_qty_nb(
                                q,
                                pos,
                                px,
                                cash + (max_leverage - 1.0) * value,
                                cost,
                                book[B_MONTH_VOL],
                                fractional,
                            )
                        if q != 0.0:
                            before = pos
                            cash, pos = _fill_nb(book, cost, q, px, cash, pos)
                            if before == 0.0 or before * pos < 0.0:
                                peak = px
                        acted = tgt
        # mark to market and fold into the metric sums (unchanged equity: r = 0, skip)
        eq = cash + pos * c
        if pos != 0.0:
            invested += 1
        if eq != prev:
            r = eq / prev - 1.0
            s1 += r
            s2 += r * r
            if r < 0.0:
                down += r * r
            if eq > top:
                top = eq
            elif eq < top * (1.0 + mdd) * (1.0 + 1e-12):
                dd = eq / top - 1.0
                if dd < mdd:
                    mdd = dd
            prev = eq
    total = prev / init_cash - 1.0
    out[0] = total
    out[1] = (total + 1.0) ** (periods / n) - 1.0 if n > 0 and total > -1.0 else np.nan
    mean = s1 / n if n > 0 else np.nan
    var = (s2 - s1 * mean) / (n - 1) if n > 1 else np.nan
    out[2] = mean / np.sqrt(var) * np.sqrt(periods) if n > 1 and var > 0.0 else np.nan
    dsd = np.sqrt(down / n) if n > 0 else 0.0
    out[3] = mean / dsd * np.sqrt(periods) if dsd > 0.0 else np.nan
    out[4] = mdd
    n_trades = book[B_TRADES]
    out[5] = n_trades
    out[6] = book[B_WINS] / n_trades if n_trades > 0 else np.nan
    out[7] = invested / n if n > 0 else np.nan
    out[8] = book[B_FEES]
    out[9] = prev


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
    periods: float,
    chunks: int,
    use_stops: bool,
    tiered: bool,
    out: np.ndarray,
) -> None:
    """Evaluate every row of ``grid`` (K x P) on one symbol; METRICS into ``out`` (K x N).

    Rows are dealt to ``chunks`` (a few per numba thread), each with its own target buffer,
    run in parallel.
    ``aux``/``index`` come from the strategy's features function for this grid.
    """
    # The feature flags are compiled as constants (one cached specialisation per combination)
    # so the simulation loop carries only the code the settings need.
    literally(next_open)
    literally(order_type)
    literally(rebalance_always)
    literally(fractional)
    literally(use_stops)
    literally(tiered)
    k_total = grid.shape[0]
    n = close.shape[0]
    chunks = max(1, min(k_total, chunks))
    for ch in prange(chunks):
        target = np.empty(n)
        # strided, not contiguous: neighbouring rows cost alike (e.g. small windows trade
        # often), so striding balances the threads
        for k in range(ch, k_total, chunks):
            rule_nb(sid, open_, high, low, close, volume, aux, grid[k], index[k], target)
            simulate_metrics_nb(
                open_,
                high,
                low,
                close,
                target,
                cost,
                month_id,
                init_cash,
                next_open,
                order_type,
                order_offset,
                slippage,
                stop_loss,
                take_profit,
                trailing_stop,
                rebalance_always,
                band,
                max_leverage,
                fractional,
                periods,
                use_stops,
                tiered,
                out[k],
            )
