"""What a spread is worth before expiry: its aggregated Greeks, P&L over a grid of underlying
price x days forward x vol shift, and its theta-decay curve -- every leg repriced by the model
(Black-Scholes-Merton for European legs, the QD+ American pricer for American ones).

Units (toolkit.options.conventions has the per-contract table): dollars for the whole position
(``spread.quantity`` spreads, each leg times its signed quantity and multiplier). Greeks are
QuantLib's units scaled to the position: ``delta`` in shares (dollars per 1.00 move of the
underlying), ``gamma`` shares per 1.00, ``vega`` dollars per 1.00 of vol (``vega_per_point``:
per vol point), ``theta`` dollars per year (``theta_per_day``: per calendar day, /365),
``rho`` dollars per 1.00 of rate. A share leg has delta 1 per share and no other Greek.

Time: ACT/365 calendar days from the ``as_of`` date to each leg's expiry. A leg whose expiry
falls inside the horizon is valued at its intrinsic value at the scenario price (as if the
underlying stood there on its expiry day): this is how a calendar's front leg settles while
its back leg keeps its model value (:func:`front_expiry_days`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from toolkit.options.american import american_greeks, american_price
from toolkit.options.black import bsm_greeks, bsm_price
from toolkit.options.conventions import CALENDAR_DAYS
from toolkit.options.implied import chain_carry, chain_implied_vols
from toolkit.options.payoff import breakevens, expiry_pnl
from toolkit.options.templates import Leg, Spread, SpreadError

FloatArray = npt.NDArray[np.float64]
Vols = float | Sequence[float]


def _check_american(leg: Leg, rate: float, div: float) -> None:
    """Refuse the regime with two exercise boundaries, which the American pricer lacks."""
    pr, pq = (div, rate) if leg.right == "C" else (rate, div)
    if pr < 0 and pq < pr:
        raise SpreadError(
            f"leg {leg.describe()}: an American option at rate {rate} and yield {div} has two "
            "exercise boundaries, which the pricer does not handle; pass other rate/div"
        )


def _years(leg: Leg, as_of: dt.date) -> float:
    assert leg.expiry is not None
    return (leg.expiry - as_of).days / CALENDAR_DAYS


def _vols(spread: Spread, vols: Vols) -> tuple[float, ...]:
    """One vol per leg (share legs' entries unused): a scalar for all, or one per leg."""
    if isinstance(vols, int | float):
        out = tuple(float(vols) for _ in spread.legs)
    else:
        out = tuple(float(v) for v in vols)
        if len(out) != len(spread.legs):
            raise SpreadError(
                f"spread {spread.name or spread.kind}: {len(out)} vols for "
                f"{len(spread.legs)} legs; give one per leg or one for all"
            )
    for leg, v in zip(spread.legs, out, strict=True):
        if leg.is_option and not (np.isfinite(v) and v > 0):
            raise SpreadError(f"leg {leg.describe()}: vol {v} must be > 0 (0.20 = 20%)")
    return out


def leg_vols(
    spread: Spread, chain: pd.DataFrame, source: Literal["auto", "vendor", "ours"] = "auto"
) -> tuple[float, ...]:
    """Each leg's implied vol from its chain row (share legs get NaN).

    ``'vendor'``: the chain's ``iv`` column; ``'ours'``: the Black vol of the mid on the
    parity-implied forward (:func:`toolkit.options.implied.chain_implied_vols`); ``'auto'``:
    the vendor's where it has one, else ours."""
    ours = None
    out = []
    for leg in spread.legs:
        if not leg.is_option:
            out.append(float("nan"))
            continue
        assert leg.expiry is not None
        iv = float("nan")
        if source in ("auto", "vendor"):
            iv = _row_value(chain, leg, "iv")
        if source == "ours" or (source == "auto" and not (np.isfinite(iv) and iv > 0)):
            if ours is None:
                ours = chain_implied_vols(
                    chain[chain["expiry"].isin([pd.Timestamp(e) for e in spread.expiries])]
                )
            iv = _row_value(ours, leg, "implied_vol")
        if not (np.isfinite(iv) and iv > 0):
            raise SpreadError(
                f"leg {leg.describe()}: no {source} implied vol in the chain; pass vols= yourself"
            )
        out.append(iv)
    return tuple(out)


def _row_value(chain: pd.DataFrame, leg: Leg, column: str) -> float:
    assert leg.expiry is not None
    rows = chain[
        (chain["expiry"] == pd.Timestamp(leg.expiry))
        & (chain["right"] == leg.right)
        & (chain["strike"] == leg.strike)
    ]
    return float(rows[column].iloc[0]) if len(rows) else float("nan")


def implied_carry(chain: pd.DataFrame, expiry: dt.date) -> tuple[float, float]:
    """Continuous rate and dividend yield of one expiry by the toolkit's one carry rule
    (:func:`toolkit.options.implied.chain_carry` on the chain's quote date): European chains
    by put-call parity (``r = -ln(DF)/T``, ``q = r - ln(F/S)/T``, no external curve needed);
    American chains with the rate from de-Americanised parity on the long expiries (or its
    stated fallback) and the forward near the money. A rate outside -5 %..25 % is refused
    (stale snapshot quotes produce such)."""
    rows = chain[chain["expiry"] == pd.Timestamp(expiry)]
    if rows.empty:
        raise SpreadError(f"no quotes expire on {expiry} in the chain")
    day = pd.Timestamp(rows["quote_date"].iloc[0])
    carry = chain_carry(chain[chain["quote_date"] == day])
    mine = carry[carry["expiry"] == pd.Timestamp(expiry)].sort_values("parity_pairs")
    fit = mine.iloc[-1]  # (the root with the most pairs where two share the expiry)
    if not (np.isfinite(fit["forward"]) and fit["T"] > 0 and fit["spot"] > 0):
        raise SpreadError(
            f"expiry {expiry} on {day.date()}: too few two-sided call/put pairs for a parity "
            "forward; pass rate= and div= yourself"
        )
    rate, div = float(fit["rate"]), float(fit["dividend_yield"])
    if not -0.05 <= rate <= 0.25:
        raise SpreadError(
            f"expiry {expiry} on {day.date()}: parity implies a rate of {rate:.2%} (stale or "
            "American quotes?); pass rate= and div= yourself"
        )
    return rate, div


def _leg_value(
    leg: Leg, S: FloatArray, T: FloatArray, r: float, q: float, sigma: FloatArray
) -> FloatArray:
    """Model value per share of one leg on broadcast arrays; intrinsic where T <= 0."""
    if not leg.is_option:
        return np.broadcast_to(S, np.broadcast_shapes(S.shape, T.shape, sigma.shape)).copy()
    S_, T_, sig = np.broadcast_arrays(S, T, sigma)
    intrinsic = (
        np.maximum(S_ - leg.strike, 0.0) if leg.right == "C" else np.maximum(leg.strike - S_, 0.0)
    )
    out = intrinsic.astype(np.float64)
    live = T_ > 0
    if live.any():
        if leg.style == "E":
            out[live] = bsm_price(leg.right, S_[live], leg.strike, T_[live], r, q, sig[live])
        else:
            _check_american(leg, r, q)
            out[live] = american_price(leg.right, S_[live], leg.strike, T_[live], r, q, sig[live])
    return out


def _values(
    spread: Spread,
    sig: tuple[float, ...],
    as_of: dt.date,
    P: FloatArray,
    D: FloatArray,
    V: FloatArray,
    rate: float,
    div: float,
) -> FloatArray:
    """Position value on the (price, days, vol shift) grid, dollars."""
    value = np.zeros((P.size, D.size, V.size))
    for leg, v in zip(spread.legs, sig, strict=True):
        size = leg.quantity * leg.multiplier * spread.quantity
        if leg.is_option:
            shifted = v + V
            if (shifted <= 0).any():
                raise SpreadError(f"leg {leg.describe()}: vol {v} shifted by {V.min()} is not > 0")
            T = (_years(leg, as_of) - D / CALENDAR_DAYS)[None, :, None]
            per_share = _leg_value(leg, P[:, None, None], T, rate, div, shifted[None, None, :])
        else:
            per_share = np.broadcast_to(P[:, None, None], value.shape)
        value += size * per_share
    return value


def model_value(
    spread: Spread,
    spot: float,
    as_of: dt.date,
    vols: Vols,
    rate: float = 0.0,
    div: float = 0.0,
) -> float:
    """The position's model value now, dollars (what closing it at model prices returns)."""
    value = _values(
        spread, _vols(spread, vols), as_of, np.array([spot]), np.zeros(1), np.zeros(1), rate, div
    )
    return float(value[0, 0, 0])


@dataclass(frozen=True, slots=True)
class PositionGreeks:
    """Model value and Greeks of a whole position (units: module docstring)."""

    value: float
    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float

    @property
    def theta_per_day(self) -> float:
        """Dollars per calendar day (theta / 365)."""
        return self.theta / CALENDAR_DAYS

    @property
    def vega_per_point(self) -> float:
        """Dollars per vol point (vega / 100)."""
        return self.vega / 100.0


def _leg_greeks(
    spread: Spread, spot: float, as_of: dt.date, vols: Vols, rate: float, div: float
) -> FloatArray:
    """Rows per leg: value, delta, gamma, vega, theta, rho of its part of the position."""
    sig = _vols(spread, vols)
    out = np.zeros((len(spread.legs), 6))
    for i, (leg, v) in enumerate(zip(spread.legs, sig, strict=True)):
        size = leg.quantity * leg.multiplier * spread.quantity
        if not leg.is_option:
            out[i] = size * np.array([spot, 1.0, 0.0, 0.0, 0.0, 0.0])
            continue
        T = _years(leg, as_of)
        if T <= 0:
            raise SpreadError(f"leg {leg.describe()}: expired on or before {as_of}; no Greeks")
        if leg.style == "A":
            _check_american(leg, rate, div)
        greeks = bsm_greeks if leg.style == "E" else american_greeks
        g = greeks(leg.right, spot, leg.strike, T, rate, div, v)
        out[i] = size * np.array(
            [float(np.asarray(x)) for x in (g.price, g.delta, g.gamma, g.vega, g.theta, g.rho)]
        )
    return out


def position_greeks(
    spread: Spread,
    spot: float,
    as_of: dt.date,
    vols: Vols,
    rate: float = 0.0,
    div: float = 0.0,
) -> PositionGreeks:
    """Sum over legs of quantity x multiplier x (BSM or American) Greek, times the spreads."""
    tot = _leg_greeks(spread, spot, as_of, vols, rate, div).sum(axis=0)
    return PositionGreeks(*(float(x) for x in tot))


def greeks_table(
    spread: Spread,
    spot: float,
    as_of: dt.date,
    vols: Vols,
    rate: float = 0.0,
    div: float = 0.0,
) -> pd.DataFrame:
    """One row per leg (its part of the position) and a last row ``total``; columns value,
    delta, gamma, vega, theta, rho (module units) plus theta_per_day and vega_per_point."""
    rows = _leg_greeks(spread, spot, as_of, vols, rate, div)
    cols = ["value", "delta", "gamma", "vega", "theta", "rho"]
    frame = pd.DataFrame(
        np.vstack([rows, rows.sum(axis=0)]),
        columns=cols,
        index=[leg.describe() for leg in spread.legs] + ["total"],
    )
    frame["theta_per_day"] = frame["theta"] / CALENDAR_DAYS
    frame["vega_per_point"] = frame["vega"] / 100.0
    frame.index.name = "leg"
    return frame


@dataclass(frozen=True, slots=True)
class Scenarios:
    """Model value and P&L of a position on a grid: axis 0 underlying price, axis 1 days
    forward, axis 2 vol shift (added to every leg's vol). ``cost`` is what the position was
    entered at (net price x multiplier x quantity, debit > 0), or its model value today when
    the legs have no entry prices; ``pnl = value - cost``. Dollars for the position."""

    prices: FloatArray
    days: FloatArray
    vol_shifts: FloatArray
    value: FloatArray
    cost: float

    @property
    def pnl(self) -> FloatArray:
        out: FloatArray = self.value - self.cost
        return out

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (price, days, vol_shift) with value and pnl."""
        p, d, v = np.meshgrid(self.prices, self.days, self.vol_shifts, indexing="ij")
        return pd.DataFrame(
            {
                "price": p.ravel(),
                "days": d.ravel(),
                "vol_shift": v.ravel(),
                "value": self.value.ravel(),
                "pnl": self.pnl.ravel(),
            }
        )


def scenario_grid(
    spread: Spread,
    *,
    spot: float,
    as_of: dt.date,
    vols: Vols,
    prices: npt.ArrayLike,
    days: npt.ArrayLike = (0,),
    vol_shifts: npt.ArrayLike = (0.0,),
    rate: float = 0.0,
    div: float = 0.0,
) -> Scenarios:
    """Reprice every leg at each (underlying price, days forward, vol shift).

    ``vol_shifts`` are absolute (0.05 = +5 vol points) and must leave every vol > 0."""
    sig = _vols(spread, vols)
    P = np.asarray(prices, dtype=np.float64).ravel()
    D = np.asarray(days, dtype=np.float64).ravel()
    V = np.asarray(vol_shifts, dtype=np.float64).ravel()
    if P.size == 0 or D.size == 0 or V.size == 0:
        raise SpreadError("scenario grid: prices, days and vol_shifts need a value each")
    if (P < 0).any() or (D < 0).any():
        raise SpreadError("scenario grid: prices and days forward must be >= 0")
    value = _values(spread, sig, as_of, P, D, V, rate, div)
    net = spread.net_price
    if net is not None:
        cost = net * spread.multiplier * spread.quantity
    else:
        cost = float(
            _values(spread, sig, as_of, np.array([spot]), np.zeros(1), np.zeros(1), rate, div)[
                0, 0, 0
            ]
        )
    return Scenarios(P, D, V, value, float(cost))


def front_expiry_days(spread: Spread, as_of: dt.date) -> int:
    """Calendar days from ``as_of`` to the spread's first option expiry."""
    if not spread.expiries:
        raise SpreadError(f"spread {spread.name or spread.kind}: has no option leg")
    return (spread.expiries[0] - as_of).days


def theta_curve(
    spread: Spread,
    *,
    spot: float,
    as_of: dt.date,
    vols: Vols,
    rate: float = 0.0,
    div: float = 0.0,
    step: int = 1,
) -> pd.DataFrame:
    """Value (and P&L) of the position day by day from ``as_of`` to its first expiry, at a
    fixed underlying price and vols: the decay a seller collects or a buyer pays.

    Columns: date, days_to_expiry (of the first expiry), value, pnl."""
    n = front_expiry_days(spread, as_of)
    if n < 0:
        raise SpreadError(f"spread {spread.name or spread.kind}: first expiry before {as_of}")
    days = np.unique(np.r_[np.arange(0, n, max(step, 1)), n])
    grid = scenario_grid(
        spread, spot=spot, as_of=as_of, vols=vols, prices=[spot], days=days, rate=rate, div=div
    )
    return pd.DataFrame(
        {
            "date": [as_of + dt.timedelta(days=int(d)) for d in days],
            "days_to_expiry": (n - days).astype(np.int64),
            "value": grid.value[0, :, 0],
            "pnl": grid.pnl[0, :, 0],
        }
    )


def _below(x: float, spot: float, T: float, vol: float, rate: float, div: float) -> float:
    """Risk-neutral P(S_T <= x) for a lognormal S_T: N(-d2(x)) (Hull, ch. 15)."""
    if x <= 0.0:
        return 0.0
    if math.isinf(x):
        return 1.0
    d2 = (math.log(spot / x) + (rate - div - 0.5 * vol * vol) * T) / (vol * math.sqrt(T))
    return 0.5 * math.erfc(d2 / math.sqrt(2.0))


def probability_of_profit(
    spread: Spread,
    *,
    spot: float,
    as_of: dt.date,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
    net_price: float | None = None,
) -> float:
    """Risk-neutral probability that the spread, held to its (one) expiry, ends with a P&L
    above 0: the lognormal mass (drift ``rate - div``, volatility ``vol`` of the underlying,
    e.g. the ATM implied vol) over the price intervals between breakevens where the exact
    payoff is positive. A model number, not a forecast: real returns have fatter tails."""
    if not spread.expiries:
        raise SpreadError(f"spread {spread.name or spread.kind}: has no option leg")
    T = (spread.expiries[-1] - as_of).days / CALENDAR_DAYS
    if not (T > 0 and vol > 0 and spot > 0):
        raise SpreadError(
            f"spread {spread.name or spread.kind}: probability of profit needs time left "
            f"(T {T:.4f} y), vol > 0 ({vol}) and spot > 0 ({spot})"
        )
    points = [0.0, *breakevens(spread, net_price), math.inf]
    total = 0.0
    for a, b in itertools.pairwise(points):
        if b <= a:
            continue
        mid = a + 1.0 if math.isinf(b) else 0.5 * (a + b)
        if float(expiry_pnl(spread, [mid], net_price)[0]) > 0.0:
            total += _below(b, spot, T, vol, rate, div) - _below(a, spot, T, vol, rate, div)
    return total
