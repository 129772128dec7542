"""A held stretch folded at once (price tables) equals folding every bar: the sums of r, r^2
and min(r, 0)^2 to 1e-12, the running peak and the maximum drawdown exactly."""

from __future__ import annotations

import numpy as np

import toolkit as tk
from toolkit.metrics._kernels import (
    MAX_TERMS,
    P_TERMS,
    STACK_ROWS,
    close_range_nb,
    fold_drawdown_nb,
    fold_return_nb,
    held_drawdown_nb,
    held_sums_nb,
    held_terms_nb,
    price_tables_nb,
)


def _bar_by_bar(
    close: np.ndarray, lo: int, hi: int, cash: float, pos: float, top: float, worst: float
) -> tuple[float, float, float, float, float]:
    s1 = s2 = down = 0.0
    prev = cash + pos * close[lo - 1]
    for t in range(lo, hi):
        eq = cash + pos * close[t]
        s1, s2, down = fold_return_nb(eq, prev, s1, s2, down)
        top, worst = fold_drawdown_nb(eq, top, worst)
        prev = eq
    return s1, s2, down, top, worst


def test_held_stretches_on_real_closes_equal_the_bar_by_bar_fold() -> None:
    rng = np.random.default_rng(5)
    checked = 0
    for symbol in ("SPY", "AAPL", "TLT"):
        close = np.ascontiguousarray(tk.load(symbol)["close"].to_numpy(np.float64))
        prefix, ranges = price_tables_nb(close)
        stack = np.empty((STACK_ROWS, 2), dtype=np.int64)
        for _ in range(150):
            lo = int(rng.integers(1, len(close) - 40))
            hi = int(rng.integers(lo + 1, min(len(close), lo + 3000)))
            pos = float(rng.choice([1.0, 37.0, 250.0, 1e4]))
            cash = float(rng.uniform(0.0, 1.5)) * close[lo - 1]  # what whole shares leave
            eq0 = cash + pos * close[lo - 1]
            top = eq0 * float(rng.choice([1.0, 1.3, 2.0]))
            worst = -float(rng.choice([0.0, 0.05, 0.3, 0.6]))
            want = _bar_by_bar(close, lo, hi, cash, pos, top, worst)
            c_hi, c_lo = close_range_nb(ranges, lo, hi)
            assert (c_hi, c_lo) == (close[lo:hi].max(), close[lo:hi].min())
            got_top, got_worst = held_drawdown_nb(
                close, ranges, lo, hi, cash, pos, top, worst, stack, c_hi, c_lo
            )
            assert (got_top, got_worst) == want[3:]
            k = cash / pos
            terms = held_terms_nb(k, min(c_lo, close[lo - 1]))
            if terms == 0:
                continue
            s1, s2, down, err = held_sums_nb(prefix, lo, hi, k)
            if err > 1e-13:
                continue
            np.testing.assert_allclose((s1, s2, down), want[:3], rtol=1e-10, atol=1e-12)
            checked += 1
    assert checked > 200


def test_rounding_bound_covers_every_terms_magnitudes() -> None:
    # held_sums_nb bounds the rounding of its prefix differences in closed form from term 0's
    # magnitudes and two running columns; it must never be below the sum over every term it
    # replaced (sum_j (j + 1) |k|^j x the six magnitudes of term j at both ends), including on
    # a series whose early closes are tiny (where the bound matters)
    rng = np.random.default_rng(11)
    tiny_start = np.concatenate((np.linspace(0.02, 1.0, 50), np.linspace(1.0, 80.0, 950)))
    series = [np.ascontiguousarray(tk.load("SPY")["close"].to_numpy(np.float64)), tiny_start]
    for close in series:
        prefix, _ = price_tables_nb(close)
        for _ in range(300):
            lo = int(rng.integers(1, len(close) - 2))
            hi = int(rng.integers(lo + 1, len(close)))
            k = float(rng.choice([1e-4, 0.05, 0.5, 3.0, 40.0])) * float(rng.choice([1.0, -1.0]))
            *_, err = held_sums_nb(prefix, lo, hi, k)
            full = 0.0
            for j in range(MAX_TERMS):
                c = P_TERMS + 3 * j
                mags = np.abs(prefix[[lo, hi], c : c + 3]).sum()
                full += (j + 1) * abs(k) ** j * mags
            assert err >= full * 4.5e-16 * (1 - 1e-12)
