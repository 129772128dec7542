"""Indicator kernels against independent computations (pandas, hand-worked values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from toolkit.strategies._indicators import (
    prior_max_nb,
    prior_min_nb,
    return_vol_nb,
    rsi_nb,
    sma_nb,
    sma_rows_nb,
)

_series = arrays(
    np.float64,
    st.integers(2, 200),
    elements=st.floats(1.0, 1000.0, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=100, deadline=None)
@given(x=_series, w=st.integers(1, 50))
def test_sma_matches_pandas_rolling_mean(x: np.ndarray, w: int) -> None:
    ours = sma_nb(x, w)
    ref = pd.Series(x).rolling(w).mean().to_numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-9, equal_nan=True)


@settings(max_examples=50, deadline=None)
@given(x=_series, windows=st.lists(st.integers(-1, 250), min_size=1, max_size=6))
def test_sma_rows_share_one_running_sum_bit_for_bit(x: np.ndarray, windows: list[int]) -> None:
    # the sweep's features compute every window's row from one cumsum, in threads: each row
    # must be exactly sma_nb's (crossings are decided on equal values), warm-up NaN included
    out = np.empty((len(windows), x.shape[0]))
    sma_rows_nb(x, np.array(windows, dtype=np.float64), out)
    for row, w in zip(out, windows, strict=True):
        np.testing.assert_array_equal(row, sma_nb(x, w))


@settings(max_examples=100, deadline=None)
@given(x=_series, w=st.integers(1, 50))
def test_prior_extremes_exclude_the_current_bar(x: np.ndarray, w: int) -> None:
    s = pd.Series(x)
    np.testing.assert_array_equal(prior_max_nb(x, w), s.rolling(w).max().shift(1).to_numpy())
    np.testing.assert_array_equal(prior_min_nb(x, w), s.rolling(w).min().shift(1).to_numpy())


@settings(max_examples=100, deadline=None)
@given(x=_series, w=st.integers(2, 50))
def test_return_vol_matches_direct_std(x: np.ndarray, w: int) -> None:
    # np.std per window, not pandas' online rolling std (which leaves ~1e-7 residue on flat runs)
    r = x[1:] / x[:-1] - 1.0
    ref = np.full(len(x), np.nan)
    for t in range(w, len(x)):
        ref[t] = np.std(r[t - w : t], ddof=1)
    np.testing.assert_allclose(return_vol_nb(x, w), ref, rtol=1e-9, atol=1e-15, equal_nan=True)


def test_rsi_hand_computed() -> None:
    close = np.array([10.0, 11.0, 10.0, 12.0, 12.0, 11.0])
    # window 2: first avg from changes +1, -1 -> gain 0.5, loss 0.5 -> RSI 50 at t=2
    # t=3: +2 -> gain (0.5+2)/2=1.25, loss 0.25 -> 100-100/6
    # t=4: 0 -> gain 0.625, loss 0.125 -> 100-100/6 again
    # t=5: -1 -> gain 0.3125, loss 0.5625 -> 100 - 100/(1+0.5555...)
    out = rsi_nb(close, 2)
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(
        out[2:], [50.0, 100 - 100 / 6, 100 - 100 / 6, 100 - 100 / (1 + 0.3125 / 0.5625)]
    )


def test_rsi_bounds_on_monotone_series() -> None:
    up = np.arange(1.0, 50.0)
    assert np.nanmin(rsi_nb(up, 14)) == 100.0
    assert np.nanmax(rsi_nb(up[::-1].copy(), 14)) == 0.0
