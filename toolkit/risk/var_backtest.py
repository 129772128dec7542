"""Back-testing one-day VaR forecasts: Kupiec's proportion-of-failures test and
Christoffersen's independence and conditional-coverage tests, and a report table.

An *exception* (hit, failure) at ``t`` is a return below minus that day's VaR forecast,
``r_t < -VaR_t`` (a loss strictly larger than the VaR); bars without a forecast (NaN) are
left out. With ``T`` forecasts, ``x`` exceptions and ``alpha = 1 - level``:

* Kupiec (1995), proportion of failures: ``LR_pof = -2 ln[(1-alpha)^(T-x) alpha^x /
  ((1-x/T)^(T-x) (x/T)^x)]``, chi-square with 1 degree of freedom under a correct rate.
* Christoffersen (1998), independence: ``n_ij`` counts days in state ``i`` followed by a day
  in state ``j`` (1 = exception), ``pi_01 = n01 / (n00 + n01)``, ``pi_11 = n11 / (n10 + n11)``,
  ``pi = (n01 + n11) / (T - 1)``; ``LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11) /
  ((1-pi_01)^n00 pi_01^n01 (1-pi_11)^n10 pi_11^n11)]``, chi-square(1): exceptions that
  cluster (a hit makes the next one likelier) fail it.
* Christoffersen (1998), conditional coverage: ``LR_cc = LR_pof + LR_ind``, chi-square(2)
  (the paper's sum; it equals the paper's direct ratio when the first day is left out of
  the POF part, a difference of one observation).

Conventions at the edges (no NaN, no inf): ``0 ln 0 = 0`` (the limit), so zero exceptions
give ``LR_pof = -2 T ln(1 - alpha)`` and ``T`` exceptions ``-2 T ln(alpha)``; a transition
probability whose denominator is 0 (no exception before the last day, or no calm day) is
taken as 0 and its terms vanish, so with no exceptions, or only exceptions, ``LR_ind = 0``
and its p-value is 1: the independence test has nothing to say then, and the POF test
carries the verdict. Tiny negative LRs from rounding are clipped to 0.

p-values are chi-square survival functions in closed form: ``sf(x; 1) = erfc(sqrt(x/2))``,
``sf(x; 2) = exp(-x/2)`` (no SciPy at run time).

The Basel traffic light (Basel Committee on Banking Supervision 1996, "Supervisory framework
for the use of backtesting in conjunction with the internal models approach to market risk
capital requirements") classes the exception count by its cumulative binomial probability
under a correct model: green below 95 %, yellow below 99.99 %, red above (250 days at 99 %:
green 0-4, yellow 5-9, red 10 or more); :func:`traffic_light` applies the same cut-offs to any
number of days and level.

References: P. Kupiec (1995), "Techniques for verifying the accuracy of risk measurement
models", Journal of Derivatives 3(2), 73-84. P. Christoffersen (1998), "Evaluating interval
forecasts", International Economic Review 39(4), 841-862.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from toolkit.errors import ConfigError, DataError
from toolkit.risk.var import (
    EWMA_WARMUP,
    LAMBDA_DAILY,
    Convention,
    Method,
    _alpha,
    _returns,
    rolling_var,
)


def chi2_sf(x: float, dof: int) -> float:
    """P[chi-square(dof) > x] for 1 or 2 degrees of freedom (closed forms)."""
    if dof == 1:
        return math.erfc(math.sqrt(max(x, 0.0) / 2.0))
    if dof == 2:
        return math.exp(-max(x, 0.0) / 2.0)
    raise ConfigError(f"chi2_sf knows 1 or 2 degrees of freedom, not {dof}.")


def _loglik(n0: int, n1: int, p: float) -> float:
    """``n0 ln(1 - p) + n1 ln(p)`` with ``0 ln 0 = 0``."""
    out = 0.0
    if n0:
        out += n0 * math.log1p(-p) if p < 1.0 else -math.inf
    if n1:
        out += n1 * math.log(p) if p > 0.0 else -math.inf
    return out


def kupiec_lr(exceptions: int, n: int, level: float) -> float:
    """Kupiec's (1995) proportion-of-failures likelihood ratio (module doc)."""
    alpha = _alpha(level)
    if n < 1 or not 0 <= exceptions <= n:
        raise DataError(f"need 0 <= exceptions <= n and n >= 1, got {exceptions} of {n}.")
    lr = -2.0 * (_loglik(n - exceptions, exceptions, alpha)
                 - _loglik(n - exceptions, exceptions, exceptions / n))
    return max(lr, 0.0)


def binomial_cdf(x: int, n: int, p: float) -> float:
    """P[Binomial(n, p) <= x], summed from log-pmfs (exact enough for the zone cut-offs)."""
    if x < 0:
        return 0.0
    if x >= n:
        return 1.0
    log_q, log_p = math.log1p(-p), math.log(p)
    total = 0.0
    for i in range(x + 1):
        log_pmf = (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                   + i * log_p + (n - i) * log_q)
        total += math.exp(log_pmf)
    return min(total, 1.0)


def traffic_light(exceptions: int, n: int, level: float) -> str:
    """Basel (1996) zone of ``exceptions`` in ``n`` days: "green", "yellow" or "red"."""
    cdf = binomial_cdf(exceptions, n, _alpha(level))
    return "green" if cdf < 0.95 else "yellow" if cdf < 0.9999 else "red"


def transitions(hits: npt.ArrayLike) -> tuple[int, int, int, int]:
    """``(n00, n01, n10, n11)``: consecutive-day pairs by state (1 = exception)."""
    h = np.asarray(hits, dtype=bool)
    prev, nxt = h[:-1], h[1:]
    return (
        int(np.sum(~prev & ~nxt)),
        int(np.sum(~prev & nxt)),
        int(np.sum(prev & ~nxt)),
        int(np.sum(prev & nxt)),
    )


def christoffersen_lr(n00: int, n01: int, n10: int, n11: int) -> float:
    """Christoffersen's (1998) independence likelihood ratio from the transition counts."""
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    total = n00 + n01 + n10 + n11
    pi = (n01 + n11) / total if total else 0.0
    lr = -2.0 * (_loglik(n00 + n10, n01 + n11, pi)
                 - _loglik(n00, n01, pi01) - _loglik(n10, n11, pi11))
    return max(lr, 0.0)


@dataclass(frozen=True)
class VarBacktest:
    """Coverage of one VaR forecast series: counts, Kupiec and Christoffersen statistics,
    the transition counts and the Basel zone."""

    level: float
    n: int
    expected: float
    exceptions: int
    rate: float
    kupiec_lr: float
    kupiec_p: float
    ind_lr: float
    ind_p: float
    cc_lr: float
    cc_p: float
    n00: int
    n01: int
    n10: int
    n11: int
    zone: str


def coverage_tests(hits: npt.ArrayLike, level: float) -> VarBacktest:
    """Kupiec and Christoffersen tests on a 0/1 exception series (consecutive days)."""
    h = np.asarray(hits, dtype=bool)
    if h.ndim != 1 or h.size < 1:
        raise DataError("the exception series must be 1-D with at least one day.")
    n, x = int(h.size), int(h.sum())
    pof = kupiec_lr(x, n, level)
    counts = transitions(h)
    ind = christoffersen_lr(*counts)
    return VarBacktest(level, n, n * _alpha(level), x, x / n, pof, chi2_sf(pof, 1), ind,
                       chi2_sf(ind, 1), pof + ind, chi2_sf(pof + ind, 2), *counts,
                       traffic_light(x, n, level))


def var_backtest(
    returns: npt.ArrayLike, var: npt.ArrayLike, level: float, *, start: int | None = None
) -> VarBacktest:
    """Back-test VaR forecasts ``var`` (aligned with ``returns``, losses as positive numbers)
    from bar ``start`` (default: the first forecast) on: exceptions ``r_t < -VaR_t``, then
    :func:`coverage_tests`. Forecasts after ``start`` must all be present (consecutive days
    for the independence test)."""
    r = _returns(returns)
    v = np.asarray(var, dtype=np.float64)
    if v.shape != r.shape:
        raise DataError(f"VaR forecasts have shape {v.shape}, returns {r.shape}; align them.")
    have = np.flatnonzero(np.isfinite(v))
    if have.size == 0:
        raise DataError("no VaR forecast to test: the history is shorter than the window.")
    first = int(have[0]) if start is None else int(start)
    if not np.isfinite(v[first:]).all() or first >= r.size:
        raise DataError(f"VaR forecasts are missing after bar {first}; start the test later.")
    return coverage_tests(r[first:] < -v[first:], level)


def var_backtest_report(
    returns: npt.ArrayLike,
    *,
    levels: Sequence[float] = (0.95, 0.99),
    windows: Sequence[int] = (250, 500),
    lam: float = LAMBDA_DAILY,
    warmup: int = EWMA_WARMUP,
    convention: Convention = "lower",
) -> pd.DataFrame:
    """Kupiec/Christoffersen table for historical and parametric VaR over each rolling
    window and RiskMetrics EWMA VaR, at each level. Every row is tested on the same days:
    from the first bar where all forecasts exist (``max(windows, warmup)``) to the end.
    With a dated series the frame's attrs name the first and last day tested."""
    r = _returns(returns, need=2)
    runs: list[tuple[str, Method, int]] = []
    for w in windows:
        runs.append((f"historical {w}d", "historical", int(w)))
    for w in windows:
        runs.append((f"parametric {w}d", "parametric", int(w)))
    runs.append((f"EWMA {lam:g}", "ewma", 0))
    start = max([*windows, warmup])
    if start >= r.size:
        raise DataError(f"{r.size} returns are too few for a {start}-day window.")
    rows = []
    for level in levels:
        for name, method, w in runs:
            var = rolling_var(r, method, level, window=max(w, 2), lam=lam, warmup=warmup,
                              convention=convention)
            rows.append({"method": name, **asdict(var_backtest(r, var, level, start=start))})
    frame = pd.DataFrame(rows)
    index = getattr(returns, "index", None)
    if isinstance(index, pd.DatetimeIndex):
        frame.attrs["first"], frame.attrs["last"] = index[start], index[-1]
    return frame


def format_report(frame: pd.DataFrame) -> str:
    """The report as a fixed-width text table (for a terminal or a note)."""
    cols = {"method": "method", "level": "level", "n": "days", "expected": "expected",
            "exceptions": "observed", "rate": "rate", "kupiec_lr": "LR_pof",
            "kupiec_p": "p_pof", "ind_lr": "LR_ind", "ind_p": "p_ind", "cc_lr": "LR_cc",
            "cc_p": "p_cc", "zone": "zone"}
    out = frame[list(cols)].rename(columns=cols)
    return out.to_string(index=False, formatters={
        "level": "{:.0%}".format, "expected": "{:.1f}".format, "rate": "{:.2%}".format,
        "LR_pof": "{:.2f}".format, "LR_ind": "{:.2f}".format, "LR_cc": "{:.2f}".format,
        "p_pof": _p_text, "p_ind": _p_text, "p_cc": _p_text})


def _p_text(p: float) -> str:
    """Four decimals, or two significant digits below 1e-4 (a rejection still shows its size)."""
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"
