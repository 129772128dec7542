"""Sensitivity: responses equal their definitions, plateau scores, cost and data stress."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.analysis import plateau_score, response, stress


def _table(values: np.ndarray) -> pd.DataFrame:
    """A synthetic sweep result: metric on a 5 x 5 grid of (a, b)."""
    a, b = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    return pd.DataFrame({"a": a.ravel(), "b": b.ravel(), "sharpe": values.ravel()})


def test_plateau_scores_hand_computed() -> None:
    flat = _table(np.ones((5, 5)))
    flat.loc[12, "sharpe"] = 1.1  # optimum at the centre, everything around within 25%
    res = plateau_score(flat, ["a", "b"], radius=1)
    assert res["neighbours"] == 8 and res["score"] == 1.0
    spike = _table(np.zeros((5, 5)))
    spike.loc[12, "sharpe"] = 2.0
    spike.loc[13, "sharpe"] = 1.6  # one neighbour within 25% of 2.0
    res = plateau_score(spike, ["a", "b"], radius=1)
    assert res["score"] == pytest.approx(1 / 8)
    assert res["best"] == {"a": 2, "b": 2}


def test_response_one_and_two_parameters() -> None:
    t = _table(np.arange(25.0).reshape(5, 5))
    one = response(t, "a", "sharpe")
    np.testing.assert_allclose(one.to_numpy(), [2, 7, 12, 17, 22])  # mean over b
    two = response(t, ["a", "b"], "sharpe")
    np.testing.assert_allclose(two.to_numpy(), np.arange(25.0).reshape(5, 5))


def test_stress_scenarios_cost_more_and_noise_is_reproducible() -> None:
    bars = tk.load("SPY", start="2012-01-01", end="2018-12-31")
    params = {"fast": 10, "slow": 40}
    s = tk.EngineSettings(commission=tk.ibkr_fixed(), slippage_bps=1.0)
    table = stress(bars, "sma_cross", params, s, noise_runs=4, seed=3)
    base = table.loc["baseline"]
    assert base["sharpe"] == pytest.approx(
        tk.backtest(bars, "sma_cross", params, s).metrics()["sharpe"]
    )
    assert table.loc["commission x2", "commissions"] == pytest.approx(
        2 * base["commissions"], rel=0.02
    )
    assert table.loc["slippage +5 bps", "final_equity"] < base["final_equity"]
    assert table.loc["both", "final_equity"] <= table.loc["commission x2", "final_equity"]
    again = stress(bars, "sma_cross", params, s, noise_runs=4, seed=3)
    pd.testing.assert_frame_equal(table, again)
    assert "price noise 10 bps (worst)" in table.index


def test_price_noise_on_a_panel_jitters_each_symbol_and_keeps_bars_valid() -> None:
    from toolkit.analysis.sensitivity import _jitter

    panel = tk.load_many(["SPY", "TLT"], start="2018-01-01", end="2019-12-31")
    noisy = _jitter(panel, 0.001, np.random.default_rng(1))
    ratio = noisy["close"] / panel["close"]
    assert not np.allclose(ratio["SPY"], ratio["TLT"])  # independent per symbol
    for f in ("open", "high", "low"):  # one factor per bar and symbol: bars stay consistent
        np.testing.assert_allclose(noisy[f] / panel[f], ratio, rtol=1e-12)
    table = stress(panel, "tsmom", {"lookback": 63}, tk.EngineSettings(), noise_runs=2)
    assert table.loc["baseline", "sharpe"] == pytest.approx(
        tk.backtest(panel, "tsmom", {"lookback": 63}).metrics()["sharpe"], rel=1e-12
    )


def test_stress_runs_under_the_risk_limits_and_weights() -> None:
    bars = tk.load("SPY", start="2008-01-01", end="2018-12-31")
    params = {"fast": 10, "slow": 40}
    s = tk.EngineSettings(commission=tk.ibkr_fixed())
    risk = tk.RiskLimits(max_order=30_000.0, daily_loss=0.02)
    table = stress(bars, "sma_cross", params, s, noise_runs=2, seed=1, weights=[0.9], risk=risk)
    limited = tk.backtest(bars, "sma_cross", params, s, [0.9], risk).metrics()
    for key in ("sharpe", "final_equity", "trades", "commissions"):
        assert table.loc["baseline", key] == pytest.approx(limited[key], rel=1e-12)
    free = stress(bars, "sma_cross", params, s, noise_runs=2, seed=1, weights=[0.9])
    assert table.loc["baseline", "final_equity"] != pytest.approx(
        free.loc["baseline", "final_equity"], rel=1e-6
    )
