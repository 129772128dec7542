"""Walk-forward training and prediction on one symbol's bars: the body of the ML strategy's
signal, identical in research, the backtest and a live session.

Retraining happens at bars ``T = every, 2 every, ...`` counted from the first bar the signal
sees. At T the model is fitted on the bars of the trailing ``train``-bar window whose
triple-barrier label is already known at T's close (``t1 <= T``: AFML's purging applied to a
walk-forward -- no training label reaches past the decision bar) and predicts bars
T .. T + every - 1. Before the first model the probability is NaN (the strategy is flat).
Every step uses bars [0, t] only, so the signal is causal; the fitted models come from
:data:`toolkit.ml.model.CACHE`, so a live session re-running this on each new bar refits only
at a retraining bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolkit.ml.features import N_FEATURES, feature_hash, features
from toolkit.ml.labels import triple_barrier
from toolkit.ml.model import Fitted, ModelSpec, fit

VOL_COLUMN = 4  # vol_slow: the labels' barrier width scale


@dataclass(frozen=True)
class MLParams:
    """Everything that determines the predictions (all numbers: a strategy's parameters)."""

    fast: int = 5
    slow: int = 20
    horizon: int = 10
    width: float = 1.0
    train: int = 500
    every: int = 63
    min_samples: int = 100
    spec: ModelSpec = field(default_factory=ModelSpec)

    @property
    def feature_hash(self) -> str:
        return feature_hash(self.fast, self.slow)


@dataclass(frozen=True)
class Window:
    """One retraining: the decision bar, the training rows' span and the model fitted."""

    bar: int
    first: int
    last: int
    n_samples: int
    model: Fitted | None


def retrain_bars(n: int, every: int) -> range:
    """The retraining bars of an n-bar series: every ``every`` bars from bar ``every``."""
    return range(every, n, every)


def training_set(
    x: np.ndarray, y: np.ndarray, t1: np.ndarray, bar: int, p: MLParams
) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows and labels known at ``bar`` inside its trailing window; and the window's first bar."""
    first = max(0, bar - p.train + 1)
    idx = np.arange(first, bar + 1)
    ok = (t1[idx] >= 0) & (t1[idx] <= bar) & np.isfinite(x[idx]).all(axis=1)
    rows = idx[ok]
    return x[rows], y[rows], first


def walk_forward(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, p: MLParams
) -> tuple[np.ndarray, list[Window]]:
    """P(up) per bar (NaN where no model) and the retraining windows, walk-forward."""
    x = features(high, low, close, volume, p.fast, p.slow)
    y, t1 = triple_barrier(close, x[:, VOL_COLUMN], p.horizon, p.width)
    n = close.shape[0]
    prob = np.full(n, np.nan)
    windows: list[Window] = []
    fh = p.feature_hash
    for bar in retrain_bars(n, p.every):
        _retrain(bar, x, y, t1, p, fh, prob, windows)
    return prob, windows


def _retrain(
    bar: int,
    x: np.ndarray,
    y: np.ndarray,
    t1: np.ndarray,
    p: MLParams,
    fh: str,
    prob: np.ndarray,
    windows: list[Window],
) -> None:
    """Fit (or fetch) the model of retraining bar ``bar`` and predict its block of bars."""
    xs, ys, first = training_set(x, y, t1, bar, p)
    model = None
    if len(ys) >= max(p.min_samples, 2 * N_FEATURES) and 0 < ys.sum() < len(ys):
        model = fit(xs, ys, p.spec, fh)
        stop = min(x.shape[0], bar + p.every)
        prob[bar:stop] = model.proba(x[bar:stop])
    windows.append(Window(bar, first, bar, len(ys), model))


def exposure(prob: np.ndarray, leverage: float, band: float, long_only: bool) -> np.ndarray:
    """Probability-weighted target: ``leverage * (2p - 1)`` capped at +-1, 0 inside the
    dead band ``|2p - 1| < band`` or without a prediction; shorts cut to 0 if ``long_only``."""
    edge = 2.0 * prob - 1.0
    out = np.clip(leverage * edge, -1.0, 1.0)
    out[~np.isfinite(edge) | (np.abs(edge) < band)] = 0.0
    if long_only:
        out = np.maximum(out, 0.0)
    return out + 0.0  # no -0.0
