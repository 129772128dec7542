"""Walk-forward: fold geometry, no leakage, stitched equity and diagnostics."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.analysis import make_folds, walk_forward
from toolkit.errors import ConfigError

GRID = {"fast": [5, 10, 20, 40], "slow": [50, 100, 150, 200]}


def test_rolling_and_anchored_folds_by_bars() -> None:
    idx = pd.date_range("2000-01-01", periods=1000, freq="D", tz="UTC")
    rolling = make_folds(idx, n_folds=None, train=300, test=100, gap=5)
    assert [f.test_start for f in rolling] == [305, 405, 505, 605, 705, 805]
    assert all(f.train_stop - f.train_start == 300 for f in rolling)
    assert all(f.test_start - f.train_stop == 5 for f in rolling)
    anchored = make_folds(idx, n_folds=3, train=300, test=100, anchored=True)
    assert [f.train_start for f in anchored] == [0, 0, 0]
    assert [f.train_stop for f in anchored] == [300, 400, 500]
    by_count = make_folds(idx, n_folds=10)
    assert len(by_count) == 10 and by_count[-1].test_stop <= 1000
    assert by_count[0].train_stop - by_count[0].train_start == 3 * (
        by_count[0].test_stop - by_count[0].test_start
    )


def test_calendar_windows() -> None:
    idx = tk.load("SPY", start="2010-01-01", end="2019-12-31").index
    folds = make_folds(idx, n_folds=None, train="3Y", test="1Y")
    assert len(folds) == 7
    first = folds[0]
    # three years from the first bar (2010-01-04), then one-year test windows on that schedule
    assert idx[first.train_start] == pd.Timestamp("2010-01-04", tz="UTC")
    assert idx[first.test_start] == pd.Timestamp("2013-01-04", tz="UTC")
    assert idx[first.test_stop - 1] == pd.Timestamp("2014-01-03", tz="UTC")
    assert idx[folds[-1].test_start] == pd.Timestamp("2019-01-04", tz="UTC")


def test_no_leakage_out_of_sample_bars_never_change_the_choice() -> None:
    bars = tk.load("SPY", start="2006-01-01", end="2019-12-31")
    folds = make_folds(bars.index, n_folds=5, gap=10)
    base = walk_forward(bars, "sma_cross", GRID, folds=folds)
    rng = np.random.default_rng(3)
    for f in folds:
        scrambled = bars.copy()
        shock = rng.uniform(0.5, 1.5, len(bars) - f.train_stop)
        for col in ("open", "high", "low", "close"):
            scrambled.iloc[f.train_stop :, scrambled.columns.get_loc(col)] *= shock
        changed = walk_forward(scrambled, "sma_cross", GRID, folds=folds)
        row_a = base.folds.loc[f.number, ["fast", "slow", "is_objective"]]
        row_b = changed.folds.loc[f.number, ["fast", "slow", "is_objective"]]
        pd.testing.assert_series_equal(row_a, row_b)


def test_stitched_equity_and_diagnostics() -> None:
    bars = tk.load("QQQ", start="2005-01-01")
    wf = walk_forward(bars, "sma_cross", GRID, n_folds=6, objective="calmar")
    folds = wf.folds
    assert len(folds) == 6
    # OOS windows are consecutive and the stitched curve compounds their returns
    assert wf.oos_returns.index.is_monotonic_increasing and wf.oos_returns.index.is_unique
    assert wf.oos_equity.iloc[-1] == pytest.approx(100_000 * np.prod(1 + wf.oos_returns.to_numpy()))
    # each fold's OOS result is the engine's result for those bars and parameters
    f = folds.iloc[2]
    params = {"fast": f.fast, "slow": f.slow}
    hist = bars.loc[: f.test_end]
    target = tk.engine.strategy_targets(hist, tk.get_strategy("sma_cross"), params).loc[
        f.test_start :
    ]
    direct = tk.simulate(bars.loc[f.test_start : f.test_end], target)
    assert direct.metrics()["sharpe"] == pytest.approx(f.oos_sharpe, rel=1e-12, nan_ok=True)
    stab = wf.stability()
    assert set(stab.index) >= {"fast", "slow"}
    assert 0 < stab.loc["fast", "mode_share"] <= 1
    s = wf.summary()
    assert s["efficiency"] == pytest.approx(wf.efficiency)
    assert np.isfinite(s["oos_sharpe"])


def test_bad_windows() -> None:
    idx = pd.date_range("2000-01-01", periods=100, freq="D", tz="UTC")
    with pytest.raises(ConfigError, match="no complete fold fits"):
        make_folds(idx, n_folds=None, train=90, test=20)
    with pytest.raises(ConfigError, match="give both train and test"):
        make_folds(idx, train=50)
    with pytest.raises(ConfigError, match="neither a bar count nor a span"):
        make_folds(idx, n_folds=None, train="lots", test="1Y")


@pytest.mark.parametrize(("train", "test"), [("5Y", "1Y"), ("2Y", "6M"), (1260, 252), (500, 63)])
def test_gap_comes_off_training_and_oos_is_contiguous(train: int | str, test: int | str) -> None:
    # issue 11 item 6: with calendar spans the gap used to shift every test window's start,
    # leaving `gap` bars of each test year in no fold (95 of 5,029 OOS bars for the shipped
    # spy_sma_cross config)
    idx = tk.load("SPY", start="2000-01-01", end="2020-12-31").index
    folds = make_folds(idx, n_folds=None, train=train, test=test, gap=5)
    assert len(folds) >= 3
    for prev, nxt in itertools.pairwise(folds):
        assert nxt.test_start == prev.test_stop, (prev, nxt)
    for f in folds:
        assert f.test_start - f.train_stop == 5
        assert f.train_start < f.train_stop


def test_stitched_oos_record_has_every_bar_of_the_span() -> None:
    bars = tk.load("SPY", start="2000-01-01", end="2012-12-31")
    wf = walk_forward(
        bars, "sma_cross", {"fast": [10, 20], "slow": [50, 100]}, train="5Y", test="1Y", gap=5
    )
    first, last = wf.folds["test_start"].iloc[0], wf.folds["test_end"].iloc[-1]
    span = bars.loc[first:last].index
    assert wf.oos_returns.index.equals(span)
    assert len(wf.oos_equity) == len(span)


def test_a_panel_is_optimised_and_traded_as_one_book() -> None:
    from toolkit.sweep import sweep_portfolio

    panel = tk.load_many(["SPY", "TLT"], start="2010-01-01", end="2019-12-31")
    grid = {"lookback": [63, 252], "vol_window": [20, 60]}
    wf = tk.walk_forward(panel, "tsmom", grid, n_folds=3, weights=[0.6, 0.4])
    assert len(wf.folds) == 3
    for _, fold in wf.folds.iterrows():
        in_sample = panel.loc[fold["train_start"] : fold["train_end"]]
        rows = sweep_portfolio(in_sample, "tsmom", grid, weights=[0.6, 0.4])
        best = rows.iloc[int(np.argmax(rows["sharpe"].to_numpy()))]
        assert (fold["lookback"], fold["vol_window"]) == (best["lookback"], best["vol_window"])
        assert fold["is_sharpe"] == pytest.approx(best["sharpe"], rel=1e-12)
    # the out-of-sample record covers every test bar once
    tests = [panel.loc[f["test_start"] : f["test_end"]].index for _, f in wf.folds.iterrows()]
    assert wf.oos_returns.index.equals(tests[0].append(tests[1:]))


@pytest.mark.parametrize("panel", [False, True])
def test_risk_limits_and_weights_apply_in_and_out_of_sample(panel: bool) -> None:
    """[risk] and weights reach the in-sample sweep and the out-of-sample runs (they were
    dropped: walk-forward took no limits and scored one symbol at full weight)."""
    from toolkit.sweep import sweep, sweep_portfolio

    symbols = ["SPY", "TLT"] if panel else ["SPY"]
    bars = (
        tk.load_many(symbols, start="2006-01-01", end="2019-12-31")
        if panel
        else tk.load("SPY", start="2006-01-01", end="2019-12-31")
    )
    grid = {"fast": [10, 20], "slow": [100, 200]}
    risk = tk.RiskLimits(max_position=45_000.0, max_drawdown=0.08)
    weights = [0.6, 0.5] if panel else [0.8]
    s = tk.EngineSettings()
    wf = walk_forward(bars, "sma_cross", grid, s, n_folds=3, weights=weights, risk=risk)
    spec = tk.get_strategy("sma_cross")
    index = pd.DatetimeIndex(bars.index)
    for _, fold in wf.folds.iterrows():
        in_sample = bars.loc[fold["train_start"] : fold["train_end"]]
        rows = (
            sweep_portfolio(in_sample, "sma_cross", grid, s, weights, risk)
            if panel
            else sweep(in_sample, "sma_cross", grid, s, progress=False, risk=risk, weights=weights)
        )
        best = rows.iloc[int(np.argmax(rows["sharpe"].to_numpy()))]
        assert (fold["fast"], fold["slow"]) == (best["fast"], best["slow"])
        assert fold["is_sharpe"] == pytest.approx(best["sharpe"], rel=1e-12)
        params = {"fast": fold["fast"], "slow": fold["slow"]}
        start = int(index.get_loc(fold["test_start"]))
        target = tk.engine.strategy_targets(bars.loc[: fold["test_end"]], spec, params)
        oos = tk.simulate(
            bars.loc[fold["test_start"] : fold["test_end"]], target.iloc[start:], s, weights, risk
        )
        assert oos.metrics()["sharpe"] == pytest.approx(fold["oos_sharpe"], rel=1e-12, nan_ok=True)
    free = walk_forward(bars, "sma_cross", grid, s, n_folds=3, weights=weights)
    assert not np.allclose(free.oos_returns.to_numpy(), wf.oos_returns.to_numpy())
