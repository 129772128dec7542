"""Shared machinery for strategy features: indicator rows computed once per distinct window.

A grid of parameter sets usually repeats the same indicator windows many times (19,900 SMA
pairs use only 200 windows). ``features_nb`` functions compute each distinct indicator once
into rows of ``aux`` and return, per parameter set, the row numbers its rule reads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def distinct_rows_nb(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ``values`` (indicator windows: whole numbers, as the strategies'
    parameters declare them) and, for each input value, its position among them. Told apart
    in a table, without a sort (a 19,900-pair grid: ~0.05 ms instead of np.unique's ~1.5)."""
    m = values.shape[0]
    top = 0.0
    for i in range(m):
        v = values[i]
        if not (v >= 0.0 and v < 1048576.0 and v == np.floor(v)):
            raise ValueError("indicator windows must be whole numbers from 0 to 1,048,575")
        top = max(top, v)
    slot = np.full(int(top) + 1, -1, dtype=np.int64)
    for i in range(m):
        slot[int(values[i])] = 0
    count = 0
    for w in range(slot.shape[0]):
        if slot[w] == 0:
            slot[w] = count
            count += 1
    uniq = np.empty(count)
    pos = np.empty(m, dtype=np.int64)
    for w in range(slot.shape[0]):
        if slot[w] >= 0:
            uniq[slot[w]] = w
    for i in range(m):
        pos[i] = slot[int(values[i])]
    return uniq, pos


# Ranks travel inside ``aux`` (float64 rows, the one array a features function returns): a
# (rows, n) uint16 table packed after the indicator rows, ``packed_rows(rows)`` float64 rows
# of n bars holding 4 ranks each. Rules read it with :func:`rank_row_nb`.


@njit(cache=True)
def packed_rows(rows: int) -> int:
    """float64 rows of ``aux`` that hold a uint16 rank table of ``rows`` rows."""
    return (rows + 3) // 4


@njit(cache=True, parallel=True)
def dense_ranks_nb(aux: np.ndarray, rows: int) -> None:
    """Rank, bar by bar, the values of ``aux[:rows]`` among themselves into the table packed
    in ``aux[rows:]``: 1 for the lowest, equal values share a rank, NaN is 0. Comparing two
    rows' ranks then gives exactly what comparing their values does (``>``, ``<``, ``==``;
    0 marks a NaN on either side) on 2 bytes a bar instead of 8 -- the cheap shared form a
    rule over many pairs of rows scans. O(rows) a bar: the order of the previous bar is
    re-sorted by insertion (indicator rows rarely swap places). The bars are split in a
    few spans ranked in parallel threads (each span sorts its first bar from scratch; every
    bar's ranks depend on that bar's values only, so the table is the same)."""
    if rows > 65535:
        raise ValueError("too many indicator rows to rank (at most 65,535)")
    n = aux.shape[1]
    spans = max(1, min(8, n // 256))
    for sp in prange(spans):
        _rank_span_nb(aux, rows, sp * n // spans, (sp + 1) * n // spans)


@njit(cache=True)
def _rank_span_nb(aux: np.ndarray, rows: int, lo: int, hi: int) -> None:
    """:func:`dense_ranks_nb` for the bars [lo, hi)."""
    n = aux.shape[1]
    flat = aux.reshape(-1).view(np.uint16)
    base = 4 * rows * n
    order = np.arange(rows)
    key = np.empty(rows)
    ordered = np.empty(rows)  # key[order[p]], kept beside order so the sort reads no index
    no_stream = np.empty(0, dtype=np.int32)  # (its swaps are not needed)
    zero = int(np.int64(0))  # typed: a literal would compile _insertion_nb once more
    for t in range(lo, hi):
        for i in range(rows):
            v = aux[i, t]
            key[i] = v if v == v else -np.inf
        for p in range(rows):
            ordered[p] = key[order[p]]
        _insertion_nb(ordered, order, rows, rows, no_stream, zero)
        rank = 0
        last = np.nan
        for p in range(rows):
            x = order[p]
            v = ordered[p]
            if v == -np.inf and aux[x, t] != aux[x, t]:
                r = 0
            else:
                if v != last:  # (last starts as NaN: the first value is rank 1)
                    rank += 1
                    last = v
                r = rank
            flat[base + x * n + t] = r


@njit(cache=True, inline="always")
def rank_row_nb(aux: np.ndarray, rows: int, row: int) -> np.ndarray:
    """The ranks of ``aux[row]`` (uint16, one per bar) from the table :func:`dense_ranks_nb`
    packed after the first ``rows`` rows."""
    n = aux.shape[1]
    flat = aux.reshape(-1).view(np.uint16)
    start = 4 * rows * n + row * n
    return flat[start : start + n]


# Pair orders: for a rule over pairs of indicator rows that reads only how the two compare
# (above, below, equal), the bars where each pair's comparison changes. Sorting the rows bar
# by bar by insertion from the previous bar's order (by value, then row) swaps two
# neighbours exactly when their order flips (each swap undoes one inversion and every
# inverted pair is swapped once), so one pass over the bars finds every pair's changes at
# once: O(rows + changes) a bar instead of a scan of every bar of every pair (the headline
# grid: ~200 changes a bar for 19,900 pairs). Equal neighbours (ties) are found in the same
# pass; their pairs compare equal. Exact with any number of ties, but worth it only with
# few: more than ``_MAX_TIED`` tied pairs at a bar, or a NaN after a row's first valid value
# (the pass assumes NaN only in a leading warm-up run), and :func:`pair_orders_nb` says no
# (the rule then scans ranks).
# Laid out in ``aux`` after the indicator rows (float64 units): the rows' first valid bars
# (rows int64), the offsets of each pair's changes (pairs + 1 int64), each pair's comparison
# at its first common valid bar (pairs uint8), the changes (int32, 4 x bar + comparison).
# A comparison is said of the pair's lower row: ABOVE, BELOW or EQUAL to the higher row.
EQUAL, ABOVE, BELOW = 0, 1, 2
_MAX_TIED = 64


@njit(cache=True, inline="always")
def pair_id(a: int, b: int, rows: int) -> int:
    """Index of the pair of rows a < b among the rows * (rows - 1) / 2 pairs."""
    return a * rows - a * (a + 1) // 2 + (b - a - 1)


@njit(cache=True)
def order_rows(rows: int, n: int, changes: int) -> int:
    """float64 rows of n bars that :func:`pair_orders_nb` needs after ``rows`` indicator
    rows to lay out ``changes`` comparison changes."""
    pairs = rows * (rows - 1) // 2
    words = rows + (pairs + 1) + (pairs + 7) // 8 + (changes + 1) // 2
    return (words + n - 1) // n


@njit(cache=True)
def _first_valid_nb(values: np.ndarray) -> np.ndarray:
    """Each row's first non-NaN bar (n if none). A NaN after it (a hole) is found where the
    sorted spans read that bar (:func:`_sort_bar_nb`), not by a pass of its own."""
    rows, n = values.shape
    first = np.full(rows, n, dtype=np.int64)
    for r in range(rows):
        t = 0
        while t < n and values[r, t] != values[r, t]:
            t += 1
        first[r] = t
    return first


@njit(cache=True, inline="always")
def _listed(pairs: np.ndarray, count: int, p: int) -> bool:
    """Whether ``p`` is among the first ``count`` of ``pairs``."""
    i = 0
    while i < count and pairs[i] != p:
        i += 1
    return i < count


@njit(cache=True)
def _grown_nb(stream: np.ndarray) -> np.ndarray:
    """The change stream with twice the room."""
    e = stream.shape[0]
    out = np.empty(2 * e, dtype=np.int32)
    for i in range(e):  # element copies (no shape-error formatting compiled)
        out[i] = stream[i]
    return out


@njit(cache=True)
def _sort_bar_nb(
    values: np.ndarray,
    t: int,
    order: np.ndarray,
    val: np.ndarray,
    live: int,
    stream: np.ndarray,
    e: int,
) -> int:
    """Re-sort the ``live`` rows in ``order`` by their values at bar t, by insertion from
    the previous bar's order, each swap recorded in the stream from ``e`` (room for every
    pair is left by the caller); returns the stream's new end, or -1 when a live row is
    NaN at t (a hole after its first valid bar: every such bar is read here once, so no
    pass over the rows looks for them -- one took ~0.35 ms of a sweep, in one thread)."""
    holes = 0
    for p in range(live):
        v = values[order[p], t]
        val[p] = v
        holes += v != v  # counted: no branch in the gather
    if holes:
        return -1
    return _insertion_nb(val, order, live, values.shape[0], stream, e)


@njit(cache=True)
def _insertion_nb(
    val: np.ndarray, order: np.ndarray, live: int, rows: int, stream: np.ndarray, e: int
) -> int:
    """Sort the first ``live`` of ``val`` (and ``order`` beside it, rows of ``rows``) by
    insertion -- O(live + swaps) from a nearly sorted start; equal values keep their order
    -- each swap of rows x, y recorded in ``stream`` from ``e`` while it has room, as 4 x
    pair + comparison (see :func:`pair_orders_nb`). Returns the stream's new end."""
    for p in range(1, live):
        v = val[p]
        if val[p - 1] <= v:
            continue
        x = order[p]
        q = p
        while q > 0 and val[q - 1] > v:
            y = order[q - 1]
            if e < stream.shape[0]:  # y is now above x
                stream[e] = 4 * pair_id(min(x, y), max(x, y), rows) + (ABOVE if y < x else BELOW)
                e += 1
            val[q] = val[q - 1]
            order[q] = y
            q -= 1
        val[q] = v
        order[q] = x
    return e


@njit(cache=True)
def _tied_pairs_nb(
    order: np.ndarray, val: np.ndarray, live: int, rows: int, out: np.ndarray
) -> int:
    """The pairs of rows equal at this bar (runs of equal values in the sorted ``val``) into
    ``out`` (3 x _MAX_TIED: pair, lower row, higher row); their count, or -1 past
    _MAX_TIED."""
    count = 0
    p = 1
    while p < live:
        if val[p - 1] != val[p]:
            p += 1
            continue
        r0 = p - 1
        while p < live and val[p] == val[r0]:
            p += 1
        for i in range(r0, p):
            for j in range(i + 1, p):
                if count == _MAX_TIED:
                    return -1
                a, b = min(order[i], order[j]), max(order[i], order[j])
                out[0, count] = pair_id(a, b, rows)
                out[1, count] = a
                out[2, count] = b
                count += 1
    return count


@njit(cache=True)
def _region_nb(aux: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Views of the layout after ``aux``'s first ``rows`` rows: (int64 words: first valid
    bars then pair offsets, the pairs' starting comparisons, the changes), and the number
    of changes there is room for."""
    n = aux.shape[1]
    words = aux.reshape(-1)[rows * n :]
    pairs = rows * (rows - 1) // 2
    o_start = rows + pairs + 1
    o_changes = o_start + (pairs + 7) // 8
    size = words.shape[0]
    changes = words[min(o_changes, size) :].view(np.int32)
    start = words[min(o_start, size) : min(o_changes, size)].view(np.uint8)
    return words.view(np.int64), start, changes, changes.shape[0] if o_changes <= size else -1


@njit(cache=True)
def order_room(aux: np.ndarray, rows: int) -> int:
    """How many comparison changes ``aux`` has room for after its first ``rows`` rows."""
    return _region_nb(aux, rows)[3]


@njit(cache=True)
def _by_first_nb(first: np.ndarray, n: int) -> np.ndarray:
    """The rows in order of their first valid bar (0..n), by counting."""
    count = np.zeros(n + 2, dtype=np.int64)
    for r in range(first.shape[0]):
        count[first[r] + 1] += 1
    for t in range(n + 1):
        count[t + 1] += count[t]
    out = np.empty(first.shape[0], dtype=np.int64)
    for r in range(first.shape[0]):
        out[count[first[r]]] = r
        count[first[r]] += 1
    return out


@njit(cache=True, parallel=True)
def pair_orders_nb(aux: np.ndarray, rows: int, threads: int) -> int:
    """How every pair of ``aux``'s first ``rows`` rows compares, bar by bar, as changes (see
    above), laid out after those rows when ``aux`` has room for them (:func:`order_rows`).
    Returns the number of changes (more than there was room for: nothing was laid out), or
    -1 when a row has a NaN after its first valid value or too many pairs tie at one bar.

    The bars are split in a few spans sorted in parallel threads, each starting from its
    previous bar sorted from scratch (the changes at a bar depend on that bar and the one
    before only); a span with more than two changes a row a bar is redone in one pass that
    makes room as it goes. ``threads`` (numba's thread count, handed in: read inside, it
    would stop numba caching this kernel) deals the layout's work; the layout is the same
    for any count."""
    n = aux.shape[1]
    values = aux[:rows]
    if n >= 2**29:
        return -1
    first = _first_valid_nb(values)
    pairs = rows * (rows - 1) // 2
    start = np.zeros(pairs, dtype=np.uint8)
    by_first = _by_first_nb(first, n)
    # (a span's first bar is sorted by insertion from the rows' order: up to rows^2 steps)
    spans = max(1, min(8, n // 1024)) if rows <= 1024 else 1
    # room for two changes a row a bar (daily SMA rows: ~1; pages never written cost
    # nothing) and for a bar's worst case
    cap = 2 * rows * (n // spans + 1) + pairs + 2 * _MAX_TIED
    stream = np.empty(spans * cap, dtype=np.int32)
    bar_end = np.empty(n, dtype=np.int64)
    # typed, not literal: a literal argument compiles a callee once more (and two processes
    # compiling different specialisations into one cache folder at once can mix them up)
    zero = int(np.int64(0))
    fixed = int(np.int64(0))  # the spans may not grow their streams
    ends = np.empty(spans, dtype=np.int64)
    for sp in prange(spans):
        base = sp * cap
        ends[sp], _ = _orders_span_nb(
            values, first, by_first, sp * n // spans, (sp + 1) * n // spans, start,
            stream[base : base + cap], base, bar_end, fixed,
        )  # fmt: skip
    worst = 0
    for sp in range(spans):
        worst = min(worst, ends[sp])
    if worst == -1:
        return -1
    if worst < -1:  # a span ran out of room: all bars in one pass, growing its stream
        spans = 1
        e, stream = _orders_span_nb(
            values, first, by_first, zero, n, start, stream[:cap], zero, bar_end, 1 - fixed
        )
        if e < 0:
            return -1
    return _lay_out_nb(aux, rows, first, start, stream, bar_end, spans, threads)


@njit(cache=True)
def _orders_span_nb(
    values: np.ndarray,
    first: np.ndarray,
    by_first: np.ndarray,
    lo: int,
    hi: int,
    start: np.ndarray,
    stream: np.ndarray,
    base: int,
    bar_end: np.ndarray,
    grow: int,
) -> tuple[int, np.ndarray]:
    """:func:`pair_orders_nb` for the bars [lo, hi): changes into ``stream`` (4 x pair +
    comparison, -1 struck out; ``bar_end[t]`` = ``base`` + its end after bar t), starting
    comparisons of the pairs that start there into ``start``. Returns (end, stream): the
    end is -1 at too many ties, -2 when the stream is full and may not ``grow``."""
    rows = values.shape[0]
    pairs = rows * (rows - 1) // 2
    order = np.empty(rows, dtype=np.int64)
    where = np.empty(rows, dtype=np.int64)  # a row's place in order (rebuilt at ties)
    val = np.empty(rows)
    tied = np.empty((2, 3, _MAX_TIED), dtype=np.int64)  # [bar t - 1 / t][pair, a, b][i]
    n_prev = 0
    live = 0
    nxt = 0
    zero = int(np.int64(0))  # typed: a literal 0 would compile _sort_bar_nb once more
    e = zero
    if lo > 0:  # the bar before, sorted from scratch
        while nxt < rows and first[by_first[nxt]] <= lo - 1:
            nxt += 1
        for p in range(nxt):
            order[p] = by_first[p]
        e = _sort_bar_nb(values, lo - 1, order, val, nxt, stream, e)  # (swaps: scratch)
        if e < 0:
            return -1, stream
        live = nxt
        n_prev = _tied_pairs_nb(order, val, live, rows, tied[(lo - 1) % 2])
        if n_prev < 0:
            return -1, stream
        e = zero
    for t in range(lo, hi):
        while e + pairs + 2 * _MAX_TIED > stream.shape[0]:
            if not grow:
                return -2, stream
            stream = _grown_nb(stream)
        seg = e
        e = _sort_bar_nb(values, t, order, val, live, stream, e)
        if e < 0:
            return -1, stream
        while nxt < rows and first[by_first[nxt]] == t:
            x = by_first[nxt]
            v = values[x, t]
            q = live
            while q > 0 and val[q - 1] > v:
                val[q] = val[q - 1]
                order[q] = order[q - 1]
                q -= 1
            val[q] = v
            order[q] = x
            live += 1
            for p in range(live):  # its pairs start now: x is above the rows below it
                y = order[p]
                if y != x:
                    lower_above = (p < q) == (x < y)
                    start[pair_id(min(x, y), max(x, y), rows)] = ABOVE if lower_above else BELOW
            nxt += 1
        cur = t % 2
        n_now = _tied_pairs_nb(order, val, live, rows, tied[cur])
        if n_now < 0:
            return -1, stream
        if n_now > 0 or n_prev > 0:
            for p in range(live):
                where[order[p]] = p
            # a pair whose comparison changes to or from EQUAL: its one change at this bar
            # replaces the swap (if any) the sort recorded
            for side in range(2):
                src = cur if side == 0 else 1 - cur
                count = n_now if side == 0 else n_prev
                n_other = n_prev if side == 0 else n_now
                for i in range(count):
                    pid = tied[src, 0, i]
                    a, b = tied[src, 1, i], tied[src, 2, i]
                    if side == 0 and max(first[a], first[b]) == t:
                        start[pid] = EQUAL  # a pair starting tied
                        continue
                    if _listed(tied[1 - src, 0], n_other, pid):
                        continue  # tied on both bars
                    for u in range(seg, e):
                        if stream[u] >> 2 == pid:
                            stream[u] = -1
                    if side == 0:
                        stream[e] = 4 * pid + EQUAL
                    else:
                        stream[e] = 4 * pid + (ABOVE if where[a] > where[b] else BELOW)
                    e += 1
        n_prev = n_now
        bar_end[t] = base + e
    return e, stream


@njit(cache=True, parallel=True)
def _lay_out_nb(
    aux: np.ndarray,
    rows: int,
    first: np.ndarray,
    start: np.ndarray,
    stream: np.ndarray,
    bar_end: np.ndarray,
    spans: int,
    threads: int,
) -> int:
    """The change stream grouped by pair, in bar order within each, laid out in ``aux``
    with the rows' first valid bars and the pairs' starting comparisons (when there is
    room); returns the number of changes. The stream holds ``spans`` segments of equal
    room, bar by bar (``bar_end[t]``: where bar t's changes end).

    The spans are dealt in consecutive groups, one a thread (as they were sorted, so each
    thread reads what it wrote): a pair's changes are its group-0 changes, then group 1's,
    ..., each group's in bar order. With few groups a pair's run is split in few places, so
    the threads seldom write the same cache line. The layout is the same for any number of
    groups. (Dealt by span, eight ways, the scatter hardly scaled: 2.06 -> 1.79 ms; in a
    whole sweep the serial scatter costs ~4 ms, its writes missing the cache.)"""
    n = bar_end.shape[0]
    pairs = start.shape[0]
    cap = stream.shape[0] // spans
    groups = max(1, min(spans, threads))
    slot = np.zeros((groups, pairs), dtype=np.int64)
    for g in prange(groups):
        count = slot[g]
        for sp in range(g * spans // groups, (g + 1) * spans // groups):
            lo, hi = sp * n // spans, (sp + 1) * n // spans
            for i in range(sp * cap, bar_end[hi - 1] if hi > lo else sp * cap):
                if stream[i] >= 0:
                    count[stream[i] >> 2] += 1
    ints, starts, changes, room = _region_nb(aux, rows)
    total = 0
    for p in range(pairs):  # slot[g, p]: where group g's changes of pair p go
        if room >= 0:
            ints[rows + p] = total
        for g in range(groups):
            here = total
            total += slot[g, p]
            slot[g, p] = here
    if total > room:
        return total
    ints[rows + pairs] = total
    for r in range(rows):
        ints[r] = first[r]
    for p in range(pairs):
        starts[p] = start[p]
    for g in prange(groups):
        fill = slot[g]
        for sp in range(g * spans // groups, (g + 1) * spans // groups):
            i = sp * cap
            for t in range(sp * n // spans, (sp + 1) * n // spans):
                while i < bar_end[t]:
                    code = stream[i]
                    if code >= 0:
                        p = code >> 2
                        changes[fill[p]] = 4 * t + (code & 3)
                        fill[p] += 1
                    i += 1
    return total


@njit(cache=True, inline="always")
def pair_order_of_nb(
    aux: np.ndarray, rows: int, a: int, b: int
) -> tuple[int, int, bool, np.ndarray]:
    """Rows a and b from :func:`pair_orders_nb`'s layout: (their first common valid bar,
    how a compares to b there, whether the changes are said of b (a is the higher row: read
    ABOVE as BELOW), the changes as 4 x bar + comparison). A row with itself: its first
    valid bar, EQUAL, no changes."""
    ints, starts, changes, _ = _region_nb(aux, rows)
    lo = hi = 0
    cmp = EQUAL
    if a != b:
        p = pair_id(min(a, b), max(a, b), rows)
        cmp = int(starts[p])
        if a > b and cmp != EQUAL:
            cmp = ABOVE + BELOW - cmp
        lo, hi = ints[rows + p], ints[rows + p + 1]
    return max(ints[a], ints[b]), cmp, a > b, changes[lo:hi]
