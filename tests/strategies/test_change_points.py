"""Rules as change points (what the sweep's change-point driver reads) say exactly what the
full-array rules say: expanding the change points gives the rule's target bar for bar, on
random rows with ties and NaN anywhere, for every built-in and parameter set."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toolkit as tk
from tests.strategies.test_causality import _random_params
from toolkit import strategies
from toolkit.strategies._dispatch import IDS, TARGETS, changes_nb, rule_nb, target_changes_nb
from toolkit.strategies._features import (
    _rank_span_nb,
    dense_ranks_nb,
    order_room,
    order_rows,
    packed_rows,
    pair_order_of_nb,
    pair_orders_nb,
    rank_row_nb,
)
from toolkit.strategies.sma_cross import (
    ORDERS,
    RANKS,
    sma_cross_changes_nb,
    sma_cross_features,
    sma_cross_rule_nb,
)


def _expand(cp_bar: np.ndarray, cp_val: np.ndarray, m: int, n: int) -> np.ndarray:
    assert cp_bar[0] == 0
    assert np.all(np.diff(cp_bar[:m]) > 0)
    out = np.empty(n)
    for i in range(m):
        out[cp_bar[i] : cp_bar[i + 1] if i + 1 < m else n] = cp_val[i]
    return out


def _rows(seed: int, rows: int, n: int) -> np.ndarray:
    """Random indicator rows on a coarse grid of values (so ties are common) with NaN runs
    at the start and NaN bars scattered anywhere."""
    rng = np.random.default_rng(seed)
    vals = np.round(rng.normal(0.0, 1.0, (rows, n)).cumsum(axis=1) * 2.0) / 2.0
    for r in range(rows):
        vals[r, : int(rng.integers(0, n // 3 + 1))] = np.nan
        vals[r, rng.random(n) < 0.03] = np.nan
    return vals


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 9), st.integers(2, 90))
def test_ranks_compare_as_the_values_do(seed: int, rows: int, n: int) -> None:
    vals = _rows(seed, rows, n)
    aux = np.empty((rows + packed_rows(rows), n))
    aux[:rows] = vals
    dense_ranks_nb(aux, rows)
    ranks = np.array([rank_row_nb(aux, rows, r) for r in range(rows)]).astype(np.int64)
    np.testing.assert_array_equal(ranks == 0, np.isnan(vals))
    for a in range(rows):
        for b in range(rows):
            both = ~np.isnan(vals[a]) & ~np.isnan(vals[b])
            np.testing.assert_array_equal(
                np.sign(ranks[a] - ranks[b])[both], np.sign(vals[a] - vals[b])[both]
            )


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(512, 3000))
def test_ranks_in_parallel_spans_equal_one_pass(seed: int, rows: int, n: int) -> None:
    """Long series are ranked in spans on several threads, each span sorting its first bar
    from scratch: the table equals one pass over every bar, and compares as the values."""
    vals = _rows(seed, rows, n)
    aux = np.empty((rows + packed_rows(rows), n))
    aux[:rows] = vals
    one = aux.copy()
    dense_ranks_nb(aux, rows)
    _rank_span_nb(one, rows, 0, n)
    np.testing.assert_array_equal(aux[rows:].view(np.uint16), one[rows:].view(np.uint16))
    ranks = np.array([rank_row_nb(aux, rows, r) for r in range(rows)]).astype(np.int64)
    np.testing.assert_array_equal(ranks == 0, np.isnan(vals))
    a, b = 0, rows - 1
    both = ~np.isnan(vals[a]) & ~np.isnan(vals[b])
    np.testing.assert_array_equal(
        np.sign(ranks[a] - ranks[b])[both], np.sign(vals[a] - vals[b])[both]
    )


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 300),
    st.integers(0, 1),
    st.integers(0, 1),
)
def test_sma_cross_change_points_are_its_rule(seed: int, n: int, short: int, cross: int) -> None:
    rows = 3
    aux = np.empty((rows + packed_rows(rows), n))
    aux[:rows] = _rows(seed, rows, n)
    dense_ranks_nb(aux, rows)
    params = np.array([5.0, 20.0, float(short), float(cross)])
    close = np.ones(n)
    want = np.empty(n)
    work, cp_bar, cp_val = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n)
    for fast, slow in ((0, 1), (1, 0), (2, 1), (0, 2)):
        index = np.array([fast, slow, rows, RANKS], dtype=np.int64)
        sma_cross_rule_nb(close, close, close, close, close, aux, params, index, want)
        m = sma_cross_changes_nb(aux, params, index, work, cp_bar, cp_val)
        np.testing.assert_array_equal(_expand(cp_bar, cp_val, m, n), want)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 200))
def test_target_change_points_round_trip(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    target = rng.choice([-1.0, 0.0, 0.5, 1.0, np.nan], size=n)
    target[rng.random(n) < 0.6] = np.nan if rng.random() < 0.3 else 1.0
    cp_bar, cp_val = np.empty(n, dtype=np.int64), np.empty(n)
    m = target_changes_nb(target, cp_bar, cp_val)
    np.testing.assert_array_equal(_expand(cp_bar, cp_val, m, n), target)
    assert (
        m
        == 1
        + sum(  # one change point per change, a NaN run counting once
            1
            for t in range(1, n)
            if not (target[t] == target[t - 1] or np.isnan(target[t - 1 : t + 1]).all())
        )
    )


def test_every_builtin_sweeps_its_rule_as_change_points() -> None:
    """The dispatcher's change points, over a grid's features on real data, expand to each
    built-in's full-array rule for every set."""
    bars = tk.load("QQQ", start="2012-01-01")
    o, h, lo, c, v = (np.ascontiguousarray(bars[f].to_numpy(np.float64)) for f in
                      ("open", "high", "low", "close", "volume"))  # fmt: skip
    rng = np.random.default_rng(3)
    n = len(c)
    for name, sid in IDS.items():
        if name == TARGETS:
            continue
        spec = strategies.get(name)
        sets = [_random_params(spec, rng) for _ in range(12)]
        grid = np.array([[float(p[k]) for k in spec.param_names] for p in sets])
        assert spec.features is not None
        aux, index = spec.features(o, h, lo, c, v, grid)
        want, work = np.empty(n), np.empty(n)
        cp_bar, cp_val = np.empty(n, dtype=np.int64), np.empty(n)
        for k in range(len(grid)):
            rule_nb(sid, o, h, lo, c, v, aux, grid[k], index[k], want)
            m = changes_nb(sid, o, h, lo, c, v, aux, grid[k], index[k], work, cp_bar, cp_val)
            np.testing.assert_array_equal(_expand(cp_bar, cp_val, m, n), want, err_msg=name)


def _warm_rows(seed: int, rows: int, n: int, levels: float) -> np.ndarray:
    """Random walks on a grid of ``levels`` steps (coarse: ties are common), each with a NaN
    warm-up of its own length (some longer than the series) and no NaN after it."""
    rng = np.random.default_rng(seed)
    vals = np.round(rng.normal(0.0, 1.0, (rows, n)).cumsum(axis=1) * levels) / levels
    for r in range(rows):
        vals[r, : int(rng.integers(0, n + 2))] = np.nan
    return vals


def _classes(aux: np.ndarray, rows: int, a: int, b: int) -> np.ndarray:
    """Bar by bar how row a compares to row b, read back from pair_orders_nb's layout:
    1 above, 2 below, 0 equal, 4 a NaN on either side."""
    n = aux.shape[1]
    t0, cmp, mirrored, changes = pair_order_of_nb(aux, rows, a, b)
    out = np.full(n, 4)
    out[t0:] = cmp
    for code in changes:
        t, c = int(code) >> 2, int(code) & 3
        out[t:] = 3 - c if mirrored and c != 0 else c
    return out


def _truth(vals: np.ndarray, a: int, b: int) -> np.ndarray:
    x, y = vals[a], vals[b]
    return np.where(np.isnan(x) | np.isnan(y), 4, np.where(x > y, 1, np.where(x < y, 2, 0)))


def _orders(vals: np.ndarray, changes_room: int, threads: int = 2) -> tuple[int, np.ndarray]:
    rows, n = vals.shape
    aux = np.zeros((rows + order_rows(rows, n, changes_room), n))
    aux[:rows] = vals
    return pair_orders_nb(aux, rows, threads), aux


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 9),
    st.sampled_from([3, 200, 1500, 2600]),
    st.sampled_from([0.5, 2.0, 1e6]),
)
def test_pair_orders_say_how_every_pair_compares(
    seed: int, rows: int, n: int, levels: float
) -> None:
    """The changes of comparison (sorted in parallel spans from 2,048 bars on, ties and
    warm-ups anywhere) give every pair's comparison on every bar."""
    vals = _warm_rows(seed, rows, n, levels)
    total, aux = _orders(vals, 2 * rows * n)
    assert total >= 0
    for threads in (1, 3, 8):  # the layout's work dealt otherwise: the same bytes
        np.testing.assert_array_equal(_orders(vals, 2 * rows * n, threads)[1], aux)
    for a in range(rows):
        for b in range(rows):
            want = _truth(vals, a, b) if a != b else np.where(np.isnan(vals[a]), 4, 0)
            np.testing.assert_array_equal(_classes(aux, rows, a, b), want, err_msg=f"{a},{b}")


def test_pair_orders_make_room_and_refuse_what_they_cannot_say() -> None:
    """Rows that swap places at nearly every bar overflow the spans' room (one growing pass
    redoes them) and the layout's (the count comes back, nothing laid out); a NaN after a
    row's warm-up or a bar with too many ties is refused (-1: the rule scans ranks)."""
    rng = np.random.default_rng(5)
    rows, n = 24, 2100
    vals = rng.normal(size=(rows, n))  # iid: ~rows^2 / 4 swaps a bar
    total, small = _orders(vals, 10)
    assert total > order_room(small, rows)
    total2, aux = _orders(vals, total)
    assert total2 == total
    for a, b in ((0, 1), (5, 3), (23, 0)):
        np.testing.assert_array_equal(_classes(aux, rows, a, b), _truth(vals, a, b))
    holed = vals.copy()
    holed[3, 700] = np.nan
    assert _orders(holed, 2 * rows * n)[0] == -1
    flat = np.ones((12, 50))  # 66 tied pairs at every bar
    assert _orders(flat, 2 * 12 * 50)[0] == -1


@pytest.mark.parametrize("bar", [0, 1, 1049, 1050, 1051, 2099])
def test_a_hole_is_refused_wherever_the_spans_meet_it(bar: int) -> None:
    """The sorted spans find a NaN after a row's warm-up as they read its bar (no pass of
    its own looks for them): at either end of a span, at the bar a span starts from, just
    after the row's first valid bar, at the last bar -- always -1."""
    rows, n = 6, 2100  # two spans: [0, 1050) and [1050, 2100)
    rng = np.random.default_rng(11)
    vals = rng.normal(0.0, 1.0, (rows, n)).cumsum(axis=1)  # smooth: no overflow, no regrow
    assert _orders(vals, 2 * rows * n)[0] >= 0
    holed = vals.copy()
    holed[2, bar] = np.nan  # at bar 0 a one-bar warm-up, not a hole
    assert (_orders(holed, 2 * rows * n)[0] == -1) == (bar > 0)
    if bar > 0:
        warm = vals.copy()
        warm[4, : bar - 1] = np.nan  # the row's first valid bar is bar - 1 ...
        warm[4, bar] = np.nan  # ... and the next one is missing
        assert _orders(warm, 2 * rows * n)[0] == -1


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 400), st.booleans())
def test_sma_cross_reads_orders_or_ranks_as_its_rule(seed: int, n: int, holes: bool) -> None:
    """The grid's features pick the pairs' changes of comparison (clean rows) or ranks (a
    close with NaN: the SMA rows have NaN past their warm-up); either way every set's
    change points are its rule's target, fast and slow in any order, equal windows too."""
    rng = np.random.default_rng(seed)
    close = np.round(100.0 + rng.normal(0.0, 1.0, n).cumsum() * 2.0) / 2.0  # ties
    if holes:
        close[rng.integers(0, n)] = np.nan
    grid = np.array(
        [[rng.integers(1, 30), rng.integers(1, 30), rng.integers(0, 2), rng.integers(0, 2)]
         for _ in range(30)] + [[4, 4, 0, 0], [9, 3, 1, 1]],
        dtype=np.float64,
    )  # fmt: skip
    aux, index = sma_cross_features(close, close, close, close, close, grid)
    rows = int(index[0, 2])
    valid = ~np.isnan(aux[:rows])
    holed = bool((np.diff(valid.astype(int), axis=1) < 0).any())  # valid, then NaN
    assert set(index[:, 3].tolist()) == ({RANKS} if holed else {ORDERS})
    want, work = np.empty(n), np.empty(n)
    cp_bar, cp_val = np.empty(n, dtype=np.int64), np.empty(n)
    for k in range(len(grid)):
        sma_cross_rule_nb(close, close, close, close, close, aux, grid[k], index[k], want)
        m = sma_cross_changes_nb(aux, grid[k], index[k], work, cp_bar, cp_val)
        np.testing.assert_array_equal(_expand(cp_bar, cp_val, m, n), want)


def test_sma_cross_reads_orders_on_real_data() -> None:
    """SPY's SMA rows (equal SMAs at some bars: windows 1 and 2 whenever a close repeats)
    take the changes-of-comparison form."""
    c = np.ascontiguousarray(tk.load("SPY")["close"].to_numpy(np.float64)[-1500:])
    grid = np.array([[f, s, 0, 1] for f in (1, 2, 4, 10) for s in (2, 4, 30, 100)], dtype=float)
    _, index = sma_cross_features(c, c, c, c, c, grid)
    assert set(index[:, 3].tolist()) == {ORDERS}
