"""Portfolio risk rules: net exposure, portfolio beta, sector concentration,
correlation-weighted exposure, VaR and CVaR limits, and volatility-target sizing (numba).

They live beside the per-order rules of :mod:`toolkit.risk.rules` and are called by the same
close-of-bar step (:func:`toolkit.engine._step.plan_close_nb`) that the engine, the generic
sweep and the live sleeve run, so a limit fires on the same bar in a backtest and a live
session. The rules look at the book as it will stand after the close's orders: every
reduction and cover passes in full; a sector over its cap cuts the openings in that sector;
then the orders' opening parts are cut by one common fraction, the largest that keeps the
book within every book-wide limit (a limit the book already breaches after its reductions
may not get worse). A long/short book built from flat is therefore judged as the whole it
is, not leg by leg. The buying-power trim of buys comes
after (cash is the harder limit) and can still move the book; it is a guard of its own.

Estimates are causal: the sample covariance (ddof = 1) of the last ``window`` daily
close-to-close returns up to the decision bar's close, and each symbol's beta against a
benchmark over the same returns (cov / var). VaR and CVaR are one-day losses as fractions of
equity: parametric with a zero mean (z x sigma, phi(z) / alpha x sigma; RiskMetrics 1996,
the Gaussian expected shortfall of Acerbi & Tasche 2002) or historical on the window's
returns of today's weights (:mod:`toolkit.risk.var`, Riskfolio-Lib's order statistic).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from toolkit.risk.rules import (
    CVAR_K,
    G_BETA,
    G_CORR,
    G_CVAR,
    G_NET,
    G_SECTOR,
    G_VAR,
    G_WARMUP,
    MAX_BETA,
    MAX_CORR,
    MAX_CVAR,
    MAX_NET,
    MAX_SECTOR,
    MAX_VAR,
    VAR_ALPHA,
    VAR_HISTORICAL,
    VAR_Z,
    VOL_TARGET,
)
from toolkit.risk.var import historical_cvar_nb, historical_var_nb

# the book-wide rules (max_sector, index 2, cuts per sector before them)
_RULES = (MAX_NET, MAX_BETA, MAX_SECTOR, MAX_CORR, MAX_VAR, MAX_CVAR)
_BITS = (G_NET, G_BETA, G_SECTOR, G_CORR, G_VAR, G_CVAR)
_BISECTIONS = 48  # historical VaR/CVaR: the compliant fraction to ~4e-15


class RiskContext(NamedTuple):
    """What the portfolio rules estimate from (built by :func:`build_context`). A run without
    portfolio rules passes None instead: the close-of-bar step is then compiled without
    them (numba prunes the branches on the argument's type), which keeps ~9 s of compiling
    off every cold start that does not use them."""

    returns: np.ndarray  # (bars, symbols) close-to-close simple returns; row 0 and gaps 0
    bench: np.ndarray  # (bars,) the beta benchmark's returns (zeros without a beta rule)
    sector: np.ndarray  # (symbols,) int64 sector ids (-1: none)
    window: int  # returns in each estimate


@njit(cache=True)
def window_estimates_nb(ctx: RiskContext, b: int, cov: np.ndarray, beta: np.ndarray) -> bool:
    """Sample covariance of the returns of bars (b - window, b] into ``cov`` and each
    symbol's beta to the benchmark into ``beta``; False (nothing written) before a full
    window of returns exists."""
    w = ctx.window
    if b < w:
        return False
    r = ctx.returns
    m = r.shape[1]
    lo = b - w + 1
    mean = np.zeros(m)
    mb = 0.0
    for t in range(lo, b + 1):
        for k in range(m):
            mean[k] += r[t, k]
        mb += ctx.bench[t]
    mean /= w
    mb /= w
    cov[:, :] = 0.0
    cb = np.zeros(m)
    vb = 0.0
    for t in range(lo, b + 1):
        db = ctx.bench[t] - mb
        vb += db * db
        for k in range(m):
            dk = r[t, k] - mean[k]
            cb[k] += dk * db
            for q in range(k + 1):
                cov[k, q] += dk * (r[t, q] - mean[q])
    for k in range(m):
        for q in range(k + 1):
            cov[k, q] /= w - 1
            cov[q, k] = cov[k, q]
        beta[k] = cb[k] / vb if vb > 0.0 else 0.0
    return True


@njit(cache=True)
def vol_scale_nb(risk: np.ndarray, cov: np.ndarray, j: int, periods: float) -> float:
    """Volatility-target sizing: the factor target_vol / (annualised vol of symbol ``j``)
    that scales its target exposure (inf for a symbol whose returns did not move: the
    leverage cap then sizes it)."""
    sd = math.sqrt(max(cov[j, j], 0.0) * periods)
    return risk[VOL_TARGET] / sd if sd > 0.0 else math.inf


@njit(cache=True, inline="always")
def _linear_room(a: float, s: float, limit: float) -> float:
    """Largest y in [0, 1] with |a + y s| <= max(limit, |a|)."""
    bound = max(limit, abs(a))
    if s > 0.0:
        return min(1.0, max(0.0, (bound - a) / s))
    if s < 0.0:
        return min(1.0, max(0.0, (bound + a) / -s))
    return 1.0


@njit(cache=True, inline="always")
def _quadratic_room(a: float, b: float, c: float, limit2: float) -> float:
    """Largest y in [0, 1] with a + 2 b y + c y^2 <= max(limit2, a) (c >= 0: a variance)."""
    bound = max(limit2, a)
    if a + 2.0 * b + c <= bound or c <= 0.0:
        return 1.0
    y = (-b + math.sqrt(max(b * b - c * (a - bound), 0.0))) / c
    return min(1.0, max(0.0, y))


@njit(cache=True)
def _historical_nb(pnl: np.ndarray, dr: np.ndarray, y: float, work: np.ndarray,
                   alpha: float, cvar: bool) -> float:  # fmt: skip
    """Historical VaR (or CVaR) of the window's returns of the book moved by y x the order."""
    for t in range(pnl.shape[0]):
        work[t] = pnl[t] + y * dr[t]
    if cvar:
        return historical_cvar_nb(work, alpha)
    return historical_var_nb(work, alpha, False)


@njit(cache=True)
def _historical_room(pnl: np.ndarray, dr: np.ndarray, alpha: float, limit: float,
                     cvar: bool) -> float:  # fmt: skip
    """Largest y in [0, 1] (by bisection: the risk is taken to grow along the order) whose
    historical VaR (CVaR) is <= max(limit, today's)."""
    work = np.empty(pnl.shape[0])
    bound = max(limit, _historical_nb(pnl, dr, 0.0, work, alpha, cvar))
    if _historical_nb(pnl, dr, 1.0, work, alpha, cvar) <= bound:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if _historical_nb(pnl, dr, mid, work, alpha, cvar) <= bound:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def split_order_nb(pos: float, delta: float) -> tuple[float, float]:
    """(part that reduces or covers, part that opens exposure) of an order of ``delta``
    shares on a position ``pos``: a pure reduction is all the first, a flip covers ``pos``
    and opens the rest, an addition or an order from flat is all the second."""
    new = pos + delta
    if delta == 0.0 or (pos != 0.0 and new * pos >= 0.0 and abs(new) <= abs(pos)):
        return delta, 0.0
    cover = -pos if pos != 0.0 and new * pos <= 0.0 else 0.0
    return cover, delta - cover


@njit(cache=True)
def cap_book_nb(
    held: np.ndarray,
    cover: np.ndarray,
    opening: np.ndarray,
    price: np.ndarray,
    value: float,
    cov: np.ndarray,
    beta: np.ndarray,
    ready: bool,
    ctx: RiskContext,
    b: int,
    risk: np.ndarray,
    scale: np.ndarray,
    bits: np.ndarray,
) -> None:
    """The fraction of each order's opening part that keeps the book within the portfolio
    limits into ``scale`` (symbols), and the bits of the rules that cut it into ``bits``.

    The book is checked as a whole, as it stands after the close's orders (a neutral book
    built from flat passes as one): ``held`` shares plus every reduction and cover
    (``cover``, which always pass) plus the opening parts, at ``price`` on equity ``value``.
    A sector over ``max_sector`` cuts only the openings in that sector (by one fraction);
    the book-wide rules then cut every remaining opening by one common fraction, the
    largest that keeps the book within them. A limit the book already breaches after its
    reductions may not get worse. Without a full estimation window (``ready`` False)
    nothing opens (G_WARMUP).
    """
    m = held.shape[0]
    base = np.empty(m)
    d = np.empty(m)
    any_open = False
    for k in range(m):
        base[k] = (held[k] + cover[k]) * price[k] / value
        d[k] = opening[k] * price[k] / value
        any_open = any_open or opening[k] != 0.0
        scale[k] = 1.0
        bits[k] = 0
    if not any_open:
        return
    if not ready:
        for k in range(m):
            if opening[k] != 0.0:
                scale[k] = 0.0
                bits[k] = G_WARMUP
        return
    if np.isfinite(risk[MAX_SECTOR]):
        for k in range(m):  # each sector an order opens in (its base and opening share a sign)
            sec = ctx.sector[k]
            if sec < 0 or d[k] == 0.0 or scale[k] < 1.0:
                continue
            gross = 0.0
            adds = 0.0
            for q in range(m):
                if ctx.sector[q] == sec:
                    gross += abs(base[q])
                    adds += abs(d[q])
            y = _linear_room(gross, adds, risk[MAX_SECTOR])
            if y < 1.0:
                for q in range(m):
                    if ctx.sector[q] == sec and d[q] != 0.0:
                        scale[q] = y
                        bits[q] = G_SECTOR
        for k in range(m):
            d[k] *= scale[k]
    rooms = np.ones(len(_RULES))
    if np.isfinite(risk[MAX_NET]):
        rooms[0] = _linear_room(base.sum(), d.sum(), risk[MAX_NET])
    if np.isfinite(risk[MAX_BETA]):
        rooms[1] = _linear_room((base * beta).sum(), (d * beta).sum(), risk[MAX_BETA])
    parametric = risk[VAR_HISTORICAL] == 0.0
    if np.isfinite(risk[MAX_CORR]) or (
        parametric and (np.isfinite(risk[MAX_VAR]) or np.isfinite(risk[MAX_CVAR]))
    ):
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        if np.isfinite(risk[MAX_CORR]):  # w'Rw, R the correlation matrix (a still symbol: 1)
            a = 0.0
            g = 0.0
            c = 0.0
            for k in range(m):
                for q in range(m):
                    if k == q:
                        rho = 1.0
                    elif sd[k] > 0.0 and sd[q] > 0.0:
                        rho = cov[k, q] / (sd[k] * sd[q])
                    else:
                        rho = 0.0
                    a += base[k] * rho * base[q]
                    g += base[k] * rho * d[q]
                    c += d[k] * rho * d[q]
            rooms[3] = _quadratic_room(a, g, c, risk[MAX_CORR] ** 2)
        if parametric:  # w'Sigma w, written out: numba's @ needs SciPy's BLAS
            a = 0.0
            g = 0.0
            c = 0.0
            for k in range(m):
                for q in range(m):
                    a += base[k] * cov[k, q] * base[q]
                    g += base[k] * cov[k, q] * d[q]
                    c += d[k] * cov[k, q] * d[q]
            for i, z in ((4, risk[VAR_Z]), (5, risk[CVAR_K])):
                limit = risk[MAX_VAR] if i == 4 else risk[MAX_CVAR]
                if np.isfinite(limit) and z > 0.0:
                    rooms[i] = _quadratic_room(a, g, c, (limit / z) ** 2)
    if not parametric and (np.isfinite(risk[MAX_VAR]) or np.isfinite(risk[MAX_CVAR])):
        lo = b - ctx.window + 1
        pnl = np.zeros(ctx.window)  # the window's returns of the book after its reductions
        dr = np.zeros(ctx.window)  # and of the opening parts
        for t in range(ctx.window):
            for k in range(m):
                pnl[t] += ctx.returns[lo + t, k] * base[k]
                dr[t] += ctx.returns[lo + t, k] * d[k]
        if np.isfinite(risk[MAX_VAR]):
            rooms[4] = _historical_room(pnl, dr, risk[VAR_ALPHA], risk[MAX_VAR], False)
        if np.isfinite(risk[MAX_CVAR]):
            rooms[5] = _historical_room(pnl, dr, risk[VAR_ALPHA], risk[MAX_CVAR], True)
    y = rooms.min()
    if y >= 1.0:
        return
    book_bits = 0
    for i in range(len(_RULES)):
        if rooms[i] <= y:
            book_bits |= _BITS[i]
    for k in range(m):
        if d[k] != 0.0:
            scale[k] *= y
            bits[k] |= book_bits


@njit(cache=True)
def scaled_order_nb(pos: float, delta: float, y: float, fractional: bool) -> float:
    """The order after :func:`cap_book_nb`: its reduction or cover in full, y x its opening
    part (truncated toward zero for whole shares, to within 1e-9 of a share)."""
    cover, opening = split_order_nb(pos, delta)
    if opening == 0.0 or y >= 1.0:
        return delta
    opening *= y
    if not fractional:
        # a cut within 1e-9 of a whole share counts as that share: the fraction comes from
        # covariance sums whose last bits depend on the order fills were booked in, and a
        # live book and its backtest must not land on either side of an integer
        opening = math.trunc(opening + math.copysign(1e-9 * abs(opening), opening))
    return cover + opening


def build_context(
    close: np.ndarray,
    limits_window: int,
    bench_close: np.ndarray | None = None,
    sector_ids: np.ndarray | None = None,
) -> RiskContext:
    """The context of a book with ``close`` (bars, symbols): returns close-to-close (a gap,
    NaN, counts as no move), the benchmark's returns when given (a beta rule), sector ids
    (-1: none) and the estimation window."""
    n, m = close.shape
    returns = np.zeros((n, m))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns[1:] = close[1:] / close[:-1] - 1.0
    returns[~np.isfinite(returns)] = 0.0
    bench = np.zeros(n)
    if bench_close is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            bench[1:] = bench_close[1:] / bench_close[:-1] - 1.0
        bench[~np.isfinite(bench)] = 0.0
    sector = np.full(m, -1, dtype=np.int64) if sector_ids is None else sector_ids.astype(np.int64)
    return RiskContext(returns, bench, sector, int(limits_window))
