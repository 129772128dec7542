"""Pairs trading (research/strategies/pairs.py): a synthetic cointegrated pair whose hedge
ratio is known, a hand-computed z-score entry/exit case, causality on real data, the
Benjamini-Hochberg screen shrinking raw discoveries, the deflated Sharpe ratio with every
screened pair as a trial, and the sweep / walk-forward doors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from research.strategies.pairs import (
    pair_trials,
    pairs_dsr,
    pairs_trading,
    select_pairs,
    selections,
    spreads,
)
from toolkit.analysis.overfitting import deflated_sharpe
from toolkit.engine.backtest import strategy_targets
from toolkit.stats import coint_screen

AV = Path(__file__).resolve().parents[2] / "data" / "daily" / "alphavantage"
UNIVERSE = ["XOM", "CVX", "COP", "SLB", "AEP", "DUK", "SO", "JPM", "BAC", "WFC", "KO", "PEP", "PG"]


def _signal(close: np.ndarray, **params: float) -> np.ndarray:
    """The registered signal on a (bars x symbols) close panel."""
    vec = pairs_trading.vector(pairs_trading.resolve(params))
    return pairs_trading.signal(close, close, close, close, np.ones_like(close), vec)


def _synthetic(n: int, beta: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """log x a random walk; log y = beta log x + 0.3 + an AR(1) spread (phi 0.5, sd 1 %)."""
    rng = np.random.default_rng(seed)
    lx = 4.0 + np.cumsum(rng.normal(0.0, 0.02, n))
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = 0.5 * e[t - 1] + rng.normal(0.0, 0.01)
    return beta * lx + 0.3 + e, lx


def test_synthetic_cointegrated_pair_recovers_its_hedge_ratio() -> None:
    ly, lx = _synthetic(600, 1.5, seed=3)
    noise = 4.0 + np.cumsum(np.random.default_rng(9).normal(0.0, 0.02, 600))  # unrelated walk
    window = np.column_stack([ly, lx, noise])[:300]
    chosen = select_pairs(window, fdr=0.05, max_pairs=5)
    assert chosen.attrs["screened"] == 3
    assert [(int(r.i), int(r.j)) for r in chosen.itertuples()] == [(0, 1)]  # only the real pair
    assert chosen["q_value"].iloc[0] < 1e-6
    assert chosen["beta"].iloc[0] == pytest.approx(1.5, abs=0.02)
    # the trades' legs are in the hedge ratio: w_x = -beta w_y, with gross 1 / max_pairs
    close = np.exp(np.column_stack([ly, lx]))
    w = _signal(close, formation=300, trade=300, max_pairs=2, entry=1.5, exit=0.0)
    held = np.flatnonzero(w[:, 0] != 0)
    assert held.size > 20 and held.min() >= 299
    ratio = w[held, 1] / w[held, 0]
    beta = select_pairs(np.log(close[:300]), 0.05, 2)["beta"].iloc[0]
    np.testing.assert_allclose(ratio, -beta, rtol=1e-12)
    np.testing.assert_allclose(np.abs(w[held]).sum(axis=1), 0.5, rtol=1e-12)
    # Kalman mode: the filtered hedge ratio at each entry stays near the true 1.5
    wk = _signal(
        close, formation=300, trade=300, max_pairs=1, entry=1.5, exit=0.0, kalman=1, delta=1e-4
    )
    on = np.flatnonzero(wk[:, 0] != 0)
    assert on.size > 0
    np.testing.assert_allclose(-wk[on, 1] / wk[on, 0], 1.5, atol=0.05)


def test_hand_computed_zscore_entries_and_exits() -> None:
    """After a 60-bar formation window the spread is set to chosen multiples k of the
    window's residual standard deviation, so z = k: entry 2, exit 0.5 gives
    k:    0.0  2.5  1.0  0.3  -0.2  -2.2  -1.0  -0.4  0.1  3.0 (period ends)
    side:  0   -1   -1    0     0    +1    +1     0    0   -1"""
    ly, lx = _synthetic(60, 0.8, seed=11)
    ks = [0.0, 2.5, 1.0, 0.3, -0.2, -2.2, -1.0, -0.4, 0.1, 3.0]
    x_next = lx[-1] + np.cumsum(np.full(len(ks), 0.004))
    # the formation fit, computed independently (numpy least squares with a constant)
    design = np.column_stack([lx, np.ones(60)])
    (beta, alpha), *_ = np.linalg.lstsq(design, ly, rcond=None)
    sd = (ly - design @ [beta, alpha]).std(ddof=1)
    y_next = beta * x_next + alpha + np.array(ks) * sd
    close = np.exp(np.column_stack([np.r_[ly, y_next], np.r_[lx, x_next]]))
    w = _signal(close, formation=60, trade=11, fdr=1.0, max_pairs=1, entry=2.0, exit=0.5)
    z0 = (ly[-1] - beta * lx[-1] - alpha) / sd
    assert abs(z0) < 2.0  # flat on the selection bar itself (bar 59)
    sides = [0, -1, -1, 0, 0, 1, 1, 0, 0, -1]
    wy = np.array([s / (1.0 + abs(beta)) for s in sides])
    np.testing.assert_allclose(w[60:, 0], wy, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(w[60:, 1], -beta * wy, rtol=1e-9, atol=1e-15)
    assert (w[:60] == 0).all()
    # the report's view of the same trade: the z-scores the rules read, and the hedge ratio
    frame = pd.DataFrame(close, index=pd.RangeIndex(70), columns=["Y", "X"])
    view = spreads(frame, {"formation": 60, "trade": 11, "fdr": 1.0, "max_pairs": 1})
    assert (
        list(view["date"]) == list(range(59, 70)) and (view[["y", "x"]] == ["Y", "X"]).all().all()
    )
    np.testing.assert_allclose(view["z"].to_numpy(), [z0, *ks], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(view["hedge"].to_numpy(), beta, rtol=1e-9)
    # the weights of one position are fixed at its entry: bars 61-62 and 65-66 repeat
    assert w[61, 0] == w[62, 0] and w[65, 1] == w[66, 1]


@pytest.mark.parametrize("kalman", [0, 1])
def test_pairs_are_causal_on_real_data(kalman: int) -> None:
    panel = tk.load_many(UNIVERSE[:6], start="2012-01-01", end="2016-12-31")
    params = {"formation": 120, "trade": 40, "fdr": 0.2, "entry": 1.5, "kalman": kalman}
    report = tk.check_causal(pairs_trading, panel, params, cuts=5, random_sets=0, seed=2)
    assert report.passed, report
    assert np.abs(strategy_targets(panel, pairs_trading, params).to_numpy()).sum() > 0


def test_benjamini_hochberg_shrinks_the_raw_discoveries() -> None:
    """13 stocks, 78 pairs: on the full sample and in every formation window the BH
    rejections at 5 % are far fewer than the raw p < 0.05 'discoveries'."""
    close = tk.load_many(UNIVERSE)["close"]
    full = coint_screen(np.log(close))
    raw, bh = int((full["p_value"] < 0.05).sum()), int(full["reject"].sum())
    assert len(full) == 78 and raw >= 5 and bh < raw / 2
    windows = selections(close, formation=252, trade=252, fdr=0.05, max_pairs=5)
    assert (windows["screened"] == 78).all() and len(windows) >= 18
    assert windows["raw_p05"].sum() > 5 * windows["bh"].sum()
    assert (windows["bh"] <= windows["raw_p05"]).all()


def test_deflated_sharpe_counts_every_screened_pair() -> None:
    panel = tk.load_many(UNIVERSE[:4], start="2010-01-01", end="2017-12-31")
    sets = [{"formation": 252, "trade": 126, "entry": e} for e in (1.5, 2.0)]
    trials = pair_trials(panel, sets)
    assert len(trials) == 12 and trials["sharpe_daily"].notna().all()  # 6 pairs x 2 sets
    assert trials.groupby("set")["pair"].nunique().tolist() == [6, 6]
    book = tk.backtest(panel, pairs_trading, {**sets[1], "fdr": 1.0, "max_pairs": 3})
    dsr = pairs_dsr(book.returns, trials)
    variance = float(trials["sharpe_daily"].var(ddof=1))
    assert dsr.n_trials == 12 and dsr.dsr == deflated_sharpe(book.returns, 12, variance).dsr
    # counting every formation window's screen too deflates further
    more = pairs_dsr(book.returns, trials, n_trials=12 * 13)
    assert more.sharpe_threshold > dsr.sharpe_threshold > 0 and more.dsr < dsr.dsr


def test_classic_pair_sweep_rows_are_backtests_and_walk_forward_trades() -> None:
    panel = tk.load_many([str(AV / "EWA.csv"), str(AV / "EWC.csv")], end="2012-12-31")
    base = {"fdr": 1.0, "max_pairs": 1, "kalman": 1}
    rows = tk.sweep(panel, pairs_trading, {**base, "delta": [1e-4, 1e-3]}, progress=False)
    assert len(rows) == 2
    for _, row in rows.iterrows():
        m = tk.backtest(panel, pairs_trading, {**base, "delta": float(row["delta"])}).metrics()
        assert row["total_return"] == pytest.approx(m["total_return"], rel=1e-9, abs=1e-12)
        assert m["trades"] > 0
    wf = tk.walk_forward(
        panel, pairs_trading, {**base, "entry": [1.5, 2.0]}, n_folds=3, objective="total_return"
    )
    assert len(wf.folds) == 3 and wf.folds["oos_trades"].sum() > 0
    assert isinstance(wf.oos_returns, pd.Series) and len(wf.oos_returns) > 0


def test_bad_parameters_are_config_errors() -> None:
    panel = tk.load_many(["KO", "PEP"], start="2015-01-01", end="2016-12-31")
    with pytest.raises(tk.ConfigError, match="exit"):
        tk.backtest(panel, pairs_trading, {"entry": 1.0, "exit": 1.0})
    with pytest.raises(tk.ConfigError, match="two symbols"):
        tk.backtest(tk.load("KO", start="2015-01-01", end="2016-12-31"), pairs_trading, {})
