"""Units of option Greeks, and converters between ours (QuantLib's), traders' and IB's.

================  ==========================  ==========================  ======================
quantity          ours = QuantLib             trader / vendor screens      IB ``OptionComputation``
================  ==========================  ==========================  ======================
price             per unit of underlying      per unit (x100 = contract)  ``optPrice`` per unit
implied vol       decimal per year (0.20)     percent (20.0)              ``impliedVol`` decimal
delta             dV/dS, -1..1                x100 = share-equivalents    ``delta`` -1..1
gamma             d(delta)/dS per 1.00 of S   same (or per 1 % of S)      ``gamma`` per 1.00 of S
vega              per 1.00 of vol             per 1 vol point (/100)      ``vega`` per 1 vol pt
theta             per year, -dV/dT            per calendar day (/365)     ``theta`` per cal. day
                                              or per trading day (/252)
rho               per 1.00 of rate            per 1 % of rate (/100)      (not sent)
dividend rho      per 1.00 of yield           per 1 % of yield (/100)     (not sent)
PV dividends      (input: yield ``q``)        --                          ``pvDividend`` cash/unit
underlying        ``S`` (Black-76: ``F``)     --                          ``undPrice``
================  ==========================  ==========================  ======================

IB's fields as ib_async delivers them in ``Ticker.modelGreeks`` / ``bidGreeks`` /
``askGreeks`` / ``lastGreeks`` (``ib_async.objects.OptionComputation``; TWS API "Option
Greeks" and tick types 10-13): ``impliedVol`` decimal annualised, ``delta`` and ``gamma`` per
unit of the underlying, ``optPrice`` per unit (not x multiplier), ``pvDividend`` the present
value of the dividends expected before expiry per unit, ``vega`` the price change for a 1
percentage-point vol move (0.01), ``theta`` the price change for one calendar day (negative for
a long option), ``undPrice`` the underlying price. Any field may be ``None`` (IB sends
-1 / -2 sentinels that ib_async maps to ``None``). Per-day theta by 365 calendar days is also
QuantLib's ``thetaPerDay``. The vega and theta units follow IB's own descriptions (TWS user
guide, "Option Greeks": vega per 1 % change of implied vol, theta per day of time decay, days
to expiry counted in calendar days); they could not be checked against a live IB account here,
and IB's model (its rates, discrete dividends) differs from any flat-rate BSM in the digits.

A continuous yield equivalent of ``pvDividend``: ``q = -ln(1 - D / S) / T`` (the spot net of the
discrete dividends' PV grows like a yield paying stock over ``T``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from toolkit.options.black import Greeks

Array = NDArray[np.float64]

CALENDAR_DAYS = 365.0
TRADING_DAYS = 252.0


def theta_per_day(theta_per_year: ArrayLike, days_per_year: float = CALENDAR_DAYS) -> Array:
    """Per-year theta -> per-day theta (365 calendar days by default; 252 for trading days)."""
    return np.asarray(theta_per_year, dtype=np.float64) / days_per_year


def theta_per_year(theta_per_day: ArrayLike, days_per_year: float = CALENDAR_DAYS) -> Array:
    """Per-day theta -> per-year theta (inverse of :func:`theta_per_day`)."""
    return np.asarray(theta_per_day, dtype=np.float64) * days_per_year


def vega_per_point(vega_per_unit: ArrayLike) -> Array:
    """Vega per 1.00 of vol -> vega per 1 vol point (0.01), IB's and most screens' unit."""
    return np.asarray(vega_per_unit, dtype=np.float64) / 100.0


def vega_per_unit(vega_per_point: ArrayLike) -> Array:
    """Vega per vol point -> vega per 1.00 of vol (inverse of :func:`vega_per_point`)."""
    return np.asarray(vega_per_point, dtype=np.float64) * 100.0


def rho_per_percent(rho_per_unit: ArrayLike) -> Array:
    """Rho (or dividend rho) per 1.00 of rate -> per 1 % of rate."""
    return np.asarray(rho_per_unit, dtype=np.float64) / 100.0


def rho_per_unit(rho_per_percent: ArrayLike) -> Array:
    """Rho per 1 % -> per 1.00 of rate (inverse of :func:`rho_per_percent`)."""
    return np.asarray(rho_per_percent, dtype=np.float64) * 100.0


def pv_dividend_to_yield(pv_dividend: ArrayLike, S: ArrayLike, T: ArrayLike) -> Array:
    """IB's ``pvDividend`` -> continuous dividend yield ``q = -ln(1 - D/S) / T``."""
    d = np.asarray(pv_dividend, dtype=np.float64)
    s = np.asarray(S, dtype=np.float64)
    t = np.asarray(T, dtype=np.float64)
    return np.asarray(-np.log1p(-d / s) / t)


def yield_to_pv_dividend(q: ArrayLike, S: ArrayLike, T: ArrayLike) -> Array:
    """Continuous yield -> present value of dividends over ``T``: ``S (1 - exp(-q T))``."""
    q_ = np.asarray(q, dtype=np.float64)
    s = np.asarray(S, dtype=np.float64)
    t = np.asarray(T, dtype=np.float64)
    return np.asarray(-s * np.expm1(-q_ * t))


@dataclass(frozen=True)
class IBComputation:
    """Greeks in the units of IB's ``OptionComputation`` (ib_async's field in brackets).

    ``implied_vol`` (impliedVol) decimal, ``delta``, ``opt_price`` (optPrice) per unit,
    ``pv_dividend`` (pvDividend) per unit, ``gamma``, ``vega`` per vol point, ``theta`` per
    calendar day, ``und_price`` (undPrice).
    """

    implied_vol: Array
    delta: Array
    opt_price: Array
    pv_dividend: Array
    gamma: Array
    vega: Array
    theta: Array
    und_price: Array


@dataclass(frozen=True)
class ModelUnits:
    """IB's numbers in our (QuantLib's) units: vega per 1.00 of vol, theta per year."""

    sigma: Array
    price: Array
    delta: Array
    gamma: Array
    vega: Array
    theta: Array
    pv_dividend: Array
    underlying: Array


def to_ib(greeks: Greeks, sigma: ArrayLike, S: ArrayLike, q: ArrayLike, T: ArrayLike
          ) -> IBComputation:
    """BSM :class:`Greeks` (QuantLib units) -> IB ``OptionComputation`` units.

    ``vega`` per vol point, ``theta`` per calendar day, ``pv_dividend`` from the yield ``q``.
    """
    shape = np.shape(greeks.price)
    s = np.asarray(S, dtype=np.float64)
    return IBComputation(
        implied_vol=np.broadcast_to(np.asarray(sigma, dtype=np.float64), shape).copy(),
        delta=greeks.delta,
        opt_price=greeks.price,
        pv_dividend=np.broadcast_to(yield_to_pv_dividend(q, s, T), shape).copy(),
        gamma=greeks.gamma,
        vega=vega_per_point(greeks.vega),
        theta=theta_per_day(greeks.theta),
        und_price=np.broadcast_to(s, shape).copy(),
    )


def _field(comp: Any, name: str) -> Array:
    value = getattr(comp, name)
    return np.asarray(np.nan if value is None else value, dtype=np.float64)


def from_ib(comp: Any) -> ModelUnits:
    """An ib_async ``OptionComputation`` (or anything with its field names) -> our units.

    ``None`` fields (IB's "not computed") become NaN; vega x100, theta x365.
    """
    return ModelUnits(
        sigma=_field(comp, "impliedVol"),
        price=_field(comp, "optPrice"),
        delta=_field(comp, "delta"),
        gamma=_field(comp, "gamma"),
        vega=vega_per_unit(_field(comp, "vega")),
        theta=theta_per_year(_field(comp, "theta")),
        pv_dividend=_field(comp, "pvDividend"),
        underlying=_field(comp, "undPrice"),
    )
