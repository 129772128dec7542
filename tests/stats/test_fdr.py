"""Benjamini-Hochberg q-values: a hand-computed case and statsmodels' multipletests (oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ConfigError, DataError
from toolkit.stats import bh_qvalues, bh_reject


def test_hand_computed_step_up() -> None:
    # m = 5, sorted p: 0.01 0.02 0.03 0.04 0.20 -> m p / rank: 0.05 0.05 0.05 0.05 0.20;
    # q is the running minimum from the top; input order is kept
    p = [0.04, 0.20, 0.01, 0.03, 0.02]
    np.testing.assert_allclose(bh_qvalues(p), [0.05, 0.20, 0.05, 0.05, 0.05], rtol=1e-15)
    assert bh_reject(p, 0.05).tolist() == [True, False, True, True, True]
    assert bh_reject(p, 0.049).tolist() == [False] * 5  # step-up: all or nothing here


@settings(deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60), st.floats(0.001, 0.5))
def test_equals_statsmodels_fdr_bh(p: list[float], fdr: float) -> None:
    from statsmodels.stats.multitest import multipletests

    reject, q, _, _ = multipletests(p, alpha=fdr, method="fdr_bh")
    ours_q = bh_qvalues(p)
    np.testing.assert_allclose(ours_q, q, rtol=1e-12, atol=1e-15)
    order = np.argsort(p, kind="stable")
    assert (ours_q >= np.asarray(p)).all() and (np.diff(ours_q[order]) >= 0).all()
    ours = bh_reject(p, fdr)
    disagree = ours != reject  # only where q sits on the level within rounding
    assert (np.abs(np.asarray(q)[disagree] - fdr) <= 1e-12).all()


def test_bad_input() -> None:
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        bh_qvalues([0.1, np.nan])
    with pytest.raises(ConfigError, match=r"fdr=1\.5"):
        bh_reject([0.1], 1.5)
