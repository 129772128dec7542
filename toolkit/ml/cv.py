"""Purged, embargoed K-fold and combinatorial purged cross-validation (Lopez de Prado,
*Advances in Financial Machine Learning*, 2018, ch. 7.4 and 12.4).

Samples are bars in time order; sample i's label spans bars [i, t1[i]]. The N samples are cut
into ``n_folds`` contiguous groups (each ``N // n_folds`` long, the last one takes the rest:
skfolio's ``CombinatorialPurgedCV`` convention). A split tests ``n_test_folds`` of them; a
training sample is kept only if its label span ends before each test block starts and it
starts after the block's last label end plus ``embargo`` bars -- no training label overlaps a
test label, and the bars right after a test block (serially correlated with it) are skipped.
``n_test_folds = 1`` is the purged K-fold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from toolkit.errors import ConfigError


@dataclass(frozen=True)
class Split:
    """One split: training sample indices and the test blocks (each a contiguous index array)."""

    train: np.ndarray
    tests: tuple[np.ndarray, ...]

    @property
    def test(self) -> np.ndarray:
        return np.concatenate(self.tests) if self.tests else np.empty(0, dtype=np.int64)


def fold_groups(n: int, n_folds: int) -> list[np.ndarray]:
    """The ``n_folds`` contiguous groups of ``range(n)``."""
    if n_folds < 2:
        raise ConfigError(f"n_folds = {n_folds}: use at least 2 folds.")
    size = n // n_folds
    if size < 1:
        raise ConfigError(f"{n} samples are too few for {n_folds} folds.")
    fold = np.minimum(np.arange(n) // size, n_folds - 1)
    return [np.flatnonzero(fold == k) for k in range(n_folds)]


def purged_splits(
    t1: np.ndarray, n_folds: int, n_test_folds: int = 1, embargo: int = 0
) -> Iterator[Split]:
    """Every combination of ``n_test_folds`` test groups out of ``n_folds`` (in
    ``itertools.combinations`` order), with purged and embargoed training indices.

    ``t1[i]`` >= i is the last bar of sample i's label (pass ``np.arange(n) + h`` clipped to
    n - 1 for fixed h-bar labels).
    """
    t1 = np.asarray(t1, dtype=np.int64)
    n = t1.shape[0]
    if not 1 <= n_test_folds < n_folds:
        raise ConfigError(
            f"n_test_folds = {n_test_folds}: need 1 <= n_test_folds < n_folds ({n_folds})."
        )
    if embargo < 0:
        raise ConfigError(f"embargo = {embargo}: must be >= 0 bars.")
    if (t1 < np.arange(n)).any():
        raise ConfigError("t1: every label must end at or after its own bar (t1[i] >= i).")
    groups = fold_groups(n, n_folds)
    start = np.arange(n)
    for combo in itertools.combinations(range(n_folds), n_test_folds):
        blocks = _blocks([groups[k] for k in combo])
        keep = np.ones(n, dtype=bool)
        for block in blocks:
            lo, hi = int(block[0]), int(t1[block].max())
            # overlap of [i, t1_i] with [lo, hi + embargo]
            keep &= (t1 < lo) | (start > hi + embargo)
        tests = tuple(groups[k] for k in combo)
        yield Split(np.flatnonzero(keep), tests)


def _blocks(groups: list[np.ndarray]) -> list[np.ndarray]:
    """Adjacent test groups merged into contiguous blocks (a purge/embargo per block)."""
    out: list[np.ndarray] = []
    for g in groups:
        if out and out[-1][-1] + 1 == g[0]:
            out[-1] = np.concatenate([out[-1], g])
        else:
            out.append(g)
    return out


def purged_kfold(t1: np.ndarray, n_folds: int, embargo: int = 0) -> list[Split]:
    """Purged, embargoed K-fold: each group tested once (AFML ch. 7.4)."""
    return list(purged_splits(t1, n_folds, 1, embargo))


def combinatorial_purged(
    t1: np.ndarray, n_folds: int, n_test_folds: int, embargo: int = 0
) -> list[Split]:
    """Combinatorial purged CV: C(n_folds, n_test_folds) splits (AFML ch. 12.4)."""
    return list(purged_splits(t1, n_folds, n_test_folds, embargo))
