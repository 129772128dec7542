"""The ML feature function is causal (the project's own check, prefix and scrambled future,
on real bars) and its hash moves with the code and the windows."""

from __future__ import annotations

import numpy as np

import toolkit as tk
from toolkit.ml.features import FEATURE_NAMES, feature_hash, features
from toolkit.strategies import unregister


def test_every_feature_column_is_causal_on_real_bars() -> None:
    # each column as a one-number-per-bar "strategy", so tk.check_causal judges it
    @tk.strategy(params=[tk.Param("column", int, 0, 0, len(FEATURE_NAMES) - 1)])
    def ml_feature_column(high, low, close, volume, column):  # type: ignore[no-untyped-def]
        return features(high, low, close, volume, 5, 20)[:, column]

    try:
        spy = tk.load("SPY", start="2019-01-01", end="2020-12-31")
        sets = [{"column": k} for k in range(len(FEATURE_NAMES))]
        report = tk.check_causal(ml_feature_column, spy, sets, cuts=4, random_sets=0, seed=1)
        assert report.passed, str(report)
        assert len(report.parameter_sets) == len(FEATURE_NAMES)
    finally:
        unregister("ml_feature_column")


def test_features_are_hand_checkable_and_nan_only_in_warm_up() -> None:
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
    high, low, volume = close * 1.01, close * 0.99, rng.uniform(1e5, 2e5, 60)
    x = features(high, low, close, volume, 5, 20)
    assert x.shape == (60, len(FEATURE_NAMES))
    assert np.isnan(x[:20]).all() and np.isfinite(x[20:]).all()
    lr = np.diff(np.log(close))
    t = 40
    np.testing.assert_allclose(x[t, 0], lr[t - 1], rtol=1e-12)
    np.testing.assert_allclose(x[t, 1], lr[t - 5 : t].sum(), rtol=1e-12)
    np.testing.assert_allclose(x[t, 3], lr[t - 5 : t].std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(x[t, 4], lr[t - 20 : t].std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(x[t, 6], 0.02, rtol=1e-12)
    np.testing.assert_allclose(
        x[t, 7], np.log(volume[t] / volume[t - 19 : t + 1].mean()), rtol=1e-12
    )


def test_feature_hash_names_code_and_windows() -> None:
    assert feature_hash(5, 20) == feature_hash(5, 20)
    assert len({feature_hash(5, 20), feature_hash(5, 21), feature_hash(4, 20)}) == 3
