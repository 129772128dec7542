"""Forward and discount factor of one expiry implied from put-call parity.

European put-call parity ``C - P = DF (F - K)`` (Hull, *Options, Futures and Other
Derivatives*, ch. 11) is a straight line in the strike: ``y = C_mid - P_mid = a - DF K`` with
``a = DF F``. A weighted, iteratively re-weighted least-squares fit over the two-sided pairs
near the money gives ``DF`` (minus the slope) and ``F = a / DF`` without any external rate or
dividend. Weights are ``1 / (half-spread of C + half-spread of P)^2``; pairs whose residual
exceeds three robust scales (or their own half-spreads, whichever is larger) are dropped
(Huber-style trimming), so one stale quote cannot move the forward; pairs more than five times
wider than the median pair are placeholders and never enter.

For American options (SPY) parity is only an inequality; the fitted line is then a
European-equivalent forward, good near the money where early-exercise premia are small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

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
