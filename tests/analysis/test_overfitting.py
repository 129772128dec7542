"""Deflated Sharpe and PBO: hand-computed small cases, noise vs a planted edge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toolkit.analysis import (
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    probability_of_backtest_overfitting,
)


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_psr_hand_computed() -> None:
    # SR 0.1 per period, T = 253, normal returns: z = 0.1 sqrt(252) / sqrt(1 + 0.5 * 0.01)
    z = 0.1 * math.sqrt(252) / math.sqrt(1 + 0.5 * 0.01)
    assert probabilistic_sharpe(0.1, 253) == pytest.approx(_phi(z), abs=1e-12)
    # negative skew and fat tails widen the denominator: 1 + 0.5*0.1 + (6-1)/4*0.01
    z2 = 0.1 * math.sqrt(252) / math.sqrt(1 + 0.05 + 1.25 * 0.01)
    assert probabilistic_sharpe(0.1, 253, skew=-0.5, kurtosis=6) == pytest.approx(
        _phi(z2), abs=1e-12
    )


def test_expected_max_sharpe_hand_computed() -> None:
    # N = 100 trials, V = 0.01: SR0 = 0.1 ((1-g) Phi^-1(0.99) + g Phi^-1(1 - 1/(100 e)))
    from statistics import NormalDist

    g = 0.5772156649015329
    nd = NormalDist()
    expected = 0.1 * ((1 - g) * nd.inv_cdf(0.99) + g * nd.inv_cdf(1 - 1 / (100 * math.e)))
    assert expected_max_sharpe(100, 0.01) == pytest.approx(expected, rel=1e-12)
    assert expected_max_sharpe(1, 0.01) == 0.0
    assert expected_max_sharpe(1000, 0.01) > expected_max_sharpe(10, 0.01)


def test_pbo_hand_computed_two_splits() -> None:
    # two trials, two blocks; trial 0 wins block A but loses block B, trial 1 the reverse
    a = np.array([[0.02, 0.00], [0.01, 0.00], [0.03, 0.01], [0.02, -0.01]])  # block A rows
    b = np.array([[-0.01, 0.02], [0.00, 0.01], [-0.02, 0.03], [0.01, 0.02]])  # block B rows
    res = probability_of_backtest_overfitting(np.vstack([a, b]), n_splits=2)
    # IS = A -> best trial 0 -> OOS rank 1 of 2 -> w = 1/3 -> logit ln(1/2) < 0; same for IS = B
    np.testing.assert_allclose(res.logits, [math.log(0.5), math.log(0.5)])
    assert res.pbo == 1.0
    consistent = np.vstack(
        [a[:, ::-1] * 0 + np.array([0.02, 0.0]) + a * 0.1, b * 0.1 + np.array([0.02, 0.0])]
    )
    assert probability_of_backtest_overfitting(consistent, n_splits=2).pbo == 0.0


def test_noise_is_overfit_and_not_significant() -> None:
    rng = np.random.default_rng(0)
    trials = rng.normal(0.0, 0.01, size=(1000, 60))
    pbo = probability_of_backtest_overfitting(trials, n_splits=10)
    assert pbo.pbo > 0.3
    best = int(np.argmax(trials.mean(axis=0) / trials.std(axis=0)))
    sr = trials.mean(axis=0) / trials.std(axis=0, ddof=1)
    dsr = deflated_sharpe(trials[:, best], n_trials=60, sharpe_variance=float(sr.var()))
    assert not dsr.significant
    assert dsr.sharpe > 0  # the selected noise looks good in-sample ...
    assert dsr.sharpe_threshold > dsr.sharpe * 0.5  # ... but not against the trials it beat


def test_planted_edge_is_significant_and_not_overfit() -> None:
    rng = np.random.default_rng(1)
    trials = rng.normal(0.0, 0.01, size=(2000, 40))
    trials[:, 17] += 0.0015  # one trial with a real edge: per-period Sharpe about 0.15
    pbo = probability_of_backtest_overfitting(trials, n_splits=10)
    assert pbo.pbo < 0.1
    sr = trials.mean(axis=0) / trials.std(axis=0, ddof=1)
    best = int(np.argmax(sr))
    assert best == 17
    dsr = deflated_sharpe(trials[:, best], n_trials=40, sharpe_variance=float(sr.var()))
    assert dsr.significant
    assert dsr.sharpe > dsr.sharpe_threshold


def test_bad_inputs() -> None:
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match="even number"):
        probability_of_backtest_overfitting(np.zeros((100, 3)), n_splits=5)
    with pytest.raises(ConfigError, match="at least 2 trials"):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
