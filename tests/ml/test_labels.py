"""Triple-barrier labels: a hand-built path, and labels on the shipped daily data depend only
on bars up to their t1 (the bar they became known)."""

from __future__ import annotations

import numpy as np

import toolkit as tk
from toolkit.ml.features import features
from toolkit.ml.labels import triple_barrier


def test_hand_built_barriers() -> None:
    # vol 0.1 per bar, horizon 4, width 1: barriers at log(close_i) +- 0.2
    close = np.exp(np.array([0.0, 0.1, 0.25, 0.1, -0.15, -0.1, 0.06, 0.0, 0.0]))
    vol = np.full(9, 0.1)
    y, t1 = triple_barrier(close, vol, 4, 1.0)
    # bar 0: +0.25 at bar 2 >= +0.2 -> up, known at 2
    # bar 1: barriers -0.1 / 0.3; bar 4 (-0.15) <= -0.1 -> down at 4
    # bar 2: barriers 0.05 / 0.45; bar 4 (-0.15) -> down at 4
    # bar 3: barriers -0.1 / 0.3; bar 4 -0.15 -> down at 4
    # bar 4: barriers -0.35 / 0.05; bar 6 (0.06) -> up at 6 (before its vertical, bar 8)
    # bar 5: barriers -0.3 / 0.1; none by bar 9 (vertical 9 is past the end) -> unknown
    np.testing.assert_array_equal(y[:5], [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(t1[:5], [2, 4, 4, 4, 6])
    assert t1[5] == -1 and np.isnan(y[5])
    # vertical barrier: flat path ends at horizon with the sign of the return
    flat = np.exp(np.array([0.0, 0.01, 0.02, 0.01, 0.005]))
    y2, t12 = triple_barrier(flat, np.full(5, 0.1), 3, 1.0)
    assert (y2[0], t12[0]) == (1.0, 3) and (y2[1], t12[1]) == (0.0, 4)


def test_labels_on_shipped_data_are_known_only_from_t1() -> None:
    spy = tk.load("SPY", start="2015-01-01", end="2019-12-31")
    h, lo, c, v = (spy[f].to_numpy() for f in ("high", "low", "close", "volume"))
    vol = features(h, lo, c, v, 5, 20)[:, 4]
    y, t1 = triple_barrier(c, vol, 10, 1.0)
    known = t1 >= 0
    assert known[25:-10].all() and set(np.unique(y[known])) == {0.0, 1.0}
    assert ((t1[known] > np.flatnonzero(known)) & (t1[known] <= np.flatnonzero(known) + 10)).all()
    assert 0.35 < y[known].mean() < 0.75
    for cut in (300, 701, 1100):  # on bars [0, cut] every label known by then is the same
        yc, tc = triple_barrier(c[: cut + 1], vol[: cut + 1], 10, 1.0)
        done = ((t1 >= 0) & (t1 <= cut))[: cut + 1]
        np.testing.assert_array_equal(yc[done], y[: cut + 1][done])
        np.testing.assert_array_equal(tc[done], t1[: cut + 1][done])
        assert (tc[~done] == -1).all()
