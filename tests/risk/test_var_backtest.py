"""VaR back-tests: Kupiec and Christoffersen statistics by hand, at the edges, against SciPy's
binomial and chi-square, and the report table on SPY."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import toolkit as tk
from toolkit.errors import DataError
from toolkit.risk.var import rolling_var
from toolkit.risk.var_backtest import (
    binomial_cdf,
    chi2_sf,
    christoffersen_lr,
    coverage_tests,
    format_report,
    kupiec_lr,
    traffic_light,
    transitions,
    var_backtest,
    var_backtest_report,
)


def test_hand_computed_case() -> None:
    hits = [0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0]  # T = 12, x = 4, tested at 90 %
    # pairs: 00 01 11 11 10 00 00 00 01 10 00 -> n00 = 5, n01 = 2, n10 = 2, n11 = 2
    assert transitions(hits) == (5, 2, 2, 2)
    out = coverage_tests(hits, 0.90)
    assert (out.n, out.exceptions, out.expected) == (12, 4, pytest.approx(1.2))
    # LR_pof = -2 [8 ln 0.9 + 4 ln 0.1 - 8 ln(8/12) - 4 ln(4/12)]
    assert out.kupiec_lr == pytest.approx(4.830108955402079, abs=1e-12)
    # pi01 = 2/7, pi11 = 2/4, pi = 4/11: LR_ind = -2 [7 ln(7/11) + 4 ln(4/11)
    #   - 5 ln(5/7) - 2 ln(2/7) - 2 ln(1/2) - 2 ln(1/2)]
    assert out.ind_lr == pytest.approx(0.499647341157477, abs=1e-12)
    assert out.cc_lr == pytest.approx(5.329756296559556, abs=1e-12)
    # p-values: erfc(sqrt(LR / 2)) with 1 dof, exp(-LR / 2) with 2
    assert out.kupiec_p == pytest.approx(0.027966863162440816, abs=1e-14)
    assert out.ind_p == pytest.approx(0.4796551184089156, abs=1e-14)
    assert out.cc_p == pytest.approx(0.06960783485094448, abs=1e-14)


def test_edges_give_finite_numbers() -> None:
    none = coverage_tests(np.zeros(20, dtype=bool), 0.95)
    assert none.kupiec_lr == pytest.approx(2.0517317755020213, abs=1e-12)  # -40 ln 0.95
    assert (none.ind_lr, none.ind_p) == (0.0, 1.0)  # nothing to cluster: no evidence
    assert none.cc_lr == none.kupiec_lr and none.cc_p == pytest.approx(math.exp(-none.cc_lr / 2))
    every = coverage_tests(np.ones(20, dtype=bool), 0.95)
    assert every.kupiec_lr == pytest.approx(119.82929094215964, abs=1e-11)  # -40 ln 0.05
    assert (every.ind_lr, every.ind_p, every.n11) == (0.0, 1.0, 19)
    last = coverage_tests([0, 0, 0, 1], 0.95)  # no day follows the exception: pi11 = 0/0
    assert (last.n10, last.n11) == (0, 0) and math.isfinite(last.ind_lr)
    one = coverage_tests([1], 0.99)
    assert transitions([1]) == (0, 0, 0, 0) and one.ind_lr == 0.0
    exact = coverage_tests([0] * 19 + [1], 0.95)  # observed rate = expected rate
    assert exact.kupiec_lr == pytest.approx(0.0, abs=1e-12)
    assert exact.kupiec_p == pytest.approx(1.0, abs=1e-6)
    for out in (none, every, last, one, exact):
        values = (out.kupiec_lr, out.kupiec_p, out.ind_lr, out.ind_p, out.cc_lr, out.cc_p)
        assert all(math.isfinite(v) and v >= 0 for v in values)


def test_against_scipy() -> None:
    from scipy.stats import binom, chi2

    for n, x, level in ((250, 0, 0.99), (250, 7, 0.99), (1000, 61, 0.95), (500, 500, 0.95)):
        # the binomial coefficient cancels: LR = 2 [ln b(x; n, x/n) - ln b(x; n, alpha)]
        want = 2 * (binom.logpmf(x, n, x / n) - binom.logpmf(x, n, 1 - level))
        assert kupiec_lr(x, n, level) == pytest.approx(want, rel=1e-10, abs=1e-10)
    for v in (0.0, 1e-6, 0.3, 2.7, 3.841458820694124, 6.63, 40.0, 700.0):
        assert chi2_sf(v, 1) == pytest.approx(chi2.sf(v, 1), rel=1e-12, abs=1e-300)
        assert chi2_sf(v, 2) == pytest.approx(chi2.sf(v, 2), rel=1e-12, abs=1e-300)
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, abs=1e-15)
    # independence statistic: the same ratio from SciPy's Bernoulli log-likelihoods
    n00, n01, n10, n11 = 900, 40, 40, 8
    pi01, pi11, pi = 40 / 940, 8 / 48, 48 / 988
    alt = binom.logpmf(n01, n00 + n01, pi01) + binom.logpmf(n11, n10 + n11, pi11)
    null = binom.logpmf(n01, n00 + n01, pi) + binom.logpmf(n11, n10 + n11, pi)
    assert christoffersen_lr(n00, n01, n10, n11) == pytest.approx(2 * (alt - null), rel=1e-10)


def test_exceptions_are_strictly_beyond_the_var() -> None:
    r = np.array([0.0, -0.02, -0.03, 0.01, -0.05])
    var = np.array([np.nan, 0.02, 0.02, 0.02, 0.02])
    out = var_backtest(r, var, 0.95)  # -0.02 equals -VaR: not an exception
    assert (out.n, out.exceptions, (out.n00, out.n01, out.n10, out.n11)) == (4, 2, (0, 2, 1, 0))
    assert var_backtest(r, var, 0.95, start=3).exceptions == 1
    with pytest.raises(DataError, match="missing after bar 0"):
        var_backtest(r, var, 0.95, start=0)
    with pytest.raises(DataError, match="align"):
        var_backtest(r, var[1:], 0.95)
    with pytest.raises(DataError, match="no VaR forecast"):
        var_backtest(r, np.full(5, np.nan), 0.95)


def test_report_rows_are_the_backtests_of_each_forecast() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = tk.load("SPY", jump_factor=None)["close"].pct_change().iloc[1:1501]
    frame = var_backtest_report(r, levels=(0.95, 0.99), windows=(250, 500))
    assert list(frame["method"].unique()) == [
        "historical 250d", "historical 500d", "parametric 250d", "parametric 500d", "EWMA 0.94"]
    assert (frame["n"] == 1000).all() and len(frame) == 10  # all rows on the same 1,000 days
    assert frame.attrs["first"] == r.index[500]
    row = frame[(frame["method"] == "historical 500d") & (frame["level"] == 0.99)].iloc[0]
    want = var_backtest(r, rolling_var(r, "historical", 0.99, window=500), 0.99)
    assert row["exceptions"] == want.exceptions and row["cc_lr"] == want.cc_lr
    assert row["expected"] == pytest.approx(10.0)
    text = format_report(frame)
    assert "LR_pof" in text and "EWMA 0.94" in text and len(text.splitlines()) == 11


def test_spy_table_is_pinned() -> None:
    """The SPY table of the README and research/benchmarks/var.py (1993-02-01..2025-09-26)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = tk.load("SPY", jump_factor=None)["close"].pct_change().iloc[1:].loc[:"2025-09-26"]
    frame = var_backtest_report(r)
    assert str(frame.attrs["first"].date()) == "1995-01-24" and (frame["n"] == 7721).all()
    observed = frame.set_index(["method", "level"])["exceptions"].to_dict()
    assert observed == {
        ("historical 250d", 0.95): 422, ("historical 500d", 0.95): 416,
        ("parametric 250d", 0.95): 437, ("parametric 500d", 0.95): 434,
        ("EWMA 0.94", 0.95): 449,
        ("historical 250d", 0.99): 109, ("historical 500d", 0.99): 103,
        ("parametric 250d", 0.99): 189, ("parametric 500d", 0.99): 191,
        ("EWMA 0.94", 0.99): 158,
    }
    row = frame.iloc[1]  # historical 500d at 95 %: n00 6938, n01 366, n10 366, n11 50
    assert (row["n00"], row["n01"], row["n10"], row["n11"]) == (6938, 366, 366, 50)
    assert row["kupiec_p"] == pytest.approx(0.1223, abs=1e-4)
    assert row["ind_lr"] == pytest.approx(29.13, abs=5e-3)
    upper = var_backtest_report(r, windows=(500,), convention="upper")  # k = 25 and 5: ties
    assert upper["exceptions"].tolist()[0::3] == [431, 122]


def test_basel_traffic_light() -> None:
    from scipy.stats import binom

    # Basel Committee (1996), table 2: 250 days at 99 %
    zones = [traffic_light(x, 250, 0.99) for x in range(12)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 2
    for x, n, level in ((4, 250, 0.99), (9, 250, 0.99), (416, 7721, 0.95), (0, 10, 0.95)):
        assert binomial_cdf(x, n, 1 - level) == pytest.approx(binom.cdf(x, n, 1 - level),
                                                              rel=1e-11)
    assert coverage_tests([0] * 249 + [1], 0.99).zone == "green"
