"""The whole-panel screen: all 435 pairs of the 30 original symbols equal statsmodels' coint
(checked-in reference, research/oracles/coint_statsmodels.py), each row equals the one-pair
test, and Benjamini-Hochberg control shrinks the full-sample "discoveries"."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.stats.conftest import SYMBOLS
from toolkit.errors import ConfigError, DataError
from toolkit.stats import bh_reject, coint_screen, engle_granger, mackinnon_crit

REFERENCE = Path(__file__).with_name("data") / "coint_435.csv"


@pytest.fixture(scope="module")
def screen(log_closes: pd.DataFrame) -> pd.DataFrame:
    return coint_screen(log_closes[sorted(SYMBOLS)])


def test_all_435_pairs_equal_the_statsmodels_reference(screen: pd.DataFrame) -> None:
    ref = pd.read_csv(REFERENCE)
    assert len(ref) == len(screen) == 435
    assert list(zip(ref.y, ref.x, strict=True)) == list(combinations(sorted(SYMBOLS), 2))
    assert (screen[["y", "x"]].to_numpy() == ref[["y", "x"]].to_numpy()).all()
    assert np.abs(screen.t_stat - ref.t_stat).max() <= 1e-8
    assert np.abs(screen.p_value - ref.p_value).max() <= 1e-8
    assert (screen.lag == ref.lag).all() and (screen.nobs == ref.nobs).all()
    crit = mackinnon_crit(2, "c", int(ref.nobs[0]) - 1)
    np.testing.assert_allclose(
        ref[["crit_1", "crit_5", "crit_10"]].to_numpy() - crit, 0, atol=1e-12
    )


def test_a_reference_row_equals_live_statsmodels(
    screen: pd.DataFrame, log_closes: pd.DataFrame
) -> None:
    """The file is what statsmodels' coint says today (one full-sample pair, ~3 s)."""
    from statsmodels.tsa.stattools import coint

    ref = pd.read_csv(REFERENCE).set_index(["y", "x"]).loc[("GOOGL", "SPY")]
    t, p, crit = coint(log_closes["GOOGL"].to_numpy(), log_closes["SPY"].to_numpy())
    assert abs(t - ref.t_stat) <= 1e-12 and abs(p - ref.p_value) <= 1e-12
    np.testing.assert_allclose(
        crit, ref[["crit_1", "crit_5", "crit_10"]].to_numpy(float), atol=1e-12
    )
    row = screen.set_index(["y", "x"]).loc[("GOOGL", "SPY")]
    assert abs(row.t_stat - t) <= 1e-8 and abs(row.p_value - p) <= 1e-8


def test_each_row_is_the_one_pair_test(screen: pd.DataFrame, log_closes: pd.DataFrame) -> None:
    for i in (0, 217, 434):
        row = screen.iloc[i]
        one = engle_granger(log_closes[row.y], log_closes[row.x])
        assert (one.t_stat, one.p_value, one.lag, one.beta) == (
            row.t_stat,
            row.p_value,
            row.lag,
            row.beta,
        )
    single = coint_screen(log_closes[sorted(SYMBOLS)[:6]], threads=1)
    assert (single.t_stat.to_numpy()[:5] == screen.t_stat.to_numpy()[:5]).all()  # one thread


def test_false_discovery_control_shrinks_the_full_sample_discoveries(screen: pd.DataFrame) -> None:
    """The issue's count: 78 of 435 pairs at raw p < 0.05 (about 22 expected by chance), led
    by GOOGL-SPY and SHY-WMT; Benjamini-Hochberg at FDR 5 % keeps none of them (smallest
    q-value 0.074; one pair at 10 %, GOOGL-SPY)."""
    raw = screen[screen.p_value < 0.05].sort_values("p_value")
    assert len(raw) == 78
    assert [tuple(r) for r in raw[["y", "x"]].to_numpy()[:2]] == [("GOOGL", "SPY"), ("SHY", "WMT")]
    assert int(screen.reject.sum()) == 0
    assert screen.q_value.min() == pytest.approx(0.0745, abs=5e-4)
    at_ten = screen[bh_reject(screen.p_value, 0.10)]
    assert [tuple(r) for r in at_ten[["y", "x"]].to_numpy()] == [("GOOGL", "SPY")]


def test_a_gap_or_a_flat_column_is_a_one_line_error(log_closes: pd.DataFrame) -> None:
    panel = log_closes[["SPY", "QQQ", "GLD"]].copy()
    panel.iloc[10, 1] = np.nan
    with pytest.raises(DataError, match="column 'QQQ' has 1 missing"):
        coint_screen(panel)
    panel["QQQ"] = 1.0
    with pytest.raises(DataError, match="column 'QQQ' is constant"):
        coint_screen(panel)
    with pytest.raises(ConfigError, match="fdr=0"):
        coint_screen(panel, fdr=0)
    panel["QQQ"] = np.arange(len(panel), dtype=float)  # x is the trend term itself
    with pytest.raises(DataError, match="first 'SPY' on 'QQQ' with trend 'ct'"):
        coint_screen(panel, trend="ct")


def test_pairwise_tests_each_pair_on_the_dates_both_have(log_closes: pd.DataFrame) -> None:
    panel = log_closes[["SPY", "QQQ", "GLD", "XOM"]].iloc[-900:].copy()
    panel.iloc[:300, 1] = np.nan  # QQQ starts later
    panel.iloc[-100:, 2] = np.nan  # GLD stops earlier
    with pytest.raises(DataError, match=r"column 'QQQ' has 300 missing.*pairwise=True"):
        coint_screen(panel)
    screen = coint_screen(panel, pairwise=True)
    for row in screen.itertuples():
        both = panel[[row.y, row.x]].dropna()
        one = engle_granger(both[row.y], both[row.x])
        assert row.nobs == len(both)
        assert (row.t_stat, row.p_value, row.lag) == (one.t_stat, one.p_value, one.lag)
    assert sorted(set(screen.nobs)) == [500, 600, 800, 900]
    panel.iloc[400, 3] = np.nan  # a gap inside XOM
    with pytest.raises(DataError, match="column 'XOM' has 1 missing"):
        coint_screen(panel, pairwise=True)
    panel.iloc[400, 3] = panel.iloc[399, 3]
    panel.iloc[:880, 0] = np.nan  # SPY's last 20 bars: too few beside any other column
    with pytest.raises(DataError, match="pair 'SPY'-'QQQ': 20 observations leave"):
        coint_screen(panel, pairwise=True)
