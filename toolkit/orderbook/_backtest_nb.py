"""Event-level market-making simulation kernel (numba): arrays in, arrays out.

Two clocks. The exchange replays LOBSTER's events in order; the strategy sees event ``i``
``feed_latency`` seconds after it happened, decides at once from the signal at ``i``, and
its decision reaches the exchange ``order_latency`` later. A decision arriving at ``ta``
acts after every event stamped at or before ``ta``. A decision names a quote per side
(the touch the strategy saw, or none); at the exchange a live order at that price is kept
(its queue place with it), any other is cancelled and the new one joins the back of the
queue (post-only: one that would cross the book it arrives in is refused). A trading halt
(LOBSTER type 7, :func:`toolkit.data.lobster.trading_status`) pulls both quotes; none is
placed until trading resumes.

Resting orders fill by the queue models of :mod:`toolkit.orderbook.queue`
(:func:`~toolkit.orderbook.queue.on_event_nb`), at their limit price, paying ``maker_fee``
per share (negative: a rebate). The inventory limit is hard: a fill never takes the
position beyond ``max_position`` shares either way (the rest of that order is cancelled).
After the last event the position is closed against the book (walking its levels) at
``taker_fee`` per share. Fills are booked by the engine's one position update
(:func:`toolkit.engine._step.book_fill_nb`), into its trade records.

Shapes: ``events`` (:class:`~toolkit.orderbook.queue.EventArrays`) arrays (n,), its ``book``
(n, 4 x levels) float64 (LOBSTER units: USD x 10,000), ``status`` (n,) int8 the trading
status after each event (1 trading), ``mark`` (n,) int64 the equity mark each event belongs
to. Outputs: per-event equity, cash and position (USD, shares); order records (k, 8) in the
engine's ``O_*`` layout plus the event index of each; trade records (k, TRADE_COLS).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from toolkit.engine._kernels import (
    LIMIT,
    MARKET,
    O_BAR,
    O_COMM,
    O_PRICE,
    O_QTY,
    O_REASON,
    O_REF,
    O_SYM,
    O_TYPE,
    ORDER_COLS,
    R_SIGNAL,
    TRADE_COLS,
)
from toolkit.engine._step import STATE_COLS, book_fill_nb
from toolkit.orderbook.queue import (
    Q_FILLED,
    Q_PRICE,
    Q_QTY,
    QUEUE_COLS,
    EventArrays,
    on_event_nb,
    place_nb,
)

PRICE_SCALE = 10_000.0
_DUMMY = 9999999999.0  # LOBSTER's price of an empty level (+ ask, - bid)


@njit(cache=True)
def _grow(a: NDArray[Any], n: int) -> NDArray[Any]:
    """``a`` with room for row ``n`` (doubled when full)."""
    if n < a.shape[0]:
        return a
    out = np.zeros((2 * a.shape[0], a.shape[1]))
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _mid(row: NDArray[Any], last: float) -> float:
    """Mid price in USD of a book row (``last`` when a side is empty)."""
    if abs(row[0]) == _DUMMY or abs(row[2]) == _DUMMY:
        return last
    return float((row[0] + row[2]) / 2.0 / PRICE_SCALE)


@njit(cache=True)
def wants_nb(
    side: int,
    row: NDArray[Any],
    signal: float,
    pos: float,
    quote_size: float,
    max_position: float,
    threshold: float,
) -> tuple[float, float]:
    """The strategy's rule for one side: (price, shares) to quote, shares 0 for none.

    Join the touch on both sides; pull the side the signal says is about to be run over
    (bid when ``signal < -threshold``, ask when ``signal > threshold``), and quote no more
    than keeps the position within ``max_position``."""
    px = row[2] if side > 0 else row[0]
    if abs(px) == _DUMMY or signal != signal:
        return px, 0.0
    if side > 0:
        if signal < -threshold:
            return px, 0.0
        return px, max(min(quote_size, max_position - pos), 0.0)
    if signal > threshold:
        return px, 0.0
    return px, max(min(quote_size, max_position + pos), 0.0)


@njit(cache=True)
def simulate_book_nb(
    events: EventArrays,
    signal: NDArray[Any],
    status: NDArray[Any],
    mark: NDArray[Any],
    feed_latency: float,
    order_latency: float,
    quote_size: float,
    max_position: float,
    threshold: float,
    maker_fee: float,
    taker_fee: float,
    model: int,
    param: float,
    hidden_prints: bool,
    init_cash: float,
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Run the market maker over the events; returns (equity, cash, position) per event,
    order records with their event index in a 9th column, and trade records."""
    time, mtype, size, price, direction, sub, book = events
    n = time.shape[0]
    latency = feed_latency + order_latency
    equity = np.empty(n)
    cash_ev = np.empty(n)
    pos_ev = np.empty(n)
    orders: NDArray[Any] = np.zeros((64, ORDER_COLS + 1))
    trades: NDArray[Any] = np.zeros((64, TRADE_COLS))
    n_orders = 0
    n_trades = 0
    st = np.zeros(STATE_COLS)
    quotes = np.zeros((2, QUEUE_COLS))  # row 0 our bid, row 1 our ask
    live = np.zeros(2, dtype=np.bool_)
    cash = init_cash
    pos = 0.0
    mid = _mid(book[0], np.nan)
    nd = 0  # the next decision to reach the exchange
    for j in range(n):
        # decisions that arrived before event j act on the book as event j-1 left it
        while j > 0 and nd < j and time[nd] + latency < time[j]:
            seen = book[nd]
            if status[nd] != 1 or status[j - 1] != 1:  # decided or arriving in a halt
                live[:] = False
                nd += 1
                continue
            for s in range(2):
                side = 1 if s == 0 else -1
                px, want = wants_nb(
                    side, seen, signal[nd], pos_ev[nd], quote_size, max_position, threshold
                )
                q = quotes[s]
                if live[s] and want > 0.0 and q[Q_PRICE] == px:
                    continue  # keep the order and its place in the queue
                live[s] = False
                if want <= 0.0:
                    continue
                now = book[j - 1]
                crosses = (side > 0 and now[0] != _DUMMY and px >= now[0]) or (
                    side < 0 and now[2] != -_DUMMY and px <= now[2]
                )
                if not crosses:
                    place_nb(q, model, param, side, px, want, j - 1, now, hidden_prints)
                    live[s] = True
            nd += 1
        if status[j] != 1:
            live[:] = False  # a halt: quotes are pulled until trading resumes
        for s in range(2):
            if not live[s]:
                continue
            q = quotes[s]
            got = on_event_nb(q, mtype[j], size[j], price[j], direction[j], sub[j], book[j])
            if got <= 0.0:
                continue
            sign = 1.0 if s == 0 else -1.0
            room = max_position - sign * pos
            if got >= room:
                got = room
                live[s] = False  # the limit is reached: the rest is cancelled
            if got <= 0.0:
                continue
            if q[Q_FILLED] >= q[Q_QTY]:
                live[s] = False
            qty = sign * got
            px = q[Q_PRICE] / PRICE_SCALE
            fee = maker_fee * got
            cash -= qty * px + fee
            trades = _grow(trades, n_trades)
            pos, n_trades = book_fill_nb(st, pos, qty, px, fee, mark[j], 0, trades, n_trades)
            orders = _grow(orders, n_orders)
            rec = orders[n_orders]
            rec[O_BAR], rec[O_SYM], rec[O_QTY], rec[O_PRICE] = mark[j], 0.0, qty, px
            rec[O_COMM], rec[O_REASON], rec[O_REF], rec[O_TYPE] = fee, R_SIGNAL, px, LIMIT
            rec[ORDER_COLS] = j
            n_orders += 1
        mid = _mid(book[j], mid)
        equity[j] = cash + pos * mid
        cash_ev[j] = cash
        pos_ev[j] = pos
    if pos != 0.0:  # close out against the last book, walking its levels
        row = book[n - 1]
        need = abs(pos)
        sign = -1.0 if pos > 0 else 1.0
        off = 2 if pos > 0 else 0  # sell into the bids, buy from the asks
        value = 0.0
        got = 0.0
        last = mid * PRICE_SCALE
        for lv in range(row.shape[0] // 4):
            p = row[4 * lv + off]
            if abs(p) == _DUMMY or got >= need:
                break
            take = min(row[4 * lv + off + 1], need - got)
            value += take * p / PRICE_SCALE
            got += take
            last = p
        if got < need:  # the shown book is thinner than the position: the rest at its end
            value += (need - got) * last / PRICE_SCALE
        px = value / need
        qty = sign * need
        fee = taker_fee * need
        cash -= qty * px + fee
        trades = _grow(trades, n_trades)
        pos, n_trades = book_fill_nb(st, pos, qty, px, fee, mark[n - 1], 0, trades, n_trades)
        orders = _grow(orders, n_orders)
        rec = orders[n_orders]
        rec[O_BAR], rec[O_SYM], rec[O_QTY], rec[O_PRICE] = mark[n - 1], 0.0, qty, px
        rec[O_COMM], rec[O_REASON], rec[O_REF], rec[O_TYPE] = fee, R_SIGNAL, mid, MARKET
        rec[ORDER_COLS] = n - 1
        n_orders += 1
        equity[n - 1] = cash
        cash_ev[n - 1] = cash
        pos_ev[n - 1] = 0.0
    return equity, cash_ev, pos_ev, orders[:n_orders], trades[:n_trades]
