"""An option template's spread from a chain, its net prices, and the limit price policy --
pure functions on quotes, so the session, a replay and a test all compute the same spread.

Net prices are per share of one combo unit bought (IB's combo semantics: a BUY executes each
leg as written; a negative net price is a credit). The *mid* is the sum of the legs' mids;
the *touch* (natural price) pays the ask of each leg bought and takes the bid of each leg
sold: the price that fills against the quoted market at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from toolkit.live.options_config import LegRules, PricePolicy
from toolkit.options import templates
from toolkit.options.payoff import summarize
from toolkit.risk.options import BookGreeks, SpreadRisk


@dataclass(frozen=True)
class OptionQuote:
    """One option contract with its quote and Greeks (per share: ``vega`` per vol point,
    ``theta`` per calendar day -- IB's ``OptionComputation`` units)."""

    con_id: int
    symbol: str  # the local (OCC) symbol
    underlying: str
    right: str  # "C" | "P"
    strike: float
    expiry: str  # YYYYMMDD
    multiplier: float
    bid: float
    ask: float
    delta: float
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0
    iv: float = math.nan

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)

    @property
    def two_sided(self) -> bool:
        return self.bid > 0.0 and self.ask >= self.bid and math.isfinite(self.ask)


@dataclass(frozen=True)
class SpreadLeg:
    """One leg of a combo: ``ratio`` contracts per combo unit, bought or sold."""

    quote: OptionQuote
    action: str  # BUY | SELL
    ratio: int = 1

    @property
    def signed(self) -> float:
        """Contracts per combo unit, + long."""
        return float(self.ratio) if self.action == "BUY" else -float(self.ratio)

    def reversed(self) -> SpreadLeg:
        return SpreadLeg(self.quote, "SELL" if self.action == "BUY" else "BUY", self.ratio)


@dataclass(frozen=True)
class Spread:
    """A combo of option legs on one underlying (one expiry for the shipped templates)."""

    template: str
    legs: tuple[SpreadLeg, ...]

    @property
    def mid(self) -> float:
        return sum(leg.signed * leg.quote.mid for leg in self.legs)

    @property
    def touch(self) -> float:
        return sum(
            leg.signed * (leg.quote.ask if leg.signed > 0 else leg.quote.bid) for leg in self.legs
        )

    @property
    def multiplier(self) -> float:
        return self.legs[0].quote.multiplier

    def greeks(self) -> BookGreeks:
        """Greeks of one combo unit in position units (see :class:`BookGreeks`)."""
        out = BookGreeks()
        for leg in self.legs:
            q, k = leg.quote, leg.signed * leg.quote.multiplier
            out = out + BookGreeks(q.delta * k, q.gamma * k, q.vega * k, q.theta * k)
        return out

    def as_template(self) -> templates.Spread:
        """The same spread as :mod:`toolkit.options.templates` values (one spread)."""
        kind = "iron_condor" if self.template == "iron_condor" else "vertical"
        legs = tuple(
            templates.Leg(
                x.quote.underlying,
                x.quote.right,
                int(x.signed),
                x.quote.strike,
                datetime.strptime(x.quote.expiry, "%Y%m%d").date(),
                x.quote.multiplier,
                symbol=x.quote.symbol,
            )
            for x in self.legs
        )
        return templates.Spread(kind, legs, 1, self.template)

    def risk(self, net_price: float) -> SpreadRisk:
        """The spread as the option rules judge it when bought at ``net_price``."""
        return SpreadRisk(
            spread_max_loss(self.as_template(), net_price),
            self.greeks(),
            tuple((x.quote.con_id, x.signed) for x in self.legs),
        )

    def bounds(self) -> tuple[float, float]:
        """The least and most one combo unit can be worth at expiry, per share (its exact
        payoff's extremes, :func:`toolkit.options.payoff.summarize`; +-inf when unbounded):
        a limit outside them pays more than the spread can ever return."""
        one = summarize(self.as_template(), 0.0)
        m = self.multiplier
        return one.max_loss / m, one.max_gain / m

    def limit(self, step_no: int, policy: PricePolicy, chase: bool = False) -> float:
        """The policy's net limit after ``step_no`` steps (:func:`limit_price`), kept inside
        :meth:`bounds` (a wide touch in a fast market can lie beyond what a vertical is
        worth at most: a 25-point put spread is never bought back for more than 25)."""
        px = limit_price(self.mid, self.touch, step_no, policy, chase)
        lo, hi = self.bounds()
        if px > hi:
            return on_tick(hi, policy.tick, up=False)
        if px < lo:
            return on_tick(lo, policy.tick, up=True)
        return px

    def closing(self) -> Spread:
        """The combo that closes this one (every leg reversed)."""
        return Spread(self.template, tuple(leg.reversed() for leg in self.legs))

    def describe(self) -> str:
        q0 = self.legs[0].quote
        strikes = "/".join(f"{x.quote.strike:g}{x.quote.right}" for x in self.legs)
        return f"{self.template} {q0.underlying} {q0.expiry} {strikes}"


def spread_max_loss(spread: templates.Spread, net_price: float) -> float:
    """Exact worst loss in USD (>= 0; ``inf`` when unbounded) of ONE ``spread`` held to
    expiry after buying it at ``net_price`` per share (a credit is negative): the payoff's
    minimum over its kinks and the slope past the last strike
    (:func:`toolkit.options.payoff.summarize`)."""
    worst = summarize(spread.with_quantity(1), net_price).max_loss
    return math.inf if math.isinf(worst) else max(-worst, 0.0)


def days_to_expiry(expiry: str, today: date) -> int:
    return (datetime.strptime(expiry, "%Y%m%d").date() - today).days


def choose_expiry(expirations: list[str], today: date, rules: LegRules) -> str | None:
    """The listed expiry with days to expiry in [dte_min, dte_max] nearest ``dte_target``
    (default: the window's middle); the earlier one on a tie."""
    ranked = expiries_by_preference(expirations, today, rules)
    return ranked[0] if ranked else None


def expiries_by_preference(expirations: list[str], today: date, rules: LegRules) -> list[str]:
    """The listed expiries inside [dte_min, dte_max], nearest ``dte_target`` first."""
    target = (
        rules.dte_target if rules.dte_target is not None else (rules.dte_min + rules.dte_max) / 2
    )
    fits = [e for e in expirations if rules.dte_min <= days_to_expiry(e, today) <= rules.dte_max]
    return sorted(fits, key=lambda e: (abs(days_to_expiry(e, today) - target), e))


def _short_by_delta(quotes: list[OptionQuote], right: str, delta: float) -> OptionQuote | None:
    """The two-sided out-of-the-money option of ``right`` whose |delta| is nearest ``delta``
    (the farther-out strike on a tie)."""
    side = [q for q in quotes if q.right == right and q.two_sided and math.isfinite(q.delta)]
    if not side:
        return None
    out = -1.0 if right == "P" else 1.0  # further out of the money: lower puts, higher calls
    return min(side, key=lambda q: (abs(abs(q.delta) - delta), -out * q.strike))


def quoted_strikes(strikes: list[float], spot: float, rules: LegRules) -> list[float]:
    """The strikes a session asks quotes for: those within ``strike_band`` of the spot and a
    wing's ``width`` beyond (a 0.20-delta short on a spike day can sit near the band's edge;
    its wing must still be quotable). All of them when the spot is unknown (NaN)."""
    if spot != spot:
        return list(strikes)
    low = spot * (1.0 - rules.strike_band) - rules.width
    high = spot * (1.0 + rules.strike_band) + rules.width
    return [k for k in strikes if low <= k <= high]


def _wing(quotes: list[OptionQuote], short: OptionQuote, width: float) -> OptionQuote | None:
    """The two-sided option of the short's right whose strike is nearest ``width`` points
    further out of the money (strictly further out), or None when the nearest is more than
    half a width away from it: a 25-point rule never opens a 5-point spread because the
    strikes between are unquoted."""
    want = short.strike - width if short.right == "P" else short.strike + width
    side = [
        q
        for q in quotes
        if q.right == short.right
        and q.two_sided
        and (q.strike < short.strike if short.right == "P" else q.strike > short.strike)
        and abs(q.strike - want) <= 0.5 * width
    ]
    if not side:
        return None
    return min(side, key=lambda q: (abs(q.strike - want), abs(q.strike - short.strike)))


def select_spread(quotes: list[OptionQuote], template: str, rules: LegRules) -> Spread | str:
    """The template's spread from one expiry's quotes, or why there is none."""

    def vertical(right: str) -> tuple[SpreadLeg, SpreadLeg] | str:
        short = _short_by_delta(quotes, right, rules.short_delta)
        if short is None:
            return f"no two-sided {right} quote with a delta"
        wing = _wing(quotes, short, rules.width)
        if wing is None:
            return (
                f"no two-sided {right} strike within half a width of {rules.width:g} "
                f"beyond {short.strike:g}"
            )
        return SpreadLeg(short, "SELL"), SpreadLeg(wing, "BUY")

    if template == "put_credit_vertical":
        got = vertical("P")
        return got if isinstance(got, str) else Spread(template, got)
    if template == "call_credit_vertical":
        got = vertical("C")
        return got if isinstance(got, str) else Spread(template, got)
    if template == "iron_condor":
        puts, calls = vertical("P"), vertical("C")
        if isinstance(puts, str):
            return puts
        if isinstance(calls, str):
            return calls
        return Spread(template, (puts[1], puts[0], calls[0], calls[1]))
    raise ValueError(f"unknown template {template!r}")


def on_tick(price: float, tick: float, up: bool) -> float:
    """``price`` on the ``tick`` grid, rounded up or down (exact decimal steps)."""
    steps = price / tick
    steps = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return round(steps * tick, 10)


def limit_price(
    mid: float, touch: float, step_no: int, policy: PricePolicy, chase: bool = False
) -> float:
    """The net limit price of a combo bought after ``step_no`` steps of the policy: from
    the mid (rounded away from the touch) toward the touch by ``step`` each time, never past
    the touch (rounded toward it: the last price may sit exactly on it). ``chase`` (a
    closing order): after the last step it goes to the touch, so an exit does get done."""
    toward = 1.0 if touch >= mid else -1.0  # buying: the touch is the dearer side
    end = on_tick(touch, policy.tick, up=toward > 0)
    if policy.start == "touch" or (chase and step_no >= policy.max_steps):
        return end
    start = on_tick(mid, policy.tick, up=toward < 0)
    px = start + toward * min(step_no, policy.max_steps) * policy.step
    px = on_tick(px, policy.tick, up=toward < 0)
    return end if (px - end) * toward > 0 else px
