"""The option risk rules, in one place for the live bridge and an option backtest.

A spread order is judged *before* it is sent (live) or filled (backtest) by:

* ``max_loss_per_spread``: the exact worst outcome of one spread at expiry, in dollars,
  net of the price paid or received (the caller computes it once, from the exact payoff of
  :func:`toolkit.options.payoff.summarize`; the rules stay below the option package in the
  layers); an unbounded loss (a naked short call, ``inf``) always fires.
* ``max_short_delta``: the book's net delta, in share equivalents (sum of contracts x
  multiplier x per-share delta), may not go below ``-max_short_delta``.
* ``max_short_vega``: the book's net vega, in dollars per volatility point (one percentage
  point of implied vol, IB's unit), may not go below ``-max_short_vega``.
* ``max_contracts``: no single option contract's position (absolute contracts) may exceed it.

An order that only reduces the book's risk is never held back (risk can always come off),
as with the stock rules (:func:`toolkit.risk.rules.cap_order_nb`). An opening order is
trimmed to the largest number of spreads every rule allows (:func:`allowed_spreads`); the
rules that cut it are named, typed (:class:`OptionRuleFiring`), never parsed from text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from toolkit._declare import setting

MAX_LOSS_PER_SPREAD = "max_loss_per_spread"
MAX_SHORT_DELTA = "max_short_delta"
MAX_SHORT_VEGA = "max_short_vega"
MAX_CONTRACTS = "max_contracts"
OPTION_RULES = (MAX_LOSS_PER_SPREAD, MAX_SHORT_DELTA, MAX_SHORT_VEGA, MAX_CONTRACTS)


@dataclass(frozen=True)
class OptionRiskLimits:
    """The option rules of a ``[risk]`` table; ``None`` switches one off (see the module)."""

    max_loss_per_spread: float | None = setting(None, above=0.0)  # USD per spread
    max_short_delta: float | None = setting(None, low=0.0)  # share equivalents
    max_short_vega: float | None = setting(None, low=0.0)  # USD per vol point
    max_contracts: float | None = setting(None, above=0.0)  # contracts of one option


@dataclass(frozen=True)
class BookGreeks:
    """Aggregated Greeks of a book or of an order, in position units: ``delta`` in share
    equivalents, ``gamma`` in share equivalents per $1 of the underlying, ``vega`` in USD
    per vol point, ``theta`` in USD per calendar day."""

    delta: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0

    def __add__(self, other: BookGreeks) -> BookGreeks:
        return BookGreeks(
            self.delta + other.delta,
            self.gamma + other.gamma,
            self.vega + other.vega,
            self.theta + other.theta,
        )

    def scaled(self, k: float) -> BookGreeks:
        return BookGreeks(self.delta * k, self.gamma * k, self.vega * k, self.theta * k)


@dataclass(frozen=True)
class SpreadRisk:
    """One spread (one combo unit) as the rules see it: its exact max loss in USD (``inf``
    when unbounded), its Greeks, and the signed contracts of each leg per spread by contract
    key (e.g. IB's conId)."""

    max_loss: float
    greeks: BookGreeks
    legs: tuple[tuple[int, float], ...]  # (contract key, signed contracts per spread)


@dataclass(frozen=True)
class OptionRuleFiring:
    """A rule that trimmed or blocked an order: the value it saw against its limit."""

    rule: str
    value: float
    limit: float
    detail: str


def check_spreads(
    limits: OptionRiskLimits,
    spread: SpreadRisk,
    spreads: int,
    book: BookGreeks,
    positions: dict[int, float],
) -> tuple[OptionRuleFiring, ...]:
    """The rules an order of ``spreads`` spreads breaks, given the book's Greeks and its
    positions (signed contracts by contract key) before the order. A rule the order does
    not make worse never fires (a closing order always passes)."""
    out: list[OptionRuleFiring] = []
    if spreads <= 0:
        return ()
    if limits.max_loss_per_spread is not None and spread.max_loss > limits.max_loss_per_spread:
        out.append(
            OptionRuleFiring(
                MAX_LOSS_PER_SPREAD,
                spread.max_loss,
                limits.max_loss_per_spread,
                f"max loss {_usd(spread.max_loss)} per spread > {_usd(limits.max_loss_per_spread)}",
            )
        )
    order = spread.greeks.scaled(spreads)
    after = book + order
    short_delta = limits.max_short_delta
    if short_delta is not None and order.delta < 0.0 and after.delta < -short_delta - 1e-9:
        out.append(
            OptionRuleFiring(
                MAX_SHORT_DELTA,
                after.delta,
                short_delta,
                f"book delta {after.delta:+,.1f} shares after the order < -{short_delta:,.1f}",
            )
        )
    short_vega = limits.max_short_vega
    if short_vega is not None and order.vega < 0.0 and after.vega < -short_vega - 1e-9:
        out.append(
            OptionRuleFiring(
                MAX_SHORT_VEGA,
                after.vega,
                short_vega,
                f"book vega {after.vega:+,.2f} $/vol pt after the order < -{short_vega:,.2f}",
            )
        )
    if limits.max_contracts is not None:
        for key, per in spread.legs:
            held = positions.get(key, 0.0)
            new = held + per * spreads
            if abs(new) > abs(held) and abs(new) > limits.max_contracts + 1e-9:
                out.append(
                    OptionRuleFiring(
                        MAX_CONTRACTS,
                        abs(new),
                        limits.max_contracts,
                        f"{abs(new):g} contracts of one option after the order > "
                        f"{limits.max_contracts:g}",
                    )
                )
                break
    return tuple(out)


def allowed_spreads(
    limits: OptionRiskLimits,
    spread: SpreadRisk,
    wanted: int,
    book: BookGreeks,
    positions: dict[int, float],
) -> tuple[int, tuple[OptionRuleFiring, ...]]:
    """The largest number of spreads, at most ``wanted``, that breaks no rule, and the rules
    that cut it below ``wanted`` (as they fired on the full order); 0 means blocked."""
    fired = check_spreads(limits, spread, wanted, book, positions)
    if not fired:
        return wanted, ()
    n = wanted - 1
    while n > 0 and check_spreads(limits, spread, n, book, positions):
        n -= 1
    return n, fired


def _usd(x: float) -> str:
    return "unbounded" if math.isinf(x) else f"${x:,.2f}"
