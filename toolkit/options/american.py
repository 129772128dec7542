"""American options on a dividend-paying underlying (flat r, q, vol): price, Greeks and implied
vol from a numba port of the fixed-point exercise-boundary method of Andersen, Lake and
Offengenden (2016) -- the method of QuantLib's ``QdFpAmericanEngine`` (see
:mod:`toolkit.options._qdfp` for the equations and the scheme).

Accuracy against QuantLib's high-precision scheme (tests/options/test_american.py, reference
file from research/oracles/american_reference.py): at most 9.6e-6 (median 4e-10) over the
23,125 contracts of the shipped SPY chains with time left, 3.9e-6 over a 600-row grid of
(r, q, vol) regimes (QuantLib's accurate scheme: up to 1.8e-4 on 400 of those contracts).
Speed (research/benchmarks/options_american.py): ~55 us CPU per option, ~4x less than the
accurate scheme's engine alone; rows sharing (r, q, vol, T) share one boundary solve.
Implied vols: ~0.3-0.45 ms CPU per option (a bracketed root of the price in vol).

Conventions are those of :mod:`toolkit.options.black`: ``right`` 'C'/'P' (or +1/-1), T in
years, continuously compounded ``r`` and dividend yield ``q``; arguments broadcast. Greeks are
in QuantLib's units (theta per year, vega and rhos per 1.00).

Edge cases (QuantLib's ``QdPutCallParityEngine``): T = 0 is the intrinsic value; a call with
q <= 0 (q <= r) or a put with r <= 0 (r <= q) is never exercised early, so it is priced as
European; zero vol is the best deterministic exercise date; a spot at or beyond today's
exercise boundary is worth its intrinsic value. A put with r < 0 and q < r (a call with q < 0
and r < q) has two exercise boundaries (Andersen and Lake 2021), which this pricer does not
handle: it raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from toolkit.options import _implied, _qdfp
from toolkit.options.black import Greeks, right_is_call

# No import of toolkit.options.implied / parity here: parity prices American options, so it
# imports this module (the reason codes come from _implied, as implied.IVReason's do).
DAYS_PER_YEAR = 365.0

Array = NDArray[np.float64]

__all__ = [
    "american_chain_ivs", "american_greeks", "american_implied_vol", "american_price",
]


def _flat(right: Any, *args: ArrayLike) -> tuple[tuple[int, ...], list[Array], NDArray[np.bool_]]:
    call = right_is_call(right)
    shaped = np.broadcast_arrays(call, *(np.asarray(a, dtype=np.float64) for a in args))
    shape = shaped[0].shape
    flat = [np.ascontiguousarray(a, dtype=np.float64).ravel() for a in shaped[1:]]
    return shape, flat, np.ascontiguousarray(shaped[0], dtype=np.bool_).ravel()


def _check_double_boundary(call: NDArray[np.bool_], r: Array, q: Array) -> None:
    pr = np.where(call, q, r)
    pq = np.where(call, r, q)
    bad = np.flatnonzero((pr < 0.0) & (pq < pr))
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"American option {i} (r={r[i]}, q={q[i]}, {'call' if call[i] else 'put'}) has two "
            "exercise boundaries (negative rates: put with q < r < 0, call with r < q < 0); "
            "this pricer handles one -- price it with a lattice or finite differences"
        )


def american_price(
    right: Any, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike,
    sigma: ArrayLike,
) -> Array:
    """American option price (arrays broadcast; NaN for NaN or negative inputs)."""
    shape, (s, k, t, rr, qq, sig), call = _flat(right, S, K, T, r, q, sigma)
    _check_double_boundary(call, rr, qq)
    out = np.empty(s.shape[0])
    _qdfp.american_many_nb(call, s, k, t, rr, qq, sig, out)
    return out.reshape(shape)


def american_greeks(
    right: Any, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike,
    sigma: ArrayLike,
) -> Greeks:
    """Price and Greeks of American options (QuantLib units: theta per year, vega and rhos
    per 1.00), by finite differences of the pricer -- spot bumps with the exercise boundary
    held fixed, the other bumps re-solve it (see ``_qdfp.american_greeks_nb``)."""
    shape, (s, k, t, rr, qq, sig), call = _flat(right, S, K, T, r, q, sigma)
    _check_double_boundary(call, rr, qq)
    out = np.empty((7, s.shape[0]))
    _qdfp.american_greeks_many_nb(call, s, k, t, rr, qq, sig, out)
    return Greeks(*(out[i].reshape(shape) for i in range(7)))


def american_implied_vol(
    price: ArrayLike, right: Any, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike,
    q: ArrayLike,
) -> tuple[Array, NDArray[np.int8]]:
    """Implied volatility of American option prices and a reason code per option (int8 values
    of ``toolkit.options.implied.IVReason``): NaN with BELOW_INTRINSIC (below the
    zero-vol value), AT_INTRINSIC (no time value: every small vol fits), ABOVE_BOUND (at or
    above S for a call, K for a put, or above the price at 1,000% vol), EXPIRED, BAD_INPUT --
    never a silent 0."""
    shape, (p, s, k, t, rr, qq), call = _flat(right, price, S, K, T, r, q)
    _check_double_boundary(call, rr, qq)
    iv = np.empty(s.shape[0])
    why = np.empty(s.shape[0], dtype=np.int8)
    _qdfp.american_iv_many_nb(p, call, s, k, t, rr, qq, iv, why)
    return iv.reshape(shape), why.reshape(shape)



def american_chain_ivs(quotes: pd.DataFrame, r: ArrayLike, q: ArrayLike) -> pd.DataFrame:
    """American implied vols of a canonical quote frame's mids (``toolkit.data.options``).

    ``r``, ``q``: continuously compounded rate and dividend yield, scalars or one value per
    row (American parity is an inequality, so they are inputs, not fitted). Returns a copy with
    ``american_iv`` (NaN unless the reason is OK), ``american_iv_reason`` (int8 values of
    ``IVReason``: also NO_TWO_SIDED_QUOTE and CROSSED_MARKET from the bid/ask) and ``T``
    (calendar days to expiry / 365)."""
    out = quotes.copy()
    bid = out["bid"].to_numpy(dtype=np.float64)
    ask = out["ask"].to_numpy(dtype=np.float64)
    t = (out["expiry"] - out["quote_date"]).dt.days.to_numpy(dtype=np.float64) / DAYS_PER_YEAR
    iv, why = american_implied_vol(0.5 * (bid + ask), out["right"].to_numpy(),
                                   out["underlying_price"], out["strike"], t, r, q)
    why = why.copy()
    with np.errstate(invalid="ignore"):
        crossed = np.isfinite(bid) & np.isfinite(ask) & (bid > ask)
        two_sided = np.isfinite(bid) & np.isfinite(ask) & (bid > 0.0) & (ask >= bid)
        expired = t <= 0.0
    why[~two_sided & ~crossed] = _implied.R_NO_TWO_SIDED_QUOTE
    why[crossed] = _implied.R_CROSSED_MARKET
    why[expired] = _implied.R_EXPIRED
    out["american_iv"] = np.where(why == _implied.R_OK, iv, np.nan)
    out["american_iv_reason"] = why
    out["T"] = t
    return out
