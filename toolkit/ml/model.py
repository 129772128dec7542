"""The models: scikit-learn classifiers fitted deterministically, cached by what they were
trained on.

A fit is a pure function of (training rows, labels, model settings, feature hash): fixed
seeds, one thread (``threadpoolctl``), no early stopping on a random split. So a model is
identified by the sha256 of those inputs, and :data:`CACHE` returns the same fitted object to
a backtest, to every bar of a live session (which re-runs the signal on its growing window)
and to an artefact loaded from disk -- a live session refits only when a new training window
appears, never each bar.

Prediction is per row and batch-independent (the logistic model's probability is computed
here from its coefficients; the tree model's raw score is a per-row sum of leaves), so a bar's
probability is the same whether it is predicted alone (live) or in a block (backtest).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from toolkit.errors import ConfigError

MODELS = ("logistic", "gradient_boosting")
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class ModelSpec:
    """Which classifier and its hyper-parameters (``model``: index into :data:`MODELS`)."""

    model: int = 0
    c: float = 1.0  # logistic: inverse L2 strength
    trees: int = 50  # gradient boosting: boosting iterations
    depth: int = 3  # gradient boosting: max tree depth
    seed: int = 0

    @property
    def name(self) -> str:
        if not 0 <= self.model < len(MODELS):
            raise ConfigError(
                f"model = {self.model}: choose 0 (logistic) or 1 (gradient_boosting)."
            )
        return MODELS[self.model]

    def describe(self) -> str:
        if self.model == 0:
            return f"logistic(C={self.c:g}, seed={self.seed})"
        return f"gradient_boosting(trees={self.trees}, depth={self.depth}, seed={self.seed})"


@dataclass
class Fitted:
    """A fitted model and how to predict a row: logistic coefficients on standardised
    features, or the scikit-learn estimator."""

    spec: ModelSpec
    key: str
    n_samples: int
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    estimator: Any = None
    memo: dict[bytes, float] = field(default_factory=dict, repr=False)

    def proba(self, x: np.ndarray) -> np.ndarray:
        """P(label = 1) for each row of ``x`` (rows with NaN give NaN)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if self.estimator is None:
            return np.asarray(_logistic_rows(x, self.mean, self.scale, self.coef, self.intercept))
        # a live session predicts the same rows again on every bar: remembered per row
        out = np.full(x.shape[0], np.nan)
        rows = [r.tobytes() for r in x]
        todo = [i for i, r in enumerate(rows) if r not in self.memo]
        ok = [i for i in todo if np.isfinite(x[i]).all()]
        if ok:
            with single_threaded():  # OpenMP threads on a few rows cost more than they save
                got = self.estimator.predict_proba(x[ok])[:, 1]
            if len(self.memo) > 100_000:
                self.memo.clear()
            self.memo.update(zip((rows[i] for i in ok), got.tolist(), strict=True))
        for i, r in enumerate(rows):
            out[i] = self.memo.get(r, np.nan)
        return out


@njit(cache=True)
def _logistic_rows(
    x: np.ndarray, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float
) -> np.ndarray:
    n, k = x.shape
    out = np.full(n, np.nan)
    for i in range(n):
        z = intercept
        ok = True
        for j in range(k):
            v = x[i, j]
            if not np.isfinite(v):
                ok = False
                break
            z += coef[j] * (v - mean[j]) / scale[j]
        if ok:
            out[i] = 1.0 / (1.0 + math.exp(-z))
    return out


_CONTROLLER: Any = None


@contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS and OpenMP limited to one thread while fitting (the same sums in the same order
    on every machine and every run), and while predicting the few rows of a bar. The
    controller scans the loaded libraries once (a scan costs ~20 ms)."""
    global _CONTROLLER
    if _CONTROLLER is None:  # after the models' OpenMP runtime is loaded, so it is seen
        import sklearn.ensemble  # noqa: F401
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1):
        yield


def model_key(x: np.ndarray, y: np.ndarray, spec: ModelSpec, feature_hash: str) -> str:
    """sha256 of the training rows, labels, model settings and feature hash."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    h.update(repr((spec, feature_hash, x.shape)).encode())
    return h.hexdigest()


class ModelCache:
    """Fitted models by key (LRU); ``fits`` and ``hits`` count what a run cost."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._models: OrderedDict[str, Fitted] = OrderedDict()
        self.size = size
        self.fits = 0
        self.hits = 0

    def get(self, key: str) -> Fitted | None:
        got = self._models.get(key)
        if got is not None:
            self._models.move_to_end(key)
            self.hits += 1
        return got

    def put(self, model: Fitted) -> None:
        self._models[model.key] = model
        self._models.move_to_end(model.key)
        while len(self._models) > self.size:
            self._models.popitem(last=False)

    def models(self) -> list[Fitted]:
        return list(self._models.values())

    def clear(self) -> None:
        self._models.clear()
        self.fits = self.hits = 0


CACHE = ModelCache()


def fit(x: np.ndarray, y: np.ndarray, spec: ModelSpec, feature_hash: str) -> Fitted:
    """The model for (x, y): from :data:`CACHE`, else fitted once (deterministic) and cached."""
    key = model_key(x, y, spec, feature_hash)
    got = CACHE.get(key)
    if got is not None:
        return got
    k = x.shape[1]
    with single_threaded():
        if spec.name == "logistic":
            from sklearn.linear_model import LogisticRegression

            mean = x.mean(axis=0)
            scale = x.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
            lr = LogisticRegression(C=spec.c, solver="lbfgs", max_iter=500)
            lr.fit((x - mean) / scale, y)
            model = Fitted(
                spec, key, len(y), mean, scale, np.ascontiguousarray(lr.coef_[0]),
                float(lr.intercept_[0]),
            )  # fmt: skip
        else:
            from sklearn.ensemble import HistGradientBoostingClassifier

            gb = HistGradientBoostingClassifier(
                max_iter=spec.trees,
                max_depth=spec.depth,
                learning_rate=0.1,
                early_stopping=False,
                random_state=spec.seed,
            )
            gb.fit(x, y)
            zeros = np.zeros(k)
            model = Fitted(spec, key, len(y), zeros, zeros + 1, zeros, 0.0, gb)
    CACHE.fits += 1
    CACHE.put(model)
    return model
