"""``ml_classifier``: the walk-forward model's probability as a target exposure, a user-kind
strategy registered like any other (backtest, sweep, walk-forward, configs, live).

Configs name it with ``[strategy] module = "toolkit.ml.strategy"``, ``name =
"ml_classifier"``; every setting that shapes a prediction is a declared parameter, so the
sweep's grid is the model / hyper-parameter search and a config alone reproduces a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from toolkit.ml.model import ModelSpec
from toolkit.ml.walkforward import MLParams, exposure, walk_forward
from toolkit.strategies.define import strategy
from toolkit.strategies.spec import Param

PARAMS = [
    Param("fast", int, 5, 2, 60, "fast feature window, bars"),
    Param("slow", int, 20, 5, 250, "slow feature window (and label vol), bars"),
    Param("horizon", int, 10, 1, 120, "triple-barrier vertical barrier, bars"),
    Param("width", float, 1.0, 0.1, 5.0, "barrier half-width, x vol x sqrt(horizon)"),
    Param("model", int, 0, 0, 1, "0 logistic regression, 1 gradient boosting"),
    Param("c", float, 1.0, 1e-4, 1e4, "logistic: inverse L2 strength"),
    Param("trees", int, 50, 5, 1000, "gradient boosting: iterations"),
    Param("depth", int, 3, 1, 12, "gradient boosting: max depth"),
    Param("train", int, 500, 50, 10_000, "training window, bars"),
    Param("every", int, 63, 1, 2_000, "retrain every this many bars"),
    Param("leverage", float, 2.0, 0.1, 20.0, "exposure = leverage x (2p - 1), capped at 1"),
    Param("band", float, 0.0, 0.0, 1.0, "no position while |2p - 1| < band"),
    Param("long_only", int, 1, 0, 1, "1: shorts become flat"),
    Param("seed", int, 0, 0, 2**31 - 1, "model seed"),
]


def ml_params(values: Mapping[str, Any]) -> MLParams:
    """The walk-forward settings of a parameter set (defaults for what is missing)."""
    v = {p.name: p.default for p in PARAMS} | dict(values)
    spec = ModelSpec(
        int(v["model"]), float(v["c"]), int(v["trees"]), int(v["depth"]), int(v["seed"])
    )
    return MLParams(
        fast=int(v["fast"]),
        slow=int(v["slow"]),
        horizon=int(v["horizon"]),
        width=float(v["width"]),
        train=int(v["train"]),
        every=int(v["every"]),
        spec=spec,
    )


def _warmup(slow: int, horizon: int, every: int) -> int:
    """Bars before the first model can exist: the first retraining bar by which the features'
    warm-up, a label horizon and the minimum training sample have passed."""
    need = slow + horizon + MLParams().min_samples
    return -(-need // every) * every


@strategy(
    params=PARAMS,
    valid=lambda p: np.asarray(p["fast"]) < np.asarray(p["slow"]),
    valid_doc="fast < slow",
    warmup=lambda p: _warmup(int(p["slow"]), int(p["horizon"]), int(p["every"])),
)
def ml_classifier(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    fast: int,
    slow: int,
    horizon: int,
    width: float,
    model: int,
    c: float,
    trees: int,
    depth: int,
    train: int,
    every: int,
    leverage: float,
    band: float,
    long_only: int,
    seed: int,
) -> np.ndarray:
    """Walk-forward classifier (triple-barrier labels, causal features): target exposure
    leverage x (2 P(up) - 1), capped at +-1, retrained every ``every`` bars on the last
    ``train``."""
    p = ml_params(
        {"fast": fast, "slow": slow, "horizon": horizon, "width": width, "model": model, "c": c,
         "trees": trees, "depth": depth, "train": train, "every": every, "seed": seed}
    )  # fmt: skip
    prob, _ = walk_forward(high, low, close, volume, p)
    return exposure(prob, leverage, band, bool(long_only))
