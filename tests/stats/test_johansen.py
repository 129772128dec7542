"""Johansen trace and max-eigen statistics equal statsmodels' coint_johansen (oracle) on
shipped symbol groups for every deterministic order and several lag lengths."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from toolkit.errors import ConfigError, DataError
from toolkit.stats import johansen

GROUPS = [["GOOGL", "QQQ", "SPY"], ["GLD", "DBC"], ["XOM", "JPM", "BAC", "KO", "PG", "WMT"]]


def _oracle(y: np.ndarray, det_order: int, k: int) -> object:
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return coint_johansen(y, det_order, k)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: "-".join(g))
@pytest.mark.parametrize("det_order", [-1, 0, 1])
def test_statistics_equal_statsmodels(
    log_closes: pd.DataFrame, group: list[str], det_order: int
) -> None:
    y = log_closes[group].to_numpy()
    for k in (1, 2, 5):
        ours, ref = johansen(y, det_order, k), _oracle(y, det_order, k)
        assert np.abs(ours.trace_stat - ref.lr1).max() <= 1e-8  # type: ignore[attr-defined]
        assert np.abs(ours.max_eig_stat - ref.lr2).max() <= 1e-8  # type: ignore[attr-defined]
        assert np.abs(ours.eigenvalues - ref.eig).max() <= 1e-12  # type: ignore[attr-defined]
        np.testing.assert_array_equal(ours.trace_crit, ref.trace_stat_crit_vals)  # type: ignore[attr-defined]
        np.testing.assert_array_equal(ours.max_eig_crit, ref.max_eig_stat_crit_vals)  # type: ignore[attr-defined]
        # eigenvectors agree up to each column's sign (statsmodels flips all by one sign)
        np.testing.assert_allclose(np.abs(ours.eigenvectors), np.abs(ref.evec), atol=1e-8)  # type: ignore[attr-defined]


def test_an_ill_conditioned_group_agrees_to_its_conditioning(log_closes: pd.DataFrame) -> None:
    """Five bond ETFs without deterministic terms: S11's condition number is ~3.7e6, and two
    sound algorithms (ours: Cholesky + symmetric eigh; statsmodels: inv + general eig) agree
    only to the problem's conditioning: 1.4e-7 absolute, 1.02e-8 relative (measured), not
    1e-8 absolute; the same S matrices through both eigen-solvers differ as much."""
    y = log_closes[["IEF", "LQD", "TLT", "SHY", "AGG"]].to_numpy()
    ours, ref = johansen(y, -1, 2), _oracle(y, -1, 2)
    np.testing.assert_allclose(ours.trace_stat, ref.lr1, rtol=1e-7)  # type: ignore[attr-defined]
    np.testing.assert_allclose(ours.max_eig_stat, ref.lr2, rtol=1e-7)  # type: ignore[attr-defined]


def test_no_lagged_differences_uses_the_lagged_level(log_closes: pd.DataFrame) -> None:
    """k_ar_diff = 0 is the VECM dy_t = Pi y_{t-1} + e_t. statsmodels pairs dy_t with y_t there
    (statsmodels issue #7459: EViews disagrees), so the oracle is the textbook computation:
    the generalised eigenproblem of S10 S00^-1 S01 against S11 (scipy) on demeaned data."""
    y = log_closes[["GLD", "DBC"]].to_numpy()
    r0 = np.diff(y, axis=0)
    r1 = y[:-1]
    r0, r1 = r0 - r0.mean(axis=0), r1 - r1.mean(axis=0)
    t = r0.shape[0]
    s00, s01, s11 = r0.T @ r0 / t, r0.T @ r1 / t, r1.T @ r1 / t
    lam = scipy.linalg.eigh(s01.T @ np.linalg.solve(s00, s01), s11, eigvals_only=True)[::-1]
    ours = johansen(y, 0, 0)
    np.testing.assert_allclose(ours.eigenvalues, lam, rtol=1e-10)
    np.testing.assert_allclose(ours.max_eig_stat, -t * np.log1p(-lam), rtol=1e-10)
    assert ours.trace_stat[0] == pytest.approx(ours.max_eig_stat.sum(), rel=1e-12)
    assert ours.nobs == t


def test_rank_and_bad_input(log_closes: pd.DataFrame) -> None:
    result = johansen(log_closes[["GOOGL", "QQQ", "SPY"]].to_numpy(), 0, 1)
    # trace 45.29 > 29.80, 16.99 > 15.49, 0.30 < 3.84: rank 2 at 5 %
    assert result.rank(0.05) == 2 and result.rank(0.01, "max_eig") == 1
    from statsmodels.tsa.vector_ar.vecm import select_coint_rank

    y = log_closes[["GOOGL", "QQQ", "SPY"]].to_numpy()
    for level in (0.10, 0.05, 0.01):
        for stat in ("trace", "maxeig"):
            ref = select_coint_rank(y, 0, 1, method=stat, signif=level).rank
            assert result.rank(level, "trace" if stat == "trace" else "max_eig") == ref
    with pytest.raises(ConfigError, match="det_order=2"):
        johansen(np.ones((50, 2)), 2, 1)
    x = log_closes["SPY"].to_numpy()
    for twin in (2 * x + 1, np.ones_like(x)):
        with pytest.raises(DataError, match="singular"):
            johansen(np.c_[x, twin], 0, 1)
    with pytest.raises(DataError, match="at least two series"):
        johansen(np.ones(50), 0, 1)
    with pytest.raises(ConfigError, match=r"level=0\.2"):
        result.rank(0.2)
