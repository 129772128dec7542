"""Backtest-overfitting statistics: Deflated Sharpe Ratio and Probability of Backtest Overfitting.

* Probabilistic and Deflated Sharpe Ratio: Bailey & Lopez de Prado (2012), "The Sharpe Ratio
  Efficient Frontier", J. of Risk 15(2); Bailey & Lopez de Prado (2014), "The Deflated Sharpe
  Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality", J. of
  Portfolio Management 40(5).
* PBO by combinatorially symmetric cross-validation (CSCV): Bailey, Borwein, Lopez de Prado &
  Zhu (2015/2017), "The Probability of Backtest Overfitting", J. of Computational Finance 20(4).

Sharpe ratios here are per period (not annualised) unless a name says otherwise.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError

_N = NormalDist()
EULER_GAMMA = 0.5772156649015329


def probabilistic_sharpe(
    sharpe: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0, benchmark: float = 0.0
) -> float:
    """PSR: probability that the true per-period Sharpe exceeds ``benchmark``.

    PSR = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)), with g3 the
    skewness and g4 the (non-excess) kurtosis of the returns (Bailey & Lopez de Prado 2012).
    """
    if n_obs < 2:
        raise ConfigError("the probabilistic Sharpe ratio needs at least 2 observations.")
    denom = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if denom <= 0:
        return float("nan")
    return _N.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denom))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """SR0: the expected maximum per-period Sharpe of ``n_trials`` skill-less trials.

    SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))), gamma the
    Euler-Mascheroni constant (Bailey & Lopez de Prado 2014, eq. 2).
    """
    if n_trials < 1:
        raise ConfigError("n_trials must be at least 1.")
    if n_trials == 1:
        return 0.0
    a = _N.inv_cdf(1.0 - 1.0 / n_trials)
    b = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b)


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR of a selected strategy and the inputs that produced it."""

    dsr: float
    sharpe: float
    sharpe_threshold: float
    n_trials: int
    n_obs: int
    skew: float
    kurtosis: float

    @property
    def significant(self) -> bool:
        """True when DSR exceeds 0.95 (the paper's usual confidence level)."""
        return self.dsr > 0.95


def deflated_sharpe(
    returns: pd.Series | np.ndarray, n_trials: int, sharpe_variance: float
) -> DeflatedSharpe:
    """DSR of the strategy whose per-period ``returns`` were selected among ``n_trials``.

    ``sharpe_variance`` is the variance of the per-period Sharpe ratios across the trials
    (e.g. ``(sweep_rows.sharpe / sqrt(252)).var()``). DSR = PSR with benchmark SR0.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 3 or r.std(ddof=1) == 0:
        raise ConfigError("deflated_sharpe needs at least 3 non-constant returns.")
    sr = float(r.mean() / r.std(ddof=1))
    centred = r - r.mean()
    m2 = float((centred**2).mean())
    skew = float((centred**3).mean() / m2**1.5)
    kurt = float((centred**4).mean() / m2**2)
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return DeflatedSharpe(
        probabilistic_sharpe(sr, r.size, skew, kurt, sr0),
        sr,
        sr0,
        n_trials,
        int(r.size),
        skew,
        kurt,
    )


@dataclass(frozen=True)
class PBOResult:
    """CSCV outcome: PBO, the logits per split combination, and the IS/OOS performance pairs."""

    pbo: float
    logits: np.ndarray
    is_best: np.ndarray
    oos_of_best: np.ndarray
    n_splits: int
    n_trials: int


def probability_of_backtest_overfitting(
    trial_returns: pd.DataFrame | np.ndarray, n_splits: int = 16, chunk: int = 512
) -> PBOResult:
    """PBO of choosing the best of N trials by in-sample Sharpe (T x N per-period returns).

    The T rows are cut into ``n_splits`` (even) contiguous blocks; every choice of half the
    blocks is in-sample, the rest out-of-sample. For each choice the IS-best trial's OOS
    relative rank w = rank / (N + 1) gives the logit l = ln(w / (1 - w)); PBO is the share
    of choices with l < 0, i.e. the IS winner falls below the OOS median.
    """
    m = np.asarray(trial_returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ConfigError("PBO needs a T x N matrix of returns with at least 2 trials.")
    if n_splits < 2 or n_splits % 2:
        raise ConfigError(f"n_splits={n_splits} must be an even number >= 2.")
    t, n = m.shape
    if t < 2 * n_splits:
        raise ConfigError(f"{t} rows are too few for {n_splits} splits; use fewer splits.")
    m = np.nan_to_num(m, nan=0.0)
    edges = np.linspace(0, t, n_splits + 1).astype(int)
    s1 = np.array([m[a:b].sum(axis=0) for a, b in itertools.pairwise(edges)])
    s2 = np.array([(m[a:b] ** 2).sum(axis=0) for a, b in itertools.pairwise(edges)])
    rows = np.diff(edges)
    combos = np.array(list(itertools.combinations(range(n_splits), n_splits // 2)))
    logits = np.empty(len(combos))
    best_is = np.empty(len(combos))
    best_oos = np.empty(len(combos))
    for lo in range(0, len(combos), chunk):
        sel = np.zeros((min(chunk, len(combos) - lo), n_splits))
        for i, c in enumerate(combos[lo : lo + chunk]):
            sel[i, c] = 1.0
        n_is = sel @ rows
        is_sr = _rowwise(sel @ s1, sel @ s2, n_is)
        oos_sr = _rowwise((1 - sel) @ s1, (1 - sel) @ s2, t - n_is)
        is_sr = np.where(np.isnan(is_sr), -np.inf, is_sr)
        best = np.argmax(is_sr, axis=1)
        pick = np.arange(len(best))
        oos_best = oos_sr[pick, best]
        # rank 1..N of the IS winner among the OOS results (ties count half)
        below = (oos_sr < oos_best[:, None]).sum(axis=1)
        equal = (oos_sr == oos_best[:, None]).sum(axis=1)
        w = (below + 0.5 * (equal + 1)) / (n + 1)
        logits[lo : lo + len(best)] = np.log(w / (1 - w))
        best_is[lo : lo + len(best)] = is_sr[pick, best]
        best_oos[lo : lo + len(best)] = oos_best
    return PBOResult(float((logits < 0).mean()), logits, best_is, best_oos, n_splits, n)


def _rowwise(s1: np.ndarray, s2: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per-period Sharpe from sums over ``count`` rows (one count per combination row)."""
    c = count[:, None]
    mean = s1 / c
    var = (s2 - s1 * mean) / (c - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, mean / np.sqrt(np.maximum(var, 0.0)), np.nan)
