"""Monte Carlo: reproducible, correct path statistics, sensible distributions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import toolkit as tk
from toolkit.analysis import fan_chart, monte_carlo, trade_returns
from toolkit.analysis._mc_kernels import fold_path_nb, simulate_paths_nb


@pytest.fixture(scope="module")
def result():
    return tk.backtest(tk.load("SPY", start="2005-01-01"), "sma_cross", {"fast": 10, "slow": 40})


def test_seeded_and_reproducible(result) -> None:
    a = monte_carlo(result, "block_bootstrap", n_paths=500, seed=5)
    b = monte_carlo(result, "block_bootstrap", n_paths=500, seed=5)
    c = monte_carlo(result, "block_bootstrap", n_paths=500, seed=6)
    assert a.paths.equals(b.paths)
    assert not a.paths.equals(c.paths)


def test_trade_shuffle_keeps_final_equity_and_changes_drawdowns(result) -> None:
    mc = monte_carlo(result, "trade_shuffle", n_paths=300, seed=1)
    r = trade_returns(result).to_numpy()
    expected = result.settings.init_cash * np.prod(1 + r)
    np.testing.assert_allclose(mc.paths["final_equity"], expected, rtol=1e-10)
    assert mc.paths["max_drawdown"].nunique() > 10


def test_path_statistics_hand_computed() -> None:
    # wealth 1.1, 0.88, 0.924, 0.8316, 1.08108, 1.027026: peak 1.1 after step 1, then under
    # water for 5 steps; deepest at 0.8316 / 1.1 - 1
    path = np.array([0.1, -0.2, 0.05, -0.1, 0.3, -0.05])
    stats = np.empty(5)
    fan = np.empty(2)
    fold_path_nb(path, 6.0, 0.15, np.array([2, 6]), fan, stats)
    assert stats[0] == pytest.approx(1.027026)
    assert stats[1] == pytest.approx(0.027026)  # six returns per "year": CAGR = growth
    assert stats[2] == pytest.approx(0.8316 / 1.1 - 1)
    assert stats[3] == 5
    assert stats[4] == 1.0
    np.testing.assert_allclose(fan, [0.88, 1.027026])


def test_shuffled_paths_are_permutations() -> None:
    source = np.array([0.1, -0.2, 0.05, -0.1, 0.3, -0.05])
    stats = np.empty((50, 5))
    fan = np.empty((50, 1))
    simulate_paths_nb(source, 50, 6, 0, 1.0, 0, 6.0, 0.15, np.array([6]), stats, fan)
    np.testing.assert_allclose(stats[:, 0], np.prod(1 + source))  # order never changes growth
    assert len(np.unique(stats[:, 2].round(12))) > 3  # but it changes the drawdown


def test_block_bootstrap_matches_source_moments(result) -> None:
    mc = monte_carlo(result, "block_bootstrap", n_paths=2000, mean_block=10, seed=2)
    r = result.returns.to_numpy()
    expected_log_growth = len(r) * np.mean(np.log1p(r))
    log_growth = np.log(mc.paths["final_equity"] / result.settings.init_cash)
    assert (
        abs(log_growth.mean() - expected_log_growth) < 3 * log_growth.std() / np.sqrt(2000) + 0.05
    )
    q = mc.percentiles()
    assert q.loc[0.05, "max_drawdown"] <= q.loc[0.5, "max_drawdown"] <= q.loc[0.95, "max_drawdown"]
    assert 0.0 <= mc.prob_drawdown <= 1.0
    ax = fan_chart(mc)
    assert len(ax.collections) == 2 and ax.get_yscale() == "log"
    plt.close("all")


def test_bootstrap_of_trades(result) -> None:
    mc = monte_carlo(result, "trade_bootstrap", n_paths=1000, seed=3, dd_threshold=0.1)
    assert mc.paths["final_equity"].std() > 0
    assert mc.prob_drawdown == pytest.approx((mc.paths["max_drawdown"] <= -0.1).mean())
