"""Second-order BSM Greeks in volatility (numba): vanna and volga, for P&L attribution.

Closed forms from Haug, *The Complete Guide to Option Pricing Formulas* (2nd ed., 2007),
ch. 2 "Black-Scholes-Merton Greeks": "DdeltaDvol" (vanna) among the delta Greeks and
"DvegaDvol" (vomma, volga) among the vega Greeks, with Haug's cost of carry ``b = r - q``:

    vanna = d2V / dS dsigma = -e^{-qT} n(d1) d2 / sigma
    volga = d2V / dsigma^2  = vega d1 d2 / sigma,   vega = S e^{-qT} n(d1) sqrt(T)

Both are the same for a call and a put (put-call parity is linear in S and free of sigma).
Units follow :mod:`toolkit.options._black` (QuantLib's): per 1.00 of volatility, so vanna is
the change of delta for a vol move of 1.00 (100 points) and volga the change of vega (per
1.00) for the same move. Kept beside ``_black`` rather than in it so the first-order kernel
and its 7-tuple stay as they are.
"""

from __future__ import annotations

import math

from numba import njit

from toolkit.options._black import norm_pdf_nb

NAN = math.nan


@njit(cache=True)
def bsm_vanna_volga_nb(
    S: float, K: float, T: float, r: float, q: float, sigma: float
) -> tuple[float, float]:
    """(vanna, volga) of a European option under BSM with dividend yield ``q``.

    Inputs as :func:`toolkit.options._black.bsm_nb` (NaN for the same degenerate inputs);
    at ``T == 0``, ``sigma == 0`` or ``K == 0`` the value no longer depends on sigma
    near the given point and both are 0, as gamma and vega are there."""
    if not (S > 0.0 and K >= 0.0 and T >= 0.0 and sigma >= 0.0) or r != r or q != q:
        return NAN, NAN
    if T == 0.0 or sigma == 0.0 or K == 0.0:
        return 0.0, 0.0
    sqt = math.sqrt(T)
    sd = sigma * sqt
    dq = math.exp(-q * T)
    # d1 from the forward F = S e^{(r-q)T}, as bsm_nb computes it
    d1 = (math.log(S / K) + (r - q) * T) / sd + 0.5 * sd
    d2 = d1 - sd
    pdf1 = norm_pdf_nb(d1)
    vanna = -dq * pdf1 * d2 / sigma
    volga = S * dq * pdf1 * sqt * d1 * d2 / sigma
    return vanna, volga
