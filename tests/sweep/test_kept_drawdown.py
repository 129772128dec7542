"""The change-point driver's drawdown searched out of order (kept_drawdown_nb: long stretches
kept for the end, the deepest bound first) equals folding every bar in order, exactly."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.metrics._kernels import STACK_ROWS, close_range_nb, fold_drawdown_nb, price_tables_nb
from toolkit.sweep._changes import (
    H_CASH,
    H_CHI,
    H_CLO,
    H_HI,
    H_KEY,
    H_LO,
    H_POS,
    H_TOP,
    HELD_COLS,
    kept_drawdown_nb,
)


def _path(seed: int, n: int) -> np.ndarray:
    """Closes with calm drifts, crashes and recoveries (new lows at many depths)."""
    rng = np.random.default_rng(seed)
    vol = rng.choice([0.005, 0.02, 0.05], size=n)
    drift = np.repeat(rng.normal(0.0, 0.01, size=n // 50 + 1), 50)[:n]
    return np.ascontiguousarray(100.0 * np.exp(np.cumsum(drift + vol * rng.standard_normal(n))))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    cuts=st.lists(st.integers(1, 599), min_size=1, max_size=25, unique=True),
    flat=st.lists(st.booleans(), min_size=26, max_size=26),
)
def test_stretches_kept_for_the_end_give_the_in_order_fold(
    seed: int, cuts: list[int], flat: list[bool]
) -> None:
    n = 600
    close = _path(seed, n)
    _, ranges = price_tables_nb(close)
    rng = np.random.default_rng(seed + 1)
    bounds = [0, *sorted(cuts), n]
    want_top, want = 1e6, 0.0  # bar by bar, in order
    top, worst = want_top, want  # the driver's
    held = np.empty((n, HELD_COLS))
    kept = 0
    for s, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if flat[s] or hi - lo < 2:
            continue  # flat: equity is the cash, no new low
        pos = float(rng.choice([3.0, 250.0, 4000.0]))
        cash = float(rng.uniform(0.0, 2.0)) * close[lo]  # what whole shares leave
        for t in range(lo, hi):
            want_top, want = fold_drawdown_nb(cash + pos * close[t], want_top, want)
        # the driver: pass the stretch at once, or keep it for the end
        c_hi, c_lo = close_range_nb(ranges, lo, hi)
        peak = max(top, cash + pos * c_hi)
        low = cash + pos * c_lo
        if low < peak * (1.0 + worst) * (1.0 + 1e-12):
            held[kept, [H_LO, H_HI, H_CASH, H_POS, H_TOP, H_CHI, H_CLO, H_KEY]] = (
                lo, hi, cash, pos, top, c_hi, c_lo, low / peak,
            )  # fmt: skip
            kept += 1
        top = peak
    stack = np.empty((STACK_ROWS, 2), dtype=np.int64)
    got = kept_drawdown_nb(close, ranges, held, kept, worst, stack)
    assert top == want_top
    assert got == want
