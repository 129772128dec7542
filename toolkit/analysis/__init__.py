"""Robustness analysis: walk-forward, Monte Carlo, sensitivity and overfitting statistics."""

from toolkit.analysis.montecarlo import MonteCarloResult, fan_chart, monte_carlo, trade_returns
from toolkit.analysis.overfitting import (
    DeflatedSharpe,
    PBOResult,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    probability_of_backtest_overfitting,
)
from toolkit.analysis.sensitivity import plateau_score, response, stress
from toolkit.analysis.walkforward import (
    Fold,
    WalkForwardResult,
    make_folds,
    plot_walk_forward,
    walk_forward,
)

__all__ = [
    "DeflatedSharpe",
    "Fold",
    "MonteCarloResult",
    "PBOResult",
    "WalkForwardResult",
    "deflated_sharpe",
    "expected_max_sharpe",
    "fan_chart",
    "make_folds",
    "monte_carlo",
    "plateau_score",
    "plot_walk_forward",
    "probabilistic_sharpe",
    "probability_of_backtest_overfitting",
    "response",
    "stress",
    "trade_returns",
    "walk_forward",
]
