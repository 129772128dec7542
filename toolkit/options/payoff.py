"""Exact expiry payoff of a spread: a piecewise-linear function of the underlying price whose
kinks are the strikes, so its extremes and zeros are found exactly, not on a grid.

Units: dollars for the whole position (``spread.quantity`` spreads, each leg times its
multiplier); the P&L includes the entry premium (``net_price``, debit > 0, credit < 0, see
:mod:`toolkit.options.templates`). Prices below 0 are outside the domain.
Legs must share one expiry (shares count as never expiring): a calendar's value at the front
expiry depends on the back leg's model value -- use :mod:`toolkit.options.scenarios`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toolkit.options.templates import Spread, SpreadError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PayoffSummary:
    """What a spread can make or lose if held to expiry.

    ``max_gain`` / ``max_loss`` in dollars for the position (``+inf`` / ``-inf`` when
    unbounded, e.g. a naked short call's loss); ``max_gain_at`` / ``max_loss_at`` the
    underlying prices where they are first reached (``inf`` when unbounded).
    ``breakevens``: every underlying price where the P&L is 0, ascending (the ends of a zero
    segment both listed). ``net_price`` per spread in option points (debit > 0).
    """

    net_price: float
    max_gain: float
    max_loss: float
    max_gain_at: float
    max_loss_at: float
    breakevens: tuple[float, ...]


def _single_expiry(spread: Spread) -> None:
    if len(spread.expiries) > 1:
        dates = ", ".join(str(d) for d in spread.expiries)
        raise SpreadError(
            f"spread {spread.name or spread.kind}: legs expire on {dates}; an expiry payoff "
            "needs one expiry -- value the back leg with toolkit.options.scenarios"
        )


def _entry(spread: Spread, net_price: float | None) -> float:
    net = spread.net_price if net_price is None else net_price
    if net is None:
        missing = [leg.describe() for leg in spread.legs if leg.price is None]
        raise SpreadError(
            f"spread {spread.name or spread.kind}: no entry price for {', '.join(missing)}; "
            "price the legs (templates.price_legs) or pass net_price"
        )
    return float(net)


def expiry_value(spread: Spread, prices: npt.ArrayLike) -> FloatArray:
    """Value at expiry (no premium), dollars for the position, at each underlying price."""
    _single_expiry(spread)
    S = np.asarray(prices, dtype=np.float64)
    total = np.zeros_like(S)
    for leg in spread.legs:
        if leg.right == "P":
            intrinsic = np.maximum(leg.strike - S, 0.0)
        else:  # calls and shares (a call struck at 0)
            intrinsic = np.maximum(S - leg.strike, 0.0)
        total = total + leg.quantity * leg.multiplier * intrinsic
    out: FloatArray = total * spread.quantity
    return out


def expiry_pnl(spread: Spread, prices: npt.ArrayLike, net_price: float | None = None) -> FloatArray:
    """P&L at expiry in dollars for the position: value minus what the entry cost.

    ``net_price`` overrides the legs' entry prices (per spread, debit > 0)."""
    net = _entry(spread, net_price)
    out: FloatArray = expiry_value(spread, prices) - net * spread.multiplier * spread.quantity
    return out


def _slope_right(spread: Spread) -> float:
    """dP&L/dS beyond the highest strike: calls and shares count, puts are worthless there."""
    return float(
        sum(leg.quantity * leg.multiplier for leg in spread.legs if leg.right != "P")
        * spread.quantity
    )


def kinks(spread: Spread) -> FloatArray:
    """0 and the distinct option strikes, ascending: the payoff is linear between them."""
    _single_expiry(spread)
    strikes = {leg.strike for leg in spread.legs if leg.is_option}
    return np.array(sorted({0.0, *strikes}), dtype=np.float64)


def breakevens(spread: Spread, net_price: float | None = None) -> tuple[float, ...]:
    """Underlying prices where the expiry P&L is exactly 0 (linear roots between kinks)."""
    xs = kinks(spread)
    ys = expiry_pnl(spread, xs, net_price)
    slope = _slope_right(spread)
    roots: list[float] = []
    for i in range(len(xs) - 1):
        y0, y1 = ys[i], ys[i + 1]
        if y0 == 0.0:
            roots.append(float(xs[i]))
        if y0 * y1 < 0.0:
            # the zero of the line through (x0, y0), (x1, y1)
            roots.append(float(xs[i] - y0 * (xs[i + 1] - xs[i]) / (y1 - y0)))
    last_x, last_y = float(xs[-1]), float(ys[-1])
    if last_y == 0.0:
        roots.append(last_x)
    elif slope != 0.0 and -last_y / slope > 0.0:
        roots.append(last_x - last_y / slope)
    return tuple(sorted(set(roots)))


def summarize(spread: Spread, net_price: float | None = None) -> PayoffSummary:
    """Max gain, max loss (exact, from the kinks and the slope past the last strike) and
    breakevens of a spread held to expiry."""
    net = _entry(spread, net_price)
    xs = kinks(spread)
    ys = expiry_pnl(spread, xs, net)
    slope = _slope_right(spread)
    hi, lo = int(np.argmax(ys)), int(np.argmin(ys))
    max_gain, max_gain_at = float(ys[hi]), float(xs[hi])
    max_loss, max_loss_at = float(ys[lo]), float(xs[lo])
    if slope > 0:
        max_gain, max_gain_at = math.inf, math.inf
    elif slope < 0:
        max_loss, max_loss_at = -math.inf, math.inf
    return PayoffSummary(
        net_price=net,
        max_gain=max_gain,
        max_loss=max_loss,
        max_gain_at=max_gain_at,
        max_loss_at=max_loss_at,
        breakevens=breakevens(spread, net),
    )
