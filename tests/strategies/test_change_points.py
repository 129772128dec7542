"""Rules as change points (what the sweep's change-point driver reads) say exactly what the
full-array rules say: expanding the change points gives the rule's target bar for bar, on
random rows with ties and NaN anywhere, for every built-in and parameter set."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import toolkit as tk
from tests.strategies.test_causality import _random_params
from toolkit import strategies
from toolkit.strategies._dispatch import IDS, TARGETS, changes_nb, rule_nb, target_changes_nb
from toolkit.strategies._features import (
    _rank_span_nb,
    dense_ranks_nb,
    packed_rows,
    rank_row_nb,
)
from toolkit.strategies.sma_cross import sma_cross_changes_nb, sma_cross_rule_nb


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
        index = np.array([fast, slow, rows], dtype=np.int64)
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
