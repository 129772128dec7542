"""Numba kernels that replay LOBSTER messages into the visible book (plain arrays only).

The book state is one int64 row in LOBSTER's column order (ask price 1, ask size 1, bid price
1, bid size 1, ask price 2, ...), empty levels at the dummy prices +-9999999999 with size 0.
Ordering a side by ``sign * price`` (sign +1 ask, -1 bid) makes both sides ascending with the
empty levels last at key 9999999999, so one routine serves both.

:func:`apply_message_nb` is the one step that changes the book; the replay loop here and the
fused replay + features loop in :mod:`toolkit.orderbook.features` both call it.

What a message does (LOBSTER ReadMe; direction 1 = buy limit order = bid side):

* 1 submission: adds ``size`` at ``price`` (a new level is inserted in price order; the worst
  level then falls beyond the depth and is forgotten; beyond the worst of a full side: no
  visible change);
* 2 partial cancel, 3 deletion, 4 visible execution: remove ``size`` at ``price``; a level that
  empties is removed and the levels behind it move up. If that side was full, the level that
  now enters at the back comes from beyond the file's depth: it is the only thing the
  replay takes from LOBSTER's book row (a *refill*);
* 5 hidden execution, 6 cross trade: a trade, the visible book is unchanged;
* 7 trading halt / quoting / resume: no change (LOBSTER repeats the book row).
"""

from __future__ import annotations

from typing import Any

import numba as nb
from numpy.typing import NDArray

DUMMY_KEY = 9_999_999_999  # sign * dummy price on either side (toolkit.data.lobster.DUMMY_ASK)

OK = 0
REFILL_ASK = 1
REFILL_BID = 2
NOT_IN_BOOK = -1  # a cancel/delete/execution at a price inside the depth that holds no level
OVERDRAWN = -2  # it removed more than the level held


@nb.njit(cache=True, inline="always")
def _side(direction: int) -> tuple[int, int]:
    """(column offset within a level, sign) of the side a limit order of ``direction`` rests on."""
    if direction == 1:
        return 2, -1
    return 0, 1


@nb.njit(cache=True)
def apply_message_nb(
    state: NDArray[Any], levels: int, kind: int, size: int, price: int, direction: int
) -> int:
    """Apply one LOBSTER message to ``state`` (int64, ``4 * levels``) in place.

    Returns OK, REFILL_ASK / REFILL_BID (a level was removed from a full side: its last level
    must come from beyond the depth, i.e. from the book file), NOT_IN_BOOK or OVERDRAWN (the
    message contradicts the book: counted as a difference by the caller's check)."""
    if kind < 1 or kind > 4:
        return OK  # 5 hidden execution, 6 cross, 7 halt: the visible book is unchanged
    off, sign = _side(direction)
    key = sign * price
    j = 0
    while j < levels and sign * state[4 * j + off] < key:
        j += 1
    found = j < levels and sign * state[4 * j + off] == key
    if kind == 1:
        if found:
            state[4 * j + off + 1] += size
        elif j < levels:
            for m in range(levels - 1, j, -1):
                state[4 * m + off] = state[4 * (m - 1) + off]
                state[4 * m + off + 1] = state[4 * (m - 1) + off + 1]
            state[4 * j + off] = price
            state[4 * j + off + 1] = size
        return OK
    if not found:
        if j == levels:
            return OK  # beyond the worst level of a full side: outside the depth
        return NOT_IN_BOOK
    left = state[4 * j + off + 1] - size
    if left > 0:
        state[4 * j + off + 1] = left
        return OK
    last = 4 * (levels - 1) + off
    full = sign * state[last] != DUMMY_KEY
    for m in range(j, levels - 1):
        state[4 * m + off] = state[4 * (m + 1) + off]
        state[4 * m + off + 1] = state[4 * (m + 1) + off + 1]
    state[last] = sign * DUMMY_KEY
    state[last + 1] = 0
    if left < 0:
        return OVERDRAWN
    if full:
        return REFILL_ASK if off == 0 else REFILL_BID
    return OK


@nb.njit(cache=True, inline="always")
def refill_nb(state: NDArray[Any], row: NDArray[Any], levels: int, code: int) -> None:
    """Take the last level of the side ``code`` names (REFILL_ASK / REFILL_BID) from ``row``,
    LOBSTER's book after the message: the level that entered from beyond the depth."""
    off = 0 if code == REFILL_ASK else 2
    last = 4 * (levels - 1) + off
    state[last] = row[last]
    state[last + 1] = row[last + 1]


@nb.njit(cache=True)
def replay_nb(
    kinds: NDArray[Any],
    sizes: NDArray[Any],
    prices: NDArray[Any],
    directions: NDArray[Any],
    book: NDArray[Any],
    out: NDArray[Any],
    refilled: NDArray[Any],
    differs: NDArray[Any],
) -> None:
    """Replay messages 1..n-1 from LOBSTER's book row 0 (``book``: int64 (n, 4L)).

    Writes the reconstructed book into ``out`` (n, 4L), flags rows whose message removed a
    level from a full side (``refilled``: that level came from ``book``) and rows where the
    reconstruction differs from ``book`` in any column (``differs``, bool)."""
    n, width = book.shape
    levels = width // 4
    state = book[0].copy()
    out[0] = state
    for i in range(1, n):
        code = apply_message_nb(state, levels, kinds[i], sizes[i], prices[i], directions[i])
        if code in (REFILL_ASK, REFILL_BID):
            refill_nb(state, book[i], levels, code)
            refilled[i] = True
        bad = code < 0
        for c in range(width):
            out[i, c] = state[c]
            if state[c] != book[i, c]:
                bad = True
        differs[i] = bad
