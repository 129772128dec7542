"""SMA crossover: long while the fast average is above the slow one (short below, if allowed).

``cross = 1`` switches from this state rule to crossing events with vectorbt's
``crossed_above`` semantics: enter when fast crosses above slow, leave (or go short) when slow
crosses above fast; a NaN resets the state, and the first valid bar never signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numba
import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros as _trailing_zeros

from toolkit.strategies._features import (
    dense_ranks_nb,
    distinct_rows_nb,
    order_room,
    order_rows,
    pair_order_of_nb,
    pair_orders_nb,
    rank_row_nb,
)
from toolkit.strategies._indicators import sma_nb, sma_rows_nb
from toolkit.strategies.spec import Param, Strategy

# numba intrinsic (the stubs type it as needing a typing context)
trailing_zeros: Any = _trailing_zeros


# How sma_cross_changes_nb reads the grid's SMA rows (index[k, 3]): the bars where each
# pair's comparison changes (toolkit.strategies._features.pair_orders_nb), or their ranks
# where the rows have NaN past their warm-up or many ties.
RANKS, ORDERS = 0, 1


def sma_cross_features(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    grid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One SMA row per distinct window in the grid's fast and slow columns, then what
    :func:`sma_cross_changes_nb` reads of them, laid out after them: every pair's changes of
    comparison, or (NaN past the warm-up, many ties) their ranks bar by bar
    (:func:`dense_ranks_nb`, called from here so that it compiles only when needed).
    ``index[k]`` = (fast row, slow row, SMA rows, RANKS or ORDERS)."""
    # one specialisation whoever calls (a read-only close would compile a second one)
    aux, index, exact = _sma_orders_nb(
        np.require(close, np.float64, ("C", "W")), grid, numba.get_num_threads()
    )
    if not exact:
        dense_ranks_nb(aux, int(index[0, 2]))
    return aux, index


@njit(cache=True)
def _sma_orders_nb(
    close: np.ndarray, grid: np.ndarray, threads: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`sma_cross_features` but the ranks: (aux, index, whether the changes of
    comparison were laid out; if not, aux has room for the ranks). ``threads``: numba's
    thread count (see :func:`pair_orders_nb`)."""
    k = grid.shape[0]
    windows = np.concatenate((grid[:, 0], grid[:, 1]))
    uniq, pos = distinct_rows_nb(windows)
    rows = uniq.shape[0]
    n = close.shape[0]
    # room for two changes a row a bar (daily data: ~1); pages never written cost nothing
    aux = np.empty((rows + order_rows(rows, n, 2 * rows * n), n))
    sma_rows_nb(close, uniq, aux)
    changes = pair_orders_nb(aux, rows, threads)
    if changes > order_room(aux, rows):  # more: again with the room they need
        wider = np.empty((rows + order_rows(rows, n, changes), n))
        for r in range(rows):  # element copies (no shape-error formatting compiled)
            for t in range(n):
                wider[r, t] = aux[r, t]
        aux = wider
        pair_orders_nb(aux, rows, threads)
    exact = changes >= 0  # else the rank table (packed_rows(rows) rows) fits in the room
    index = np.empty((k, 4), dtype=np.int64)
    for j in range(k):
        index[j, 0] = pos[j]
        index[j, 1] = pos[k + j]
        index[j, 2] = rows
        index[j, 3] = ORDERS if exact else RANKS
    return aux, index, exact


@njit(cache=True)
def sma_cross_rule_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    aux: np.ndarray,
    params: np.ndarray,
    index: np.ndarray,
    out: np.ndarray,
) -> None:
    """params = [fast, slow, allow_short, cross]; writes exposure in {-1, 0, 1} into ``out``."""
    fast = aux[index[0]]
    slow = aux[index[1]]
    short = params[2] > 0.5
    if params[3] < 0.5:
        for t in range(out.shape[0]):
            f = fast[t]
            s = slow[t]
            if f > s:
                out[t] = 1.0
            elif short and f < s:
                out[t] = -1.0
            else:
                out[t] = 0.0  # also warm-up (NaN compares false)
        return
    # crossing events, vectorbt crossed_above(fast, slow) / crossed_above(slow, fast), wait=0
    exit_state = -1.0 if short else 0.0
    state = 0.0
    up_below = False  # fast has been below slow since the last NaN
    dn_below = False  # slow has been below fast since the last NaN
    prev_up = False  # previous bar had fast > slow
    prev_dn = False  # previous bar had slow > fast
    for t in range(out.shape[0]):
        f = fast[t]
        s = slow[t]
        up = f > s  # both False on a tie or a NaN
        dn = f < s
        if up:
            if up_below and not prev_up:
                state = 1.0
            dn_below = True
        elif dn:
            if dn_below and not prev_dn:
                state = exit_state
            up_below = True
        elif np.isnan(f) or np.isnan(s):
            up_below = False
            dn_below = False
        prev_up = up
        prev_dn = dn
        out[t] = state


@njit(cache=True, inline="always")
def _level_nb(cls: int, short: bool) -> float:
    """The state rule's target on a bar of class ``cls`` (1 fast above, 2 below, else 0)."""
    if cls == 1:
        return 1.0
    if short and cls == 2:
        return -1.0
    return 0.0


@njit(cache=True, inline="always")
def _first_class_nb(cls: int, short: bool, cross: bool) -> tuple[float, bool, bool]:
    """The rule's (target, up_below, dn_below) after bar 0, of class ``cls`` (1 fast above,
    2 below, 0 equal, 4 a NaN; see :func:`sma_cross_rule_nb`)."""
    return 0.0 if cross else _level_nb(cls, short), cls == 2, cls == 1


@njit(cache=True, inline="always")
def _new_class_nb(
    cls: int, state: float, up_below: bool, dn_below: bool, short: bool, cross: bool
) -> tuple[float, bool, bool]:
    """The rule's (target, up_below, dn_below) on a bar whose class changed to ``cls``:
    only a class change can move either form of the rule (see :func:`sma_cross_rule_nb`)."""
    if not cross:
        return _level_nb(cls, short), up_below, dn_below
    new = state
    if cls == 1:
        if up_below:
            new = 1.0
        dn_below = True
    elif cls == 2:
        if dn_below:
            new = -1.0 if short else 0.0
        up_below = True
    elif cls == 4:
        up_below = False
        dn_below = False
    return new, up_below, dn_below


@njit(cache=True)
def sma_cross_changes_nb(
    aux: np.ndarray,
    params: np.ndarray,
    index: np.ndarray,
    work: np.ndarray,
    cp_bar: np.ndarray,
    cp_val: np.ndarray,
) -> int:
    """:func:`sma_cross_rule_nb`'s target as change points (the bars where it changes and
    the new value; ``cp_bar[0] = 0``); returns their count. ``work`` (float64, n bars) is
    scratch. Reads the pair's changes of comparison where the features found them, else its
    ranks (index[3], see :func:`sma_cross_features`)."""
    if index[3] == ORDERS:
        return _order_changes_nb(aux, params, index, cp_bar, cp_val)
    return _rank_changes_nb(aux, params, index, work, cp_bar, cp_val)


@njit(cache=True, inline="always")
def _order_changes_nb(
    aux: np.ndarray,
    params: np.ndarray,
    index: np.ndarray,
    cp_bar: np.ndarray,
    cp_val: np.ndarray,
) -> int:
    """Change points from the pair's changes of comparison (~50 a pair on daily data): the
    class is NaN (4) until both SMAs are valid, then fast above (1), below (2) or equal (0)
    as the changes say."""
    n = aux.shape[1]
    short = params[2] > 0.5
    cross = params[3] > 0.5
    t0, cls, mirrored, changes = pair_order_of_nb(aux, index[2], index[0], index[1])
    # (EQUAL, ABOVE, BELOW are 0, 1, 2: the rule's class codes)
    state, up_below, dn_below = _first_class_nb(cls if t0 == 0 else 4, short, cross)
    cp_bar[0] = 0
    cp_val[0] = state
    m = 1
    i0 = -1 if 0 < t0 < n else 0  # the class changes from NaN at t0, then as listed
    for i in range(i0, changes.shape[0]):
        t = t0
        if i >= 0:
            t = changes[i] >> 2
            cls = changes[i] & 3
            if mirrored and cls != 0:
                cls = 3 - cls
        new, up_below, dn_below = _new_class_nb(cls, state, up_below, dn_below, short, cross)
        if new != state:
            state = new
            cp_bar[m] = t
            cp_val[m] = new
            m += 1
    return m


@njit(cache=True, inline="always")
def _rank_changes_nb(
    aux: np.ndarray,
    params: np.ndarray,
    index: np.ndarray,
    work: np.ndarray,
    cp_bar: np.ndarray,
    cp_val: np.ndarray,
) -> int:
    """Change points from the ranks of the two SMA rows (same comparisons as their values,
    a quarter of the bytes): one vectorised pass codes each bar's class (fast above, below,
    equal, NaN), then 8 bars at a time are tested for a change of class and only those bars
    run the rule's logic -- about 1% of bars on daily data."""
    n = work.shape[0]
    rows = index[2]
    ra = rank_row_nb(aux, rows, index[0])
    rb = rank_row_nb(aux, rows, index[1])
    code = work.view(np.uint8)
    for t in range(n):
        # on int32, as 0/1 integers: LLVM vectorises this form (~2x the uint8 casts')
        a = np.int32(ra[t])
        b = np.int32(rb[t])
        both = (a != 0) & (b != 0)  # rank 0 is a NaN
        code[t] = np.uint8(((a > b) & both) | (((a < b) & both) << 1) | ((~both) << 2))
    words = (n + 7) // 8
    for t in range(n, words * 8):
        code[t] = code[n - 1]  # no change in the padding
    packed = code[: words * 8].view(np.uint64)
    short = params[2] > 0.5
    cross = params[3] > 0.5
    first = code[0]
    state, up_below, dn_below = _first_class_nb(first, short, cross)
    cp_bar[0] = 0
    cp_val[0] = state
    m = 1
    carry = np.uint64(first)
    for j in range(words):
        w = packed[j]
        changed = w ^ ((w << np.uint64(8)) | carry)  # a non-zero byte: class changed there
        carry = w >> np.uint64(56)
        while changed != 0:
            u = trailing_zeros(changed) >> 3
            changed &= ~(np.uint64(0xFF) << np.uint64(8 * u))
            t = 8 * j + u
            if t == 0:
                continue
            new, up_below, dn_below = _new_class_nb(
                code[t], state, up_below, dn_below, short, cross
            )
            if new != state:
                state = new
                cp_bar[m] = t
                cp_val[m] = new
                m += 1
    return m


@njit(cache=True)
def sma_cross_signal_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """The strategy's signal: this parameter set's two averages, then the rule. Only its own
    indicators: the grid machinery (distinct windows, sort, unique) cost ~7 s of compile on
    every fresh machine for nothing when there is one set."""
    n = close.shape[0]
    fast = sma_nb(close, int(params[0]))
    slow = sma_nb(close, int(params[1]))
    aux = np.empty((2, n))
    # element copies: a row assignment (aux[0] = x) compiles numba's shape-error formatting
    for t in range(n):
        aux[0, t] = fast[t]
        aux[1, t] = slow[t]
    index = np.empty(2, dtype=np.int64)
    index[0] = 0
    index[1] = 1
    out = np.empty(n)
    sma_cross_rule_nb(open_, high, low, close, volume, aux, params, index, out)
    return out


def _valid(p: Mapping[str, Any]) -> Any:
    return p["fast"] < p["slow"]


STRATEGY = Strategy(
    name="sma_cross",
    signal=sma_cross_signal_nb,
    features=sma_cross_features,
    rule=sma_cross_rule_nb,
    params=(
        Param("fast", int, 20, 1, 500, "fast SMA window, bars"),
        Param("slow", int, 100, 2, 1000, "slow SMA window, bars"),
        Param("allow_short", int, 0, 0, 1, "1 to go short when fast < slow"),
        Param("cross", int, 0, 0, 1, "1 to act only on crossing events (vectorbt semantics)"),
    ),
    doc=__doc__ or "",
    warmup=lambda p: int(p["slow"]),
    valid=_valid,
    valid_doc="fast < slow",
)
