"""European pricing kernels (numba): Black-Scholes-Merton and Black-76, price and Greeks.

Scalars in, scalars out (``*_nb``), plus array drivers (``*_arr_nb``) over 1-D float64
arrays of equal length; :mod:`toolkit.options.black` broadcasts at the public edge.

Formulas: Black & Scholes (1973), Merton (1973) with a continuous dividend yield ``q``,
Black (1976) on the forward; Greeks as in Haug, *The Complete Guide to Option Pricing
Formulas* (2nd ed., 2007), ch. 1-2. Units are QuantLib's (``AnalyticEuropeanEngine``):
theta per year (``-dV/dT`` with the spot, or for Black-76 the forward, held), vega per 1.00
of volatility, rho and dividend rho per 1.00 of rate. The 7-tuple order of every Greeks kernel
is ``(price, delta, gamma, vega, theta, rho, dividend_rho)``.

Degenerate inputs: ``T < 0``, ``sigma < 0``, non-positive ``S``/``F``/``df`` or negative ``K``
give NaN everywhere; ``T == 0`` or ``sigma == 0`` give the deterministic limit (price is the
discounted intrinsic value of the forward, delta a step, gamma and vega 0).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
NAN = math.nan


@njit(cache=True)
def norm_cdf_nb(x: float) -> float:
    """Standard normal CDF through ``erfc`` (full relative precision in the lower tail)."""
    return 0.5 * math.erfc(-x / SQRT2)


@njit(cache=True)
def norm_pdf_nb(x: float) -> float:
    """Standard normal density."""
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit(cache=True)
def bsm_nb(
    is_call: bool, S: float, K: float, T: float, r: float, q: float, sigma: float
) -> tuple[float, float, float, float, float, float, float]:
    """BSM price and Greeks of a European option, continuous dividend yield ``q``.

    Returns ``(price, delta, gamma, vega, theta, rho, dividend_rho)`` in QuantLib's units.
    """
    if not (S > 0.0 and K >= 0.0 and T >= 0.0 and sigma >= 0.0) or r != r or q != q:
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN
    th = 1.0 if is_call else -1.0
    dq = math.exp(-q * T)
    dr = math.exp(-r * T)
    if T == 0.0 or sigma == 0.0 or K == 0.0:
        # Deterministic limit: V = max(theta (S e^-qT - K e^-rT), 0).
        fwd_pv = S * dq - K * dr
        if th * fwd_pv > 0.0:
            return (
                th * fwd_pv,
                th * dq,
                0.0,
                0.0,
                th * (q * S * dq - r * K * dr),
                th * T * K * dr,
                -th * T * S * dq,
            )
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    F = S * dq / dr
    sqt = math.sqrt(T)
    sd = sigma * sqt
    d1 = math.log(F / K) / sd + 0.5 * sd
    d2 = d1 - sd
    n1 = norm_cdf_nb(th * d1)
    n2 = norm_cdf_nb(th * d2)
    pdf1 = norm_pdf_nb(d1)
    # max(.., 0): in the far tail the difference of two tiny terms can round below zero.
    price = max(th * (S * dq * n1 - K * dr * n2), 0.0) + 0.0  # + 0.0: no -0.0
    delta = th * dq * n1
    gamma = dq * pdf1 / (S * sd)
    vega = S * dq * pdf1 * sqt
    # Haug (2007) eq. 1.6 family: theta = -dV/dT.
    theta = -S * dq * pdf1 * sigma / (2.0 * sqt) + th * (q * S * dq * n1 - r * K * dr * n2)
    rho = th * T * K * dr * n2
    drho = -th * T * S * dq * n1
    return price, delta, gamma, vega, theta, rho, drho


@njit(cache=True)
def bsm_price_nb(
    is_call: bool, S: float, K: float, T: float, r: float, q: float, sigma: float
) -> float:
    """BSM price only (same conventions as :func:`bsm_nb`)."""
    return bsm_nb(is_call, S, K, T, r, q, sigma)[0]


@njit(cache=True)
def black76_nb(
    is_call: bool, F: float, K: float, T: float, df: float, sigma: float
) -> tuple[float, float, float, float, float, float, float]:
    """Black-76 price and Greeks on the forward ``F`` with discount factor ``df``.

    Delta and gamma are with respect to ``F``; theta is ``-dV/dT`` with ``F`` and the rate
    ``r = -ln(df)/T`` held; rho is ``dV/dr`` with ``F`` held (``= -T V``); dividend rho is 0
    (there is no dividend yield in the forward model). This equals QuantLib's
    ``AnalyticEuropeanEngine`` on a ``BlackProcess`` with rho = its ``rho + dividendRho``.
    """
    if not (F > 0.0 and K >= 0.0 and T >= 0.0 and sigma >= 0.0 and df > 0.0):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN
    th = 1.0 if is_call else -1.0
    r = -math.log(df) / T if T > 0.0 else 0.0
    if T == 0.0 or sigma == 0.0 or K == 0.0:
        intr = th * (F - K)
        if intr > 0.0:
            return df * intr, th * df, 0.0, 0.0, r * df * intr, -T * df * intr, 0.0
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    sqt = math.sqrt(T)
    sd = sigma * sqt
    d1 = math.log(F / K) / sd + 0.5 * sd
    d2 = d1 - sd
    n1 = norm_cdf_nb(th * d1)
    n2 = norm_cdf_nb(th * d2)
    pdf1 = norm_pdf_nb(d1)
    price = max(df * th * (F * n1 - K * n2), 0.0) + 0.0
    delta = th * df * n1
    gamma = df * pdf1 / (F * sd)
    vega = df * F * pdf1 * sqt
    theta = r * price - df * F * pdf1 * sigma / (2.0 * sqt)
    return price, delta, gamma, vega, theta, -T * price, 0.0


@njit(cache=True)
def black76_price_nb(is_call: bool, F: float, K: float, T: float, df: float, sigma: float) -> float:
    """Black-76 price only (same conventions as :func:`black76_nb`)."""
    return black76_nb(is_call, F, K, T, df, sigma)[0]


@njit(cache=True)
def bsm_arr_nb(
    is_call: np.ndarray,
    S: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    sigma: np.ndarray,
    out: np.ndarray,
    greeks: bool,
) -> None:
    """Fill ``out`` (7, n) with :func:`bsm_nb` for n contracts (``out`` may be (1, n) and only
    row 0, the price, is written when ``greeks`` is False)."""
    for i in range(S.shape[0]):
        g = bsm_nb(is_call[i], S[i], K[i], T[i], r[i], q[i], sigma[i])
        out[0, i] = g[0]
        if greeks:
            out[1, i] = g[1]
            out[2, i] = g[2]
            out[3, i] = g[3]
            out[4, i] = g[4]
            out[5, i] = g[5]
            out[6, i] = g[6]


@njit(cache=True)
def black76_arr_nb(
    is_call: np.ndarray,
    F: np.ndarray,
    K: np.ndarray,
    T: np.ndarray,
    df: np.ndarray,
    sigma: np.ndarray,
    out: np.ndarray,
    greeks: bool,
) -> None:
    """Fill ``out`` (7, n) with :func:`black76_nb` for n contracts (row 0 only unless
    ``greeks``, as :func:`bsm_arr_nb`)."""
    for i in range(F.shape[0]):
        g = black76_nb(is_call[i], F[i], K[i], T[i], df[i], sigma[i])
        out[0, i] = g[0]
        if greeks:
            out[1, i] = g[1]
            out[2, i] = g[2]
            out[3, i] = g[3]
            out[4, i] = g[4]
            out[5, i] = g[5]
            out[6, i] = g[6]
