"""Daily P&L attribution of an option book to delta, gamma, theta, vega and a residual.

Second-order Taylor expansion of an option's value V(S, sigma, t) over one day (Hull,
*Options, Futures, and Other Derivatives*, 10th ed., ch. 19 "Greek letters", section "Taylor
series expansions": dV = Delta dS + 1/2 Gamma dS^2 + Theta dt + Vega dsigma + ...):

    delta  = q m Delta_0 (S_1 - S_0)
    gamma  = q m 1/2 Gamma_0 (S_1 - S_0)^2
    theta  = q m Theta_0 dt               (dt = calendar days / 365, Theta per year)
    vega   = q m Vega_0 (sigma_1 - sigma_0)  (Vega per 1.00 of volatility)
    residual = q m (V_1 - V_0) - (delta + gamma + theta + vega)

for ``q`` contracts of multiplier ``m`` held over the day, with **start-of-day** Greeks (the
previous close's) from our own pricer (``toolkit.options._black.bsm_nb``, the kernel of
:func:`toolkit.options.black.bsm_greeks`) at our own
implied vol: the mid inverted by :func:`toolkit.options._implied.implied_vol_nb` against the
forward and discount factor put-call parity implies for that expiry
(:func:`toolkit.options.parity.implied_forward`), so no outside rate or dividend enters.
BSM's r and q are the ones that forward and discount factor imply. V is the mark (the mid;
on expiry day the settlement value). The residual holds the higher-order and cross terms
(vanna, volga, ...), so the parts sum to the marked P&L exactly by construction; a Greek that
cannot be computed (no two-sided quote, no inversion) counts as 0 and its P&L goes to the
residual. The underlying's P&L (a delta hedge, a covered call's shares: units held over the
day x the move, plus dividends), ``trading`` (the day's fills, exercises and assignments
against the mid marks: what crossing the bid/ask cost, the time value an early exercise gave
up) and commissions are separate columns, so every day's row adds up to the
change in equity (``total``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.options._black import bsm_nb
from toolkit.options._implied import implied_vol_nb
from toolkit.options.parity import implied_forward

ATTRIBUTION_COLUMNS = (
    "delta", "gamma", "theta", "vega", "residual", "underlying", "trading", "commissions", "total",
)  # fmt: skip


@dataclass(frozen=True)
class LegGreeks:
    """One contract at a close: its mark, implied vol and Greeks (per share, QuantLib units:
    theta per year, vega per 1.00 vol). NaN where they cannot be computed."""

    mark: float
    iv: float
    delta: float
    gamma: float
    theta: float
    vega: float


def forward_of(
    strike: np.ndarray, is_call: np.ndarray, bid: np.ndarray, ask: np.ndarray
) -> tuple[float, float]:
    """(forward, discount factor) of one expiry from its quotes (arrays of one expiry of a
    one-day chain) through put-call parity; (NaN, NaN) when fewer than three two-sided
    pairs."""
    calls = {k: i for i, k in enumerate(strike) if is_call[i]}
    pairs = [(calls[k], i) for i, k in enumerate(strike) if not is_call[i] and k in calls]
    if not pairs:
        return float("nan"), float("nan")
    c = np.array([p[0] for p in pairs])
    p = np.array([p[1] for p in pairs])
    fit = implied_forward(strike[c], bid[c], ask[c], bid[p], ask[p])
    return float(fit.forward), float(fit.discount_factor)


def implied_vol_of(
    right: str, strike: float, price: float, years: float, forward: float, discount: float
) -> float:
    """Our implied vol of ``price`` (NaN when it cannot be inverted: no forward, expired,
    below intrinsic, ...; the reason codes are toolkit.options.implied's)."""
    ok = np.isfinite(forward) and np.isfinite(discount) and discount > 0
    if not (ok and years > 0.0 and np.isfinite(price) and price > 0.0):
        return float("nan")
    iv, _ = implied_vol_nb(price, right == "C", forward, strike, years, discount)
    return float(iv)


def leg_greeks(
    right: str,
    strike: float,
    mark: float,
    spot: float,
    years: float,
    forward: float,
    discount: float,
    iv: float,
) -> LegGreeks:
    """BSM Greeks at vol ``iv`` with r and q from the forward and discount factor. At or
    past expiry: delta by moneyness, the other Greeks 0; NaN Greeks when ``iv`` is NaN."""
    is_call = right == "C"
    nan = float("nan")
    if years <= 0.0:
        itm = spot > strike if is_call else spot < strike
        d = (1.0 if is_call else -1.0) if itm else 0.0
        return LegGreeks(mark, nan, d, 0.0, 0.0, 0.0)
    ok = np.isfinite(forward) and np.isfinite(discount) and discount > 0
    if not (ok and np.isfinite(iv) and iv > 0):
        return LegGreeks(mark, nan, nan, nan, nan, nan)
    r = -np.log(discount) / years
    q = r - np.log(forward / spot) / years
    _, delta, gamma, vega, theta, _, _ = bsm_nb(is_call, spot, strike, years, r, q, iv)
    return LegGreeks(mark, float(iv), delta, gamma, theta, vega)


def taylor_terms(
    units: float, start: LegGreeks, d_spot: float, dt: float, d_vol: float
) -> tuple[float, float, float, float]:
    """(delta, gamma, theta, vega) P&L of ``units`` (= contracts x multiplier) over a day;
    a Greek or a move that is NaN contributes 0 (its P&L is left to the residual)."""

    def term(x: float) -> float:
        return float(x) if np.isfinite(x) else 0.0

    return (
        term(units * start.delta * d_spot),
        term(units * 0.5 * start.gamma * d_spot * d_spot),
        term(units * start.theta * dt),
        term(units * start.vega * d_vol),
    )
