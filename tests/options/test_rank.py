"""IV rank and percentile: a tiny series by hand, pandas' rolling window as the oracle on the
VIX history, and partial windows labelled as such (the option EOD files' own 30-day IV)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.data import load_option_quotes
from toolkit.errors import DataError
from toolkit.options.rank import iv_rank, vix_rank
from toolkit.options.surface import atm_iv_history


def test_rank_and_percentile_by_hand() -> None:
    iv = pd.Series([10.0, 12.0, 11.0, 15.0, 13.0, 13.0])
    out = iv_rank(iv, window=3, min_periods=2)
    # day 1: window [10, 12]: rank (12-10)/(12-10) = 100, earlier [10] all below: 100
    # day 2: [10, 12, 11]: rank (11-10)/2 = 50, earlier [10, 12]: one below: 50
    # day 3: [12, 11, 15]: rank 100, earlier [12, 11] both below: 100
    # day 4: [11, 15, 13]: rank (13-11)/4 = 50, earlier [11, 15]: 50
    # day 5: [15, 13, 13]: rank 0, earlier [15, 13]: none strictly below: 0
    np.testing.assert_allclose(out["iv_rank"], [np.nan, 100, 50, 100, 50, 0])
    np.testing.assert_allclose(out["iv_percentile"], [np.nan, 100, 50, 100, 50, 0])
    assert out["window_days"].tolist() == [1, 2, 3, 3, 3, 3]
    assert out["full_window"].tolist() == [False, False, True, True, True, True]
    full_only = iv_rank(iv, window=3)
    assert full_only["iv_rank"].isna().tolist() == [True, True, False, False, False, False]


def test_flat_window_and_missing_values() -> None:
    out = iv_rank(pd.Series([0.2, 0.2, 0.2]), window=3)
    assert np.isnan(out["iv_rank"].iloc[2]) and out["iv_percentile"].iloc[2] == 0
    gap = iv_rank(pd.Series([0.1, np.nan, 0.3, 0.2]), window=3, min_periods=2)
    assert np.isnan(gap["iv_rank"].iloc[1])
    assert gap["window_days"].tolist() == [1, 0, 2, 2]  # NaN is not an observation
    assert gap["iv_rank"].iloc[2] == pytest.approx(100)  # window [0.1, nan, 0.3] -> [0.1, 0.3]
    assert gap["iv_rank"].iloc[3] == 0  # window [nan, 0.3, 0.2] -> [0.3, 0.2]


def test_bad_windows() -> None:
    with pytest.raises(DataError, match=r"window=1 must be at least 2"):
        iv_rank(pd.Series([0.1, 0.2]), window=1)
    with pytest.raises(DataError, match=r"min_periods=300 must be between 2 and window=252"):
        iv_rank(pd.Series([0.1, 0.2]), min_periods=300)


def test_vix_rank_equals_pandas_rolling() -> None:
    out = vix_rank("VIX")
    closes = out["iv"]
    roll = closes.rolling(252)
    lo, hi = roll.min(), roll.max()
    np.testing.assert_allclose(out["iv_rank"], 100 * (closes - lo) / (hi - lo), rtol=1e-12)
    pct = roll.apply(lambda w: 100 * np.mean(w[:-1] < w[-1]), raw=True)
    np.testing.assert_allclose(out["iv_percentile"], pct, rtol=1e-12)
    assert out["full_window"].sum() == len(out) - 251
    # the 5 February 2018 spike (VIX 37.32) was the year's high
    assert out.loc["2018-02-05", "iv_rank"] == 100 and out.loc["2018-02-05", "iv"] == 0.3732


def test_option_file_rank_is_a_labelled_partial_window() -> None:
    quotes = load_option_quotes("SPXW_eod_2018-01-02_2018-02-28_2expiries.csv")
    days = sorted(quotes["quote_date"].unique())[:8]
    history = atm_iv_history(quotes[quotes["quote_date"].isin(days)])
    # one expiry per date in this file: the 30-day vol is the front expiry's, flat
    assert (history["method"] == "extrapolated").all() and (history["expiries"] == 1).all()
    assert history["days_before"].tolist() == pytest.approx([29, 28, 27, 26, 23, 22, 21, 20])
    assert history["iv"].between(0.05, 0.2).all()
    ranked = iv_rank(history["iv"], min_periods=5)
    assert ranked["window_days"].tolist() == list(range(1, 9))
    assert not ranked["full_window"].any()
    assert ranked["iv_rank"].iloc[:4].isna().all() and ranked["iv_rank"].iloc[4:].notna().all()
    # five days before expiry the front month is too short to stand for 30 days: no value
    late = atm_iv_history(quotes[quotes["quote_date"] == "2018-01-26"])
    assert late["method"].tolist() == ["no bracket"] and np.isnan(late["iv"].iloc[0])
    assert late["expiries"].tolist() == [0]
