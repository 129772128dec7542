"""Forward and discount factor of one expiry implied from put-call parity.

European put-call parity ``C - P = DF (F - K)`` (Hull, *Options, Futures and Other
Derivatives*, ch. 11) is a straight line in the strike: ``y = C_mid - P_mid = a - DF K`` with
``a = DF F``. A weighted, iteratively re-weighted least-squares fit over the two-sided pairs
near the money gives ``DF`` (minus the slope) and ``F = a / DF`` without any external rate or
dividend. Weights are ``1 / (half-spread of C + half-spread of P)^2``; pairs whose residual
exceeds three robust scales (or their own half-spreads, whichever is larger) are dropped
(Huber-style trimming), so one stale quote cannot move the forward; pairs more than five times
wider than the median pair are placeholders and never enter.

For American options (SPY, VXX) parity is only an inequality: ``C - P = DF (F - K) + e_C - e_P``
with the early-exercise premia ``e_C, e_P >= 0``, and ``e_P`` grows with the strike (deep
in-the-money puts are exercised early when ``r > 0``), which steepens the line: fitted as above
the rate comes out far too low, often negative (SPY 2026-02-11, 37-day expiry: -13.6 %). The
forward is still pinned near the money, where both premia are small. Hence the American rule
(:func:`american_forward`, :func:`american_parity_rate`): the premia are computed with our
American pricer (:mod:`toolkit.options.american`) at the out-of-the-money Black vols and taken
off the quotes ("de-Americanised" parity, the desk practice of fitting a European-equivalent
line); with the rate given, the forward comes from the pairs nearest the money with ``DF``
fixed to ``e^{-rT}``; without one, iterating premia and fit to a fixed point recovers the rate
from the long expiries (SPY 2026-02-11: 4.2-4.6 % from expiries of 230+ days, where the plain
fit gives 0.2-1.7 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from toolkit.options import _implied
from toolkit.options.american import american_price
from toolkit.options.black import bsm_price

Array = NDArray[np.float64]


@dataclass(frozen=True)
class ParityFit:
    """Result of :func:`implied_forward` for one expiry.

    ``forward`` and ``discount_factor`` are NaN when fewer than ``min_pairs`` usable pairs;
    ``n_pairs`` is the number of pairs in the final fit; ``residual`` the root-mean-square of
    the fit residuals of ``C - P`` (price units) and ``max_residual`` the largest absolute one.
    """

    forward: float
    discount_factor: float
    n_pairs: int
    residual: float
    max_residual: float


NO_FIT = ParityFit(np.nan, np.nan, 0, np.nan, np.nan)


def two_sided(bid: ArrayLike, ask: ArrayLike) -> NDArray[np.bool_]:
    """True where a quote is two-sided and not crossed (``0 < bid <= ask``, both finite)."""
    b = np.asarray(bid, dtype=np.float64)
    a = np.asarray(ask, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.isfinite(b) & np.isfinite(a) & (b > 0.0) & (a >= b))


def implied_forward(
    strike: ArrayLike,
    call_bid: ArrayLike,
    call_ask: ArrayLike,
    put_bid: ArrayLike,
    put_ask: ArrayLike,
    *,
    max_pairs: int = 60,
    min_pairs: int = 3,
) -> ParityFit:
    """Forward and discount factor of one expiry from call/put quotes paired by strike.

    Arrays are aligned per strike (NaN where a side is missing). Uses up to ``max_pairs``
    two-sided pairs closest to the money (smallest ``|C_mid - P_mid|``).
    """
    k = np.asarray(strike, dtype=np.float64)
    cb, ca = np.asarray(call_bid, dtype=np.float64), np.asarray(call_ask, dtype=np.float64)
    pb, pa = np.asarray(put_bid, dtype=np.float64), np.asarray(put_ask, dtype=np.float64)
    ok = two_sided(cb, ca) & two_sided(pb, pa) & np.isfinite(k) & (k > 0.0)
    if int(ok.sum()) < min_pairs:
        return NO_FIT
    k, cb, ca, pb, pa = k[ok], cb[ok], ca[ok], pb[ok], pa[ok]
    y = 0.5 * (cb + ca) - 0.5 * (pb + pa)
    half = 0.5 * (ca - cb) + 0.5 * (pa - pb)
    near = np.argsort(np.abs(y), kind="stable")[:max_pairs]
    k, y, half = k[near], y[near], half[near]
    if np.unique(k).size < 2:
        return NO_FIT
    tick = max(float(np.median(half)) * 1e-3, 1e-6)
    # A pair five times wider than the typical one is a placeholder quote, not a price.
    usable = half <= 5.0 * float(np.median(half))
    keep = usable
    coef = np.array([np.nan, np.nan])
    for _ in range(6):
        if int(keep.sum()) < min_pairs or np.unique(k[keep]).size < 2:
            return NO_FIT
        w = 1.0 / np.maximum(half[keep], tick) ** 2
        design = np.column_stack([np.ones(int(keep.sum())), -k[keep]])
        sw = np.sqrt(w)
        coef = np.linalg.lstsq(design * sw[:, None], y[keep] * sw, rcond=None)[0]
        res = y - (coef[0] - coef[1] * k)
        scale = 1.4826 * float(np.median(np.abs(res[keep])))
        new_keep = usable & (np.abs(res) <= np.maximum(3.0 * scale, np.maximum(half, tick)))
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    a, dfac = float(coef[0]), float(coef[1])
    if not (np.isfinite(a) and np.isfinite(dfac) and dfac > 0.0):
        return NO_FIT
    res = (y - (a - dfac * k))[keep]
    return ParityFit(
        forward=a / dfac,
        discount_factor=dfac,
        n_pairs=int(keep.sum()),
        residual=float(np.sqrt(np.mean(res**2))),
        max_residual=float(np.max(np.abs(res))),
    )


# -- American chains ------------------------------------------------------------------------
NEAR_PAIRS = 8  # pairs nearest the money that give an American expiry's forward
FORWARD_SWEEPS = 4  # premia -> forward sweeps (the forward moves < 1e-6 after 3 on SPY)
RATE_SWEEPS = 40  # at most, for the de-Americanised rate's fixed point
RATE_TOL = 2e-5  # its tolerance on r (0.2 basis point)
RATE_START = 0.03  # where that iteration starts (when the plain fit is lower)


@dataclass(frozen=True)
class AmericanForward:
    """Result of :func:`american_forward`: ``forward`` with ``discount_factor = e^{-rT}`` fixed,
    ``dividend_yield = r - ln(F/S)/T``; ``n_pairs`` pairs used, ``residual`` the weighted RMS
    of their de-Americanised ``C - P - DF (F - K)`` (price units). NaN without pairs."""

    forward: float
    discount_factor: float
    rate: float
    dividend_yield: float
    n_pairs: int
    residual: float


def _usable_pairs(
    strike: ArrayLike, call_bid: ArrayLike, call_ask: ArrayLike, put_bid: ArrayLike,
    put_ask: ArrayLike,
) -> tuple[Array, Array, Array, Array, Array]:
    k = np.asarray(strike, dtype=np.float64)
    cb, ca = np.asarray(call_bid, dtype=np.float64), np.asarray(call_ask, dtype=np.float64)
    pb, pa = np.asarray(put_bid, dtype=np.float64), np.asarray(put_ask, dtype=np.float64)
    ok = two_sided(cb, ca) & two_sided(pb, pa) & np.isfinite(k) & (k > 0.0)
    return k[ok], cb[ok], ca[ok], pb[ok], pa[ok]


def early_exercise_premia(
    S: float, K: Array, T: float, r: float, q: float, F: float, call_mid: Array,
    put_mid: Array,
) -> tuple[Array, Array]:
    """American minus European value of the call and the put at each strike, both at the Black
    vol of the out-of-the-money mid (forward ``F``, ``DF = e^{-rT}``); 0 where that mid has no
    vol (its premium is then negligible or unknowable). ``r >= 0`` (one exercise boundary)."""
    call = K >= F
    price = np.where(call, call_mid, put_mid)
    n = K.size
    dfac = math.exp(-r * T)
    # the scalar kernel: a few dozen pairs, where the parallel one's thread start costs more
    iv = np.empty(n)
    for i in range(n):
        iv[i] = _implied.implied_vol_nb(float(price[i]), bool(call[i]), F, float(K[i]), T, dfac)[0]
    good = np.isfinite(iv)
    ec, ep = np.zeros(n), np.zeros(n)
    if good.any():
        kg, sg = K[good], iv[good]
        ec[good] = american_price("C", S, kg, T, r, q, sg) - bsm_price("C", S, kg, T, r, q, sg)
        ep[good] = american_price("P", S, kg, T, r, q, sg) - bsm_price("P", S, kg, T, r, q, sg)
    return np.maximum(ec, 0.0), np.maximum(ep, 0.0)


def american_forward(
    S: float, T: float, rate: float, strike: ArrayLike, call_bid: ArrayLike,
    call_ask: ArrayLike, put_bid: ArrayLike, put_ask: ArrayLike, *, near: int = NEAR_PAIRS,
) -> AmericanForward:
    """Forward of one American expiry at a given rate: ``DF = e^{-rT}`` is fixed, and each of
    the ``near`` two-sided pairs nearest the money (smallest ``|C_mid - P_mid|``) gives
    ``F_i = K + (C - e_C - (P - e_P)) / DF`` with the early-exercise premia of
    :func:`early_exercise_premia`; the forward is their mean weighted by ``1 / half-spread^2``
    (pairs off by more than three robust scales dropped), re-swept as ``q = r - ln(F/S)/T``
    moves the premia. ``rate >= 0`` (the American pricer handles one exercise boundary)."""
    nan = float("nan")
    none = AmericanForward(nan, nan, rate, nan, 0, nan)
    if not (math.isfinite(S) and S > 0.0 and math.isfinite(T) and T > 0.0 and rate >= 0.0):
        return none
    k, cb, ca, pb, pa = _usable_pairs(strike, call_bid, call_ask, put_bid, put_ask)
    if k.size == 0:
        return none
    cm, pm = 0.5 * (cb + ca), 0.5 * (pb + pa)
    half = 0.5 * (ca - cb) + 0.5 * (pa - pb)
    # A pair five times wider than the typical one is a placeholder quote (as implied_forward).
    wide = half > 5.0 * float(np.median(half))
    order = np.argsort(np.where(wide, np.inf, np.abs(cm - pm)), kind="stable")[:near]
    order = order[~wide[order]]
    k, cm, pm, half = k[order], cm[order], pm[order], half[order]
    dfac = math.exp(-rate * T)
    w = 1.0 / np.maximum(half, max(float(np.median(half)) * 1e-3, 1e-6)) ** 2
    fwd = float(np.sum(w * (k + (cm - pm) / dfac)) / np.sum(w))
    keep = np.ones(k.size, dtype=np.bool_)
    f_i = k
    for _ in range(FORWARD_SWEEPS):
        q = rate - math.log(fwd / S) / T
        ec, ep = early_exercise_premia(S, k, T, rate, q, fwd, cm, pm)
        f_i = k + (cm - ec - (pm - ep)) / dfac
        dev = np.abs(f_i - np.median(f_i))
        keep = (dev <= max(3.0 * 1.4826 * float(np.median(dev)), 1e-9 * fwd)) | (k.size < 3)
        fwd = float(np.sum(w[keep] * f_i[keep]) / np.sum(w[keep]))
    res = dfac * (f_i[keep] - fwd)
    return AmericanForward(
        forward=fwd, discount_factor=dfac, rate=rate, dividend_yield=rate - math.log(fwd / S) / T,
        n_pairs=int(keep.sum()),
        residual=float(np.sqrt(np.sum(w[keep] * res**2) / np.sum(w[keep]))),
    )


def american_parity_rate(
    S: float, T: float, strike: ArrayLike, call_bid: ArrayLike, call_ask: ArrayLike,
    put_bid: ArrayLike, put_ask: ArrayLike, *, max_pairs: int = 60,
) -> ParityFit:
    """The de-Americanised parity fit of one American expiry: :func:`implied_forward` on the
    quotes less their early-exercise premia (:func:`early_exercise_premia` at the current
    rate, floored at 0, and forward), iterated to a fixed point in the rate (Steffensen's
    acceleration every third sweep). Long expiries pin the rate (the premia there are large and
    smooth in the strike); short ones barely do (``r = -ln(DF)/T``: an error in ``DF`` is
    divided by ``T``). NO_FIT without a plain fit or when the sweeps do not settle."""
    k, cb, ca, pb, pa = _usable_pairs(strike, call_bid, call_ask, put_bid, put_ask)
    fit = implied_forward(k, cb, ca, pb, pa, max_pairs=max_pairs)
    if not (np.isfinite(fit.forward) and math.isfinite(S) and S > 0.0 and T > 0.0):
        return NO_FIT
    cm, pm = 0.5 * (cb + ca), 0.5 * (pb + pa)
    # the pairs implied_forward would pick (nearest the money): premia only where they count
    near = np.sort(np.argsort(np.abs(cm - pm), kind="stable")[:max_pairs])
    k, cb, ca, pb, pa, cm, pm = (x[near] for x in (k, cb, ca, pb, pa, cm, pm))

    def sweep(r: float, fwd: float) -> ParityFit:
        # the premia at rate r, twice: the forward settles first (it moves the premia too)
        out = NO_FIT
        for _ in range(2):
            q = r - math.log(fwd / S) / T
            ec, ep = early_exercise_premia(S, k, T, r, q, fwd, cm, pm)
            out = implied_forward(k, cb - ec, ca - ec, pb - ep, pa - ep, max_pairs=max_pairs)
            if not np.isfinite(out.forward):
                return NO_FIT
            fwd = out.forward
        return out

    # Start from a positive rate: at r <= 0 a put has no early-exercise premium, so the plain
    # (too low) fit would be a spurious fixed point.
    r = max(-math.log(fit.discount_factor) / T, RATE_START)
    history = [r]
    for i in range(RATE_SWEEPS):
        fit = sweep(r, fit.forward)
        if not np.isfinite(fit.forward):
            return NO_FIT
        new = -math.log(fit.discount_factor) / T
        if new <= 0.0:
            return NO_FIT  # no positive rate is consistent with the quotes
        history.append(new)
        if abs(new - r) < RATE_TOL:
            return fit
        r = new
        if i % 3 == 2:  # Aitken's delta-squared on the last three sweeps
            r0, r1, r2 = history[-3:]
            den = r2 - 2.0 * r1 + r0
            if abs(den) > 1e-12 and r2 - (r2 - r1) ** 2 / den > 0.0:
                r = r2 - (r2 - r1) ** 2 / den
    return NO_FIT
