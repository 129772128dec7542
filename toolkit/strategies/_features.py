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
    """Sorted distinct ``values`` and, for each input value, its position among them."""
    uniq = np.unique(values)
    return uniq, np.searchsorted(uniq, values).astype(np.int64)


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
    for t in range(lo, hi):
        for i in range(rows):
            v = aux[i, t]
            key[i] = v if v == v else -np.inf
        for p in range(rows):
            ordered[p] = key[order[p]]
        for p in range(1, rows):
            kx = ordered[p]
            if ordered[p - 1] <= kx:
                continue
            x = order[p]
            q = p
            while q > 0 and ordered[q - 1] > kx:
                ordered[q] = ordered[q - 1]
                order[q] = order[q - 1]
                q -= 1
            ordered[q] = kx
            order[q] = x
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
