"""wf.plot(): the stitched out-of-sample equity and each fold's in-sample and out-of-sample
span, with the chosen parameters in the hover label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit as tk


@pytest.fixture(scope="module")
def run():
    bars = tk.load("SPY", start="2014-01-01", end="2020-12-31")
    wf = tk.walk_forward(bars, "sma_cross", {"fast": [10, 20], "slow": [50, 100]}, n_folds=3)
    return bars, wf


def test_equity_and_fold_spans_are_the_walk_forwards(run) -> None:
    bars, wf = run
    fig = wf.plot(bars)
    oos = next(t for t in fig.data if t.name == "walk-forward OOS")
    np.testing.assert_array_equal(oos.y, wf.oos_equity.to_numpy())
    hold = next(t for t in fig.data if t.name == "buy & hold")
    close = bars["close"].reindex(wf.oos_equity.index)
    np.testing.assert_allclose(hold.y, wf.init_cash * close / close.iloc[0])
    folds = wf.folds
    for kind, start, end in (
        ("in-sample", "train_start", "train_end"),
        ("out-of-sample", "test_start", "test_end"),
    ):
        bar = next(t for t in fig.data if t.name == kind)
        assert list(bar.y) == [f"fold {n}" for n in folds["fold"]]
        assert list(pd.DatetimeIndex(bar.base)) == list(folds[start])
        ms = (folds[end] - folds[start]).dt.total_seconds().to_numpy() * 1000.0
        np.testing.assert_array_equal(bar.x, ms)
        objective = "is_objective" if kind == "in-sample" else "oos_objective"
        np.testing.assert_allclose([c[3] for c in bar.customdata], folds[objective])
        for c, (_, row) in zip(bar.customdata, folds.iterrows(), strict=True):
            assert c[2] == ", ".join(f"{p}={row[p]}" for p in wf.param_names)
            assert c[2].startswith(f"fast={row['fast']}, slow={row['slow']}, ")
    assert f"efficiency {wf.efficiency:.2f}" in fig.layout.title.text
    assert len(wf.plot().data) == 3  # no bars: no buy and hold
