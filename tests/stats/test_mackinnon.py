"""MacKinnon p-values and critical values equal statsmodels' (the oracle) over a grid of
statistics for every trend and number of series; the surfaces behave as published."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from toolkit.errors import ConfigError
from toolkit.stats import mackinnon_crit, mackinnon_p
from toolkit.stats.mackinnon import TRENDS, p_value_coefficients

GRID = np.linspace(-30.0, 5.0, 3501)


@pytest.mark.parametrize("trend", TRENDS)
def test_p_values_equal_statsmodels_on_a_grid(trend: str) -> None:
    from statsmodels.tsa.adfvalues import mackinnonp

    for n in range(1, 7):
        ours = mackinnon_p(GRID, trend, n)  # type: ignore[arg-type]
        ref = np.array([mackinnonp(t, regression=trend, N=n) for t in GRID])
        assert np.abs(ours - ref).max() <= 1e-14, (trend, n)
        assert mackinnon_p(float(GRID[7]), trend, n) == pytest.approx(ref[7], abs=1e-14)  # type: ignore[arg-type]


@pytest.mark.parametrize("trend", TRENDS)
def test_critical_values_equal_statsmodels(trend: str) -> None:
    from statsmodels.tsa.adfvalues import mackinnoncrit

    for n in range(1, 13):
        for nobs in (np.inf, 25, 250, 4612):
            ours = mackinnon_crit(n, trend, nobs)  # type: ignore[arg-type]
            if trend == "n" and n > 1:
                assert np.isnan(ours).all()
                continue
            ref = mackinnoncrit(N=n, regression=trend, nobs=nobs)
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-13)


@given(
    st.sampled_from(TRENDS),
    st.integers(1, 6),
    st.floats(-40.0, 10.0),
    st.floats(-40.0, 10.0),
)
@example("ctt", 5, 0.0, 3.375)  # hypothesis found it: the large-p cubic's dip, as published
def test_p_value_is_monotone_in_t_on_each_side_of_tau_star(
    trend: str, n: int, a: float, b: float
) -> None:
    """The published approximation has two surfaces that meet at tau* with a seam (up to
    9e-4 here), and the large-p cubic turns down by up to ~2e-7 where p is within 2e-6 of 1
    (ctt, n = 5: p(0) = 0.9999984785, p(3.375) = 0.9999982981, the same digits as
    statsmodels' mackinnonp); otherwise a larger statistic never has a smaller p-value."""
    lo, hi = min(a, b), max(a, b)
    star = p_value_coefficients(trend, n)[1]
    p_lo, p_hi = mackinnon_p(lo, trend, n), mackinnon_p(hi, trend, n)  # type: ignore[arg-type]
    assert 0.0 <= p_lo <= 1.0 and 0.0 <= p_hi <= 1.0
    if (hi <= star) == (lo <= star):
        assert p_lo <= p_hi + (1e-6 if p_hi > 0.99999 else 1e-8)
    else:
        assert p_lo <= p_hi + 1e-3


def test_array_in_array_out_and_bad_settings_are_config_errors() -> None:
    out = mackinnon_p(np.array([[-5.0, -3.0], [-1.0, np.nan]]), "c", 2)
    assert out.shape == (2, 2) and np.isnan(out[1, 1]) and 0 < out[0, 0] < out[0, 1] < out[1, 0]
    assert mackinnon_p(-100.0, "c", 2) == 0.0 and mackinnon_p(5.0, "c", 2) == 1.0
    with pytest.raises(ConfigError, match="trend='x'"):
        mackinnon_p(-3.0, "x", 2)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_series=7"):
        mackinnon_p(-3.0, "c", 7)
    with pytest.raises(ConfigError, match="n_series=13"):
        mackinnon_crit(13, "c")
