"""Daily P&L attribution of an option book: delta, gamma, theta, vega, vanna, volga, carry
and a residual.

Taylor expansion of an option's value V(S, sigma, t, r, q) over one day to second order in
the spot and the vol (Hull, *Options, Futures, and Other Derivatives*, 10th ed., ch. 19
"Greek letters", section "Taylor series expansions": dV = Delta dS + 1/2 Gamma dS^2 + Theta
dt + Vega dsigma + ...), with the cross and vol-convexity terms risk systems add (vanna
d2V/dS dsigma and volga d2V/dsigma^2: Haug, *The Complete Guide to Option Pricing
Formulas*, 2nd ed., ch. 2, "DdeltaDvol" and "DvegaDvol") and the first-order rate and
dividend terms (rho, dividend rho: Haug ch. 2):

    delta  = n m Delta_0 dS                     dS = S_1 - S_0
    gamma  = n m 1/2 Gamma_0 dS^2
    theta  = n m Theta_0 dt                     dt = calendar days / 365, Theta per year
    vega   = n m Vega_0 dsigma                  Vega per 1.00 of volatility
    vanna  = n m Vanna_0 dS dsigma
    volga  = n m 1/2 Volga_0 dsigma^2
    carry  = n m (Rho_0 dr + DividendRho_0 dq)  r, q: the rate and yield parity implies
    residual = n m (V_1 - V_0) - (the seven above)

for ``n`` contracts of multiplier ``m`` held over the day, with **start-of-day** Greeks (the
previous close's) from our own pricer (``toolkit.options._black.bsm_nb``, the kernel of
:func:`toolkit.options.black.bsm_greeks`, and
:func:`toolkit.options._second_order.bsm_vanna_volga_nb`) at our own implied vol: the mid
inverted by :func:`toolkit.options._implied.implied_vol_nb` against the forward and discount
factor put-call parity implies for that expiry (:func:`toolkit.options.parity.implied_forward`),
so no outside rate or dividend enters. BSM's r and q are the ones that forward and discount
factor imply, each close its own: ``carry`` is what the day's change of them is worth -- on an
end-of-day index file mostly the forward's basis to the index close moving, because the two
are not simultaneous (SPXW trades to 16:15 ET, the index closes at 16:00): on the shipped
SPXW file the parity forward of the 2018-02-28 expiry minus the index close went -1.95,
-19.88, -4.95 on 2 to 6 February 2018. V is the mark (the mid; on expiry day the
settlement value). The residual holds the third-order terms (speed, ...), the time cross
terms (charm, veta), the carry's higher orders and the marks' distance from the model, so the
parts sum to the marked P&L exactly by construction; a Greek that cannot be computed (no
two-sided quote, no inversion) counts as 0 and its P&L goes to the residual.
:func:`revaluation_terms` splits the residual by a full BSM revaluation: ``higher_order``
(the model's own repricing minus the Greeks' expansion) and ``unexplained`` (the marks'
change minus the model's).

The underlying's P&L (a delta hedge, a covered call's shares: units held over the day x the
move, plus dividends), ``trading`` (the day's fills, exercises and assignments against the
mid marks: what crossing the bid/ask cost, the time value an early exercise gave up) and
commissions are separate columns, so every day's row adds up to the change in equity
(``total``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.options._black import bsm_nb
from toolkit.options._implied import implied_vol_nb
from toolkit.options._second_order import bsm_vanna_volga_nb
from toolkit.options.parity import implied_forward

ATTRIBUTION_COLUMNS = (
    "delta", "gamma", "theta", "vega", "vanna", "volga", "carry", "residual", "underlying",
    "trading", "commissions", "total",
)  # fmt: skip
# The option terms a Taylor expansion explains (the start-of-day Greeks' columns).
GREEK_COLUMNS = ("delta", "gamma", "theta", "vega", "vanna", "volga", "carry")
# Full revaluation of the options held overnight (OptionBacktestResult.revaluation): the
# Greeks' sum, the model's repricing, the marks' change and the residual's two parts.
REVALUATION_COLUMNS = ("greeks", "full_reval", "marked", "higher_order", "unexplained")


@dataclass(frozen=True)
class LegGreeks:
    """One contract at a close: its mark, implied vol and Greeks (per share, QuantLib units:
    theta per year, vega per 1.00 vol, vanna per 1.00 vol, volga per 1.00 vol squared, rho
    and dividend rho per 1.00 of rate), its BSM value at that vol (``model``; the settlement
    value at expiry) and the rate and dividend yield its forward implies. NaN where they
    cannot be computed."""

    mark: float
    iv: float
    delta: float
    gamma: float
    theta: float
    vega: float
    vanna: float = float("nan")
    volga: float = float("nan")
    model: float = float("nan")
    rho: float = float("nan")
    dividend_rho: float = float("nan")
    rate: float = float("nan")
    dividend_yield: float = float("nan")


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
    """BSM Greeks and value at vol ``iv`` with r and q from the forward and discount
    factor. At or past expiry: delta by moneyness, the other Greeks 0, the value intrinsic
    against ``spot`` (the settlement); NaN Greeks and value when ``iv`` is NaN."""
    is_call = right == "C"
    nan = float("nan")
    if years <= 0.0:
        itm = spot > strike if is_call else spot < strike
        d = (1.0 if is_call else -1.0) if itm else 0.0
        value = max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
        return LegGreeks(mark, nan, d, 0.0, 0.0, 0.0, 0.0, 0.0, value, 0.0, 0.0)
    ok = np.isfinite(forward) and np.isfinite(discount) and discount > 0
    if not (ok and np.isfinite(iv) and iv > 0):
        return LegGreeks(mark, nan, nan, nan, nan, nan)
    r = -np.log(discount) / years
    q = r - np.log(forward / spot) / years
    price, delta, gamma, vega, theta, rho, drho = bsm_nb(is_call, spot, strike, years, r, q, iv)
    vanna, volga = bsm_vanna_volga_nb(spot, strike, years, r, q, iv)
    return LegGreeks(
        mark, float(iv), delta, gamma, theta, vega, vanna, volga, price, rho, drho, r, q
    )


def _term(x: float) -> float:
    return float(x) if np.isfinite(x) else 0.0


def taylor_terms(
    units: float,
    start: LegGreeks,
    d_spot: float,
    dt: float,
    d_vol: float,
    d_rate: float = 0.0,
    d_yield: float = 0.0,
) -> tuple[float, float, float, float, float, float, float]:
    """(delta, gamma, theta, vega, vanna, volga, carry) P&L of ``units`` (= contracts x
    multiplier) over a day, in :data:`GREEK_COLUMNS` order, for moves of the spot, time
    (years), vol, rate and dividend yield; a Greek or a move that is NaN contributes 0 (its
    P&L is left to the residual)."""
    return (
        _term(units * start.delta * d_spot),
        _term(units * 0.5 * start.gamma * d_spot * d_spot),
        _term(units * start.theta * dt),
        _term(units * start.vega * d_vol),
        _term(units * start.vanna * d_spot * d_vol),
        _term(units * 0.5 * start.volga * d_vol * d_vol),
        _term(units * start.rho * d_rate) + _term(units * start.dividend_rho * d_yield),
    )


def revaluation_terms(
    units: float, start: LegGreeks, end: LegGreeks, greeks: float, marked: float
) -> tuple[float, float, float, float, float]:
    """The day of ``units`` of one contract by full revaluation, in
    :data:`REVALUATION_COLUMNS` order: ``greeks`` (the Taylor terms' sum), the BSM
    value's change from the start close to the end close (each at its own spot, time, vol
    and parity r and q -- what a full-revaluation risk system reports), ``marked`` (the
    marks' change, USD), ``higher_order`` = full revaluation - Greeks and ``unexplained`` =
    marks - full revaluation; the last two add up to the attribution's residual. Without a
    model value at either close there is no revaluation: it counts as the Greeks' (higher
    order 0) and the whole residual is unexplained."""
    full = units * (end.model - start.model)
    if not np.isfinite(full):
        full = greeks
    return greeks, full, marked, full - greeks, marked - full
