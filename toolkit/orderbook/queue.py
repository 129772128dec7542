"""Queue position of a resting limit order, and when it fills, from LOBSTER events.

One order of ours rests at ``price`` on ``side`` from the moment it enters the book (after
event ``k``). Two families of models say when the market's flow reaches it:

* **L3, exact FIFO** (:data:`L3`): the message file names the order behind every cancel
  and execution, so the quantity ahead of us is exact. Ahead are the orders resting at our
  price when we joined -- those submitted at or before event ``k``, including the orders
  already in the first book row, which have no submission message -- and they leave the
  queue only through their own cancels, deletions and executions. An execution of an order
  submitted after ``k`` at our price would have met us first: it is our fill. NASDAQ gives a
  displayed order priority over hidden ones at its price, so a hidden execution at our price
  is our fill once nothing displayed is ahead.
* **L2, probabilistic** (hftbacktest's queue models, https://hftbacktest.readthedocs.io/en/
  latest/order_fill.html and hftbacktest/src/backtest/models/queue.rs): only the level's
  size and the trades at our price are seen. ``front`` (the quantity ahead) starts at the
  level's size, falls by every trade at our price, and a fall of the level's size not
  explained by trades is a cancel, placed ahead of us with probability ``1 - p``:
  ``front' = min(front - (1 - p) chg + min(back - p chg, 0), level)``, where ``back =
  level_before - front`` and ``p = f(back) / (f(back) + f(front))`` for
  :data:`PROB_POWER` (``f(x) = x ** n``) and :data:`PROB_LOG` (``f(x) = log(1 + x)``),
  ``p = f(back) / f(back + front)`` for :data:`PROB_POWER2` and :data:`PROB_LOG2`, and
  ``p = 1 - (front / (front + back)) ** n`` for :data:`PROB_POWER3`. :data:`RISK_AVERSE`
  advances only on trades (``front' = min(front, level)`` on any size change). The order
  fills by ``-front`` once ``front`` is negative (whole shares).

Both families share the through-price rule: an execution on our side at a price worse than
ours (a seller reaching below our bid) or an opposite limit order submitted at or through
our price would have traded with us first; it fills us by its size. There is no market
impact: the flow we take from others still reaches them in the replay.

Invariants (tests/orderbook/test_queue.py): when the L2 models see only visible executions
as trades at our price (``hidden_prints=False``), the risk-averse front is never below the
exact one, so it never fills earlier, nor more, than L3; every probabilistic model's front
is never above the risk-averse one, so it fills no later. With hidden executions printed
as trades (a real L2 feed does) the risk-averse model can fill before L3.

The per-event rule is :func:`on_event_nb`; :func:`fill_times` (this module) and the
event-level backtest (:mod:`toolkit.orderbook.backtest`) both drive it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numba import njit
from numpy.typing import NDArray

from toolkit.data.lobster import LobsterDay
from toolkit.errors import ConfigError

# models
L3, RISK_AVERSE, PROB_POWER, PROB_LOG, PROB_POWER2, PROB_LOG2, PROB_POWER3 = range(7)
MODELS = {
    "l3": L3,
    "risk_averse": RISK_AVERSE,
    "power": PROB_POWER,
    "log": PROB_LOG,
    "power2": PROB_POWER2,
    "log2": PROB_LOG2,
    "power3": PROB_POWER3,
}

# LOBSTER event types (data/orderbook/LOBSTER_SampleFiles_ReadMe.txt)
SUBMIT, CANCEL, DELETE, EXECUTE, HIDDEN = 1, 2, 3, 4, 5
_DUMMY = 9999999999  # LOBSTER's price of an empty level (+ ask, - bid)

# queue state: one float64 row per resting order
(
    Q_MODEL,
    Q_PARAM,
    Q_SIDE,
    Q_PRICE,
    Q_QTY,
    Q_FILLED,
    Q_FRONT,
    Q_CUM,
    Q_LEVEL,
    Q_AFTER,
    Q_HIDDEN,
) = range(11)
QUEUE_COLS = 11


def submission_index(order_id: NDArray[Any], mtype: NDArray[Any]) -> NDArray[Any]:
    """For each message, the index of its order's submission message; -1 for an order from
    before the file and for hidden executions (id 0).

    An order that is cancelled or executed without a submission message was either in the
    book before the file starts or was born in a replace, which LOBSTER does not report
    (NASDAQ's Order Replace gives the order a new reference number; GOOG 2012-06-21 has
    ~3,000 such ids, most seen a few hundred events after their neighbours). Reference
    numbers are assigned in order flow (LOBSTER ReadMe), so such an order was born just
    after the last submission with a smaller id: that is its index here (-1 if none).
    """
    oid = np.asarray(order_id, dtype=np.int64)
    at = np.flatnonzero(np.asarray(mtype) == SUBMIT)
    ids, first = np.unique(oid[at], return_index=True)  # an id's first submission
    pos = np.minimum(np.searchsorted(ids, oid), max(len(ids) - 1, 0))
    known = (ids[pos] == oid) if len(ids) else np.zeros(len(oid), dtype=bool)
    out = np.full(len(oid), -1, dtype=np.int64)
    out[known] = at[first[pos[known]]]
    born = ~known & (oid != 0)
    if len(at):
        run_max = np.maximum.accumulate(oid[at])
        after = np.searchsorted(run_max, oid[born]) - 1
        out[born] = np.where(after >= 0, at[np.maximum(after, 0)], -1)
    return out


class EventArrays(NamedTuple):
    """A LOBSTER day's events as the kernels take them (:func:`fill_times_nb`,
    ``toolkit.orderbook._backtest_nb.simulate_book_nb``): contiguous (n,) ``time``
    float64, ``mtype`` int64, ``size`` float64, ``price`` float64, ``direction`` int64,
    ``sub`` int64 (:func:`submission_index`) and ``book`` (n, 4 x levels) float64."""

    time: NDArray[np.float64]
    mtype: NDArray[np.int64]
    size: NDArray[np.float64]
    price: NDArray[np.float64]
    direction: NDArray[np.int64]
    sub: NDArray[np.int64]
    book: NDArray[np.float64]


def event_arrays(lobster: LobsterDay) -> EventArrays:
    """Unpack ``lobster``'s message array and book into the kernels' plain arrays."""
    m = lobster.messages
    return EventArrays(
        np.ascontiguousarray(m["time"], dtype=np.float64),
        np.ascontiguousarray(m["type"], dtype=np.int64),
        np.ascontiguousarray(m["size"], dtype=np.float64),
        np.ascontiguousarray(m["price"], dtype=np.float64),
        np.ascontiguousarray(m["direction"], dtype=np.int64),
        submission_index(m["order_id"], m["type"]),
        np.ascontiguousarray(lobster.book, dtype=np.float64),
    )


@njit(cache=True)
def level_qty_nb(row: NDArray[Any], side: int, price: float) -> float:
    """Visible size at ``price`` on ``side`` (+1 bid, -1 ask) in a LOBSTER book row; 0 for
    a price inside the shown levels with nothing resting, -1 when it lies beyond them."""
    levels = row.shape[0] // 4
    off = 2 if side > 0 else 0
    worst = 0.0
    for lv in range(levels):
        p = row[4 * lv + off]
        if abs(p) == _DUMMY:
            return 0.0  # fewer levels than shown: the side is complete
        if p == price:
            return float(row[4 * lv + off + 1])
        worst = p
    beyond = price < worst if side > 0 else price > worst
    return -1.0 if beyond else 0.0


@njit(cache=True)
def place_nb(
    q: NDArray[Any],
    model: int,
    param: float,
    side: int,
    price: float,
    qty: float,
    after: int,
    row: NDArray[Any],
    hidden_prints: bool,
) -> None:
    """Our order of ``qty`` at ``price`` joins the queue after event ``after``, whose book
    row is ``row``: everything then resting at its price is ahead."""
    level = level_qty_nb(row, side, price)
    q[Q_MODEL] = model
    q[Q_PARAM] = param
    q[Q_SIDE] = side
    q[Q_PRICE] = price
    q[Q_QTY] = qty
    q[Q_FILLED] = 0.0
    q[Q_FRONT] = max(level, 0.0)
    q[Q_CUM] = 0.0
    q[Q_LEVEL] = level
    q[Q_AFTER] = after
    q[Q_HIDDEN] = 1.0 if hidden_prints else 0.0


@njit(cache=True)
def through_qty_nb(side: int, price: float, mtype: int, size: float, p: float, d: int) -> float:
    """Size of an event that trades through our price (shared by every model): an execution
    on our side at a worse price, or an opposite limit order at or through our price."""
    executed = EXECUTE <= mtype <= HIDDEN  # visible or hidden
    if executed and d == side and ((side > 0 and p < price) or (side < 0 and p > price)):
        return size
    if mtype == SUBMIT and d == -side and ((side > 0 and p <= price) or (side < 0 and p >= price)):
        return size
    return 0.0


@njit(cache=True)
def _prob_nb(model: int, n: float, front: float, back: float) -> float:
    """Probability that a cancel came from behind us (hftbacktest's Probability functions)."""
    f = max(front, 0.0)
    b = max(back, 0.0)
    if model == PROB_POWER:
        p = b**n / (b**n + f**n)
    elif model == PROB_LOG:
        p = math.log1p(b) / (math.log1p(b) + math.log1p(f))
    elif model == PROB_POWER2:
        p = b**n / (b + f) ** n
    elif model == PROB_LOG2:
        p = math.log1p(b) / math.log1p(b + f)
    else:  # PROB_POWER3
        p = 1.0 - (f / (f + b)) ** n
    if not math.isfinite(p):
        return 1.0  # hftbacktest: an infinite ratio counts as 1 (0/0 here: nothing to place)
    return float(min(max(p, 0.0), 1.0))


@njit(cache=True)
def _depth_nb(q: NDArray[Any], prev: float, new: float) -> None:
    """The level's size moved from ``prev`` to ``new`` (ProbQueueModel.depth /
    RiskAdverseQueueModel.depth in hftbacktest's queue.rs)."""
    model = int(q[Q_MODEL])
    front = q[Q_FRONT]
    if model == RISK_AVERSE:
        q[Q_FRONT] = min(front, new)
        return
    chg = prev - new - q[Q_CUM]  # trades already moved front: not cancels
    q[Q_CUM] = 0.0
    if chg < 0.0:
        q[Q_FRONT] = min(front, new)
        return
    back = prev - front
    p = _prob_nb(model, q[Q_PARAM], front, back)
    est = front - (1.0 - p) * chg + min(back - p * chg, 0.0)
    q[Q_FRONT] = min(est, new)


@njit(cache=True)
def on_event_nb(
    q: NDArray[Any],
    mtype: int,
    size: float,
    p: float,
    d: int,
    sub: int,
    row: NDArray[Any],
) -> float:
    """Apply one event (type, size, price, direction, its order's submission index ``sub``,
    and the book row after it) to the resting order ``q``; returns the shares it filled."""
    rest = q[Q_QTY] - q[Q_FILLED]
    if rest <= 0.0:
        return 0.0
    side = int(q[Q_SIDE])
    price = q[Q_PRICE]
    model = int(q[Q_MODEL])
    through = through_qty_nb(side, price, mtype, size, p, d)
    if through > 0.0:
        fill = min(through, rest)
        q[Q_FILLED] += fill
        return float(fill)
    here = d == side and p == price
    if model == L3:
        if not here:
            return 0.0
        ahead = sub <= q[Q_AFTER]  # submitted before we joined (or before the file began)
        if CANCEL <= mtype <= DELETE:  # partial or full
            if ahead:
                q[Q_FRONT] = max(q[Q_FRONT] - size, 0.0)
            return 0.0
        if mtype == EXECUTE and ahead:
            q[Q_FRONT] = max(q[Q_FRONT] - size, 0.0)
            return 0.0
        if mtype == EXECUTE or (mtype == HIDDEN and q[Q_FRONT] <= 0.0):
            fill = min(size, rest)
            q[Q_FILLED] += fill
            return float(fill)
        return 0.0
    if here and (mtype == EXECUTE or (mtype == HIDDEN and q[Q_HIDDEN] > 0.0)):
        q[Q_FRONT] -= size
        q[Q_CUM] += size
    level = level_qty_nb(row, side, price)
    if level >= 0.0 and level != q[Q_LEVEL]:
        if q[Q_LEVEL] >= 0.0:
            _depth_nb(q, q[Q_LEVEL], level)
        else:  # seen again after lying beyond the shown levels
            q[Q_FRONT] = min(q[Q_FRONT], level)
        q[Q_LEVEL] = level
    if q[Q_FRONT] < 0.0:
        total = min(math.floor(-q[Q_FRONT]), q[Q_QTY])
        if total > q[Q_FILLED]:
            fill = total - q[Q_FILLED]
            q[Q_FILLED] = total
            return float(fill)
    return 0.0


@njit(cache=True)
def fill_times_nb(
    events: EventArrays,
    after: NDArray[Any],
    side: NDArray[Any],
    order_px: NDArray[Any],
    qty: NDArray[Any],
    models: NDArray[Any],
    params: NDArray[Any],
    horizon: float,
    hidden_prints: bool,
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """For each placement j (after event ``after[j]``) and model m: the event index of the
    first fill, of the complete fill (-1: not within ``horizon`` seconds), and the shares
    filled by then."""
    time, mtype, size, price, direction, sub, book = events
    n_place, n_models = after.shape[0], models.shape[0]
    first = np.full((n_place, n_models), -1, dtype=np.int64)
    full = np.full((n_place, n_models), -1, dtype=np.int64)
    filled = np.zeros((n_place, n_models))
    q = np.zeros(QUEUE_COLS)
    for j in range(n_place):
        k = after[j]
        for m in range(n_models):
            place_nb(q, models[m], params[m], side[j], order_px[j], qty[j], k, book[k],
                     hidden_prints)  # fmt: skip
            end = time[k] + horizon
            for i in range(k + 1, time.shape[0]):
                if time[i] > end:
                    break
                got = on_event_nb(q, mtype[i], size[i], price[i], direction[i], sub[i], book[i])
                if got > 0.0 and first[j, m] < 0:
                    first[j, m] = i
                if q[Q_FILLED] >= q[Q_QTY]:
                    full[j, m] = i
                    break
            filled[j, m] = q[Q_FILLED]
    return first, full, filled


def fill_times(
    lobster: LobsterDay,
    placements: pd.DataFrame,
    models: Sequence[str | tuple[str, float]] = (
        "l3",
        "risk_averse",
        ("power", 2.0),
        "log",
        ("power2", 2.0),
        "log2",
        ("power3", 3.0),
    ),
    *,
    horizon: float = 300.0,
    hidden_prints: bool = False,
) -> pd.DataFrame:
    """When each placement fills under each queue model, on the same LOBSTER events.

    ``lobster`` is a day as :func:`toolkit.data.lobster.read_lobster` reads it;
    ``placements`` has columns ``after`` (the event after which the order joins), ``side``
    (+1 buy, -1 sell), ``price`` (LOBSTER units, USD x 10,000) and ``qty``. Returns one row
    per placement and model: seconds to the first and to the complete fill (NaN: not
    within ``horizon`` seconds) and the shares filled by the horizon.
    """
    specs = [(m, math.nan) if isinstance(m, str) else (m[0], float(m[1])) for m in models]
    for name, param in specs:
        if name not in MODELS:
            raise ConfigError(f"unknown queue model {name!r}; allowed: {', '.join(MODELS)}")
        if name.startswith("power") and not param > 0:
            raise ConfigError(
                f"queue model {name!r} needs a positive exponent: pass ({name!r}, n), "
                f"e.g. ({name!r}, 2.0)"
            )
    need = {"after", "side", "price", "qty"} - set(placements.columns)
    if need:
        raise ConfigError(f"placements lack the column(s) {', '.join(sorted(need))}")
    n = len(lobster.messages)
    after = placements["after"].to_numpy(np.int64)
    if after.size and (after.min() < 0 or after.max() >= n):
        raise ConfigError(f"placements' 'after' must index the {n} events")
    events = event_arrays(lobster)
    time = events.time
    first, full, filled = fill_times_nb(
        events,
        after,
        placements["side"].to_numpy(np.int64),
        placements["price"].to_numpy(np.float64),
        placements["qty"].to_numpy(np.float64),
        np.array([MODELS[name] for name, _ in specs], dtype=np.int64),
        np.array([p for _, p in specs], dtype=np.float64),
        float(horizon),
        bool(hidden_prints),
    )
    t0 = time[after]

    def seconds(idx: NDArray[Any]) -> NDArray[Any]:
        return np.where(idx >= 0, time[np.maximum(idx, 0)] - t0[:, None], np.nan)

    first_s, full_s = seconds(first), seconds(full)
    labels = [name if math.isnan(p) else f"{name}({p:g})" for name, p in specs]
    rows = [
        {
            "placement": j,
            "model": labels[c],
            "after": int(after[j]),
            "side": int(placements["side"].iloc[j]),
            "price": float(placements["price"].iloc[j]),
            "first_fill_s": first_s[j, c],
            "full_fill_s": full_s[j, c],
            "filled": filled[j, c],
        }
        for j in range(len(after))
        for c in range(len(specs))
    ]
    return pd.DataFrame(rows)


def touch_placements(lobster: LobsterDay, every: int, qty: float = 100.0) -> pd.DataFrame:
    """Placements joining the best bid and the best ask after every ``every``-th event (a
    side whose best level is empty is skipped): the comparison's standard sample."""
    book = lobster.book
    rows = []
    for k in range(0, book.shape[0] - 1, every):
        ask, bid = book[k, 0], book[k, 2]
        if bid != -_DUMMY:
            rows.append((k, 1, float(bid), qty))
        if ask != _DUMMY:
            rows.append((k, -1, float(ask), qty))
    return pd.DataFrame(rows, columns=["after", "side", "price", "qty"])
