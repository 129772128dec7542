"""Purged / embargoed K-fold and combinatorial purged CV: folds equal a hand-built example,
a brute-force reference and skfolio's CombinatorialPurgedCV on the same sizes; and (property
test) no training sample's label span overlaps a test block or its embargo."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skfolio.model_selection import CombinatorialPurgedCV

from toolkit.errors import ConfigError
from toolkit.ml.cv import combinatorial_purged, purged_kfold, purged_splits


def _fixed(n: int, h: int) -> np.ndarray:
    return np.minimum(np.arange(n) + h, n - 1)


def test_hand_built_twelve_samples() -> None:
    # 3 folds of 4, 2 test folds, labels 1 bar long (purge 1), no embargo: skfolio's own
    # documented example, written out by hand
    splits = combinatorial_purged(_fixed(12, 1), 3, 2)
    assert [s.train.tolist() for s in splits] == [[9, 10, 11], [5, 6], [0, 1, 2]]
    assert [[t.tolist() for t in s.tests] for s in splits][1] == [[0, 1, 2, 3], [8, 9, 10, 11]]
    # purged K-fold, 3 folds of 4, labels 2 bars long, embargo 1
    kf = purged_kfold(_fixed(12, 2), 3, embargo=1)
    assert [s.train.tolist() for s in kf] == [[7, 8, 9, 10, 11], [0, 1, 11], [0, 1, 2, 3, 4, 5]]
    assert [s.test.tolist() for s in kf] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def _reference(t1: np.ndarray, n_folds: int, k: int, embargo: int) -> list[list[int]]:
    """Brute force from the definition: sample i trains unless [i, t1_i] meets some test
    block's [first bar, last label end + embargo] (adjacent test folds form one block)."""
    n = len(t1)
    size = n // n_folds
    fold = [min(i // size, n_folds - 1) for i in range(n)]
    out = []
    for combo in itertools.combinations(range(n_folds), k):
        test = [i for i in range(n) if fold[i] in combo]
        blocks: list[list[int]] = []
        for i in test:
            if blocks and blocks[-1][-1] == i - 1:
                blocks[-1].append(i)
            else:
                blocks.append([i])
        train = []
        for i in range(n):
            if i in test:
                continue
            hit = any(not (t1[i] < b[0] or i > max(t1[j] for j in b) + embargo) for b in blocks)
            if not hit:
                train.append(i)
        out.append(train)
    return out


SIZES = [(12, 3, 1, 0, 0), (12, 3, 2, 1, 0), (12, 3, 2, 0, 1), (20, 4, 2, 1, 1),
         (23, 5, 2, 1, 1), (30, 6, 3, 1, 2), (41, 6, 1, 3, 0), (50, 5, 4, 2, 2)]  # fmt: skip


@pytest.mark.parametrize(("n", "folds", "k", "h", "embargo"), SIZES)
def test_folds_match_reference_and_skfolio(
    n: int, folds: int, k: int, h: int, embargo: int
) -> None:
    t1 = _fixed(n, h)
    ours = list(purged_splits(t1, folds, k, embargo))
    assert [s.train.tolist() for s in ours] == _reference(t1, folds, k, embargo)
    if k == 1:
        return  # skfolio tests at least 2 folds per split: the K-fold is checked above only
    cv = CombinatorialPurgedCV(n_folds=folds, n_test_folds=k, purged_size=h, embargo_size=embargo)
    theirs = list(cv.split(np.zeros((n, 1))))
    assert len(theirs) == len(ours)
    for mine, (train, tests) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.train, train)
        assert [t.tolist() for t in mine.tests] == [t.tolist() for t in tests]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(8, 80),
    folds=st.integers(2, 6),
    k=st.integers(1, 5),
    embargo=st.integers(0, 5),
    spans=st.lists(st.integers(0, 12), min_size=80, max_size=80),
)
def test_no_training_label_overlaps_a_test_fold_or_its_embargo(
    n: int, folds: int, k: int, embargo: int, spans: list[int]
) -> None:
    if k >= folds or n // folds < 1:
        return
    t1 = np.minimum(np.arange(n) + np.array(spans[:n]), n - 1)  # uneven label spans
    for s in purged_splits(t1, folds, k, embargo):
        test = set(s.test.tolist())
        assert not test & set(s.train.tolist())
        for block in s.tests:
            lo, hi = int(block[0]), int(t1[block].max()) + embargo
            for i in s.train:
                assert t1[i] < lo or i > hi, (i, int(t1[i]), lo, hi)
        covered = set().union(
            *(set(range(int(b[0]), int(t1[b].max()) + embargo + 1)) for b in s.tests)
        )
        # every sample outside the purged zones trains (purging removes no more than needed)
        for i in range(n):
            if i not in test and not any(j in covered for j in range(i, int(t1[i]) + 1)):
                assert i in s.train


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="n_test_folds"):
        combinatorial_purged(_fixed(12, 1), 3, 3)
    with pytest.raises(ConfigError, match="t1"):
        purged_kfold(np.array([0, 0, 1, 2]), 2)
