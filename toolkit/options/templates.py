"""Option spreads as plain values: a :class:`Leg` is one contract line, a :class:`Spread` a
set of legs traded as one unit (IB's combo/BAG order), plus builders that pick the legs from a
quote frame by strike or delta rules.

Conventions (the other option modules, the engine and the live bridge rely on them):

* ``Leg.quantity`` is signed and counts contracts *per spread* (the combo ratio): +1 bought,
  -2 sold twice. A stock leg (right ``'S'``) counts shares, has multiplier 1, strike 0 and no
  expiry -- a call struck at 0 that never expires, so one payoff formula covers both.
* ``Leg.price`` is the entry premium per share (always >= 0), ``None`` when not known yet.
* ``Spread.quantity`` (> 0) is the number of spreads; direction lives in the legs' signs.
* Net price of one spread, in points of the option multiplier ``M`` (as IB quotes a combo):
  ``net = sum(q_i * m_i * p_i) / M`` -- **a debit is positive, a credit negative** (IB's BAG
  convention for a BUY combo order). Cash paid for the position is ``net * M * quantity``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal

from toolkit.errors import ToolkitError

RIGHTS = ("C", "P", "S")
STYLES = ("A", "E")
SpreadKind = Literal[
    "custom",
    "vertical",
    "straddle",
    "strangle",
    "iron_condor",
    "iron_butterfly",
    "calendar",
    "covered_call",
    "cash_secured_put",
]


class SpreadError(ToolkitError, ValueError):
    """A leg or spread is malformed, or does not fit the chain it was meant for."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One line of a spread.

    ``right``: ``'C'`` call, ``'P'`` put, ``'S'`` shares of the underlying.
    ``quantity``: signed contracts per spread (shares for ``'S'``).
    ``strike``, ``expiry``: the contract (``0.0`` / ``None`` for shares).
    ``multiplier``: shares per contract (100 for US equity and index options, 1 for shares).
    ``price``: entry premium per share (>= 0) when known.
    ``style``: ``'A'`` American or ``'E'`` European exercise (how scenarios reprice the leg).
    ``symbol``: the OCC-style contract id when the leg came from a chain (``''`` otherwise).
    """

    underlying: str
    right: str
    quantity: int
    strike: float = 0.0
    expiry: dt.date | None = None
    multiplier: float = 100.0
    price: float | None = None
    style: str = "A"
    symbol: str = ""

    def __post_init__(self) -> None:
        where = f"leg {self.describe()}"
        if not self.underlying:
            raise SpreadError(f"{where}: underlying is empty; name the underlying symbol")
        if self.right not in RIGHTS:
            raise SpreadError(f"{where}: right {self.right!r} is not one of 'C', 'P', 'S'")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise SpreadError(f"{where}: quantity must be a whole number of contracts/shares")
        if self.quantity == 0:
            raise SpreadError(f"{where}: quantity is 0; drop the leg or give it a signed size")
        if not (math.isfinite(self.multiplier) and self.multiplier > 0):
            raise SpreadError(f"{where}: multiplier {self.multiplier} must be positive")
        if self.style not in STYLES:
            raise SpreadError(f"{where}: style {self.style!r} is not 'A' (American) or 'E'")
        if self.price is not None and not (math.isfinite(self.price) and self.price >= 0):
            raise SpreadError(f"{where}: price {self.price} must be a premium >= 0 per share")
        if self.right == "S":
            if self.strike != 0.0 or self.expiry is not None or self.multiplier != 1.0:
                raise SpreadError(
                    f"{where}: a share leg has strike 0, no expiry and multiplier 1; "
                    "use Leg.shares(...)"
                )
        else:
            if not (math.isfinite(self.strike) and self.strike > 0):
                raise SpreadError(f"{where}: strike {self.strike} must be positive")
            if self.expiry is None:
                raise SpreadError(f"{where}: an option leg needs an expiry date")
            if isinstance(self.expiry, dt.datetime):
                raise SpreadError(f"{where}: expiry must be a date, not a datetime (.date())")

    @classmethod
    def shares(
        cls, underlying: str, quantity: int, price: float | None = None, style: str = "A"
    ) -> Leg:
        """A stock leg: ``quantity`` signed shares bought at ``price``."""
        return cls(underlying, "S", quantity, 0.0, None, 1.0, price, style)

    @property
    def is_option(self) -> bool:
        return self.right != "S"

    def with_price(self, price: float | None) -> Leg:
        """The same leg with another entry price."""
        return Leg(
            self.underlying, self.right, self.quantity, self.strike, self.expiry,
            self.multiplier, price, self.style, self.symbol,
        )

    def scaled(self, factor: int) -> Leg:
        """The same leg with ``quantity * factor`` (factor -1 flips long and short)."""
        return Leg(
            self.underlying, self.right, self.quantity * factor, self.strike, self.expiry,
            self.multiplier, self.price, self.style, self.symbol,
        )

    def describe(self) -> str:
        """Short label, e.g. ``-1 SPXW 2018-02-16 2650 P`` or ``+100 SPY shares``."""
        sign = f"{self.quantity:+d}" if isinstance(self.quantity, int) else str(self.quantity)
        if self.right == "S":
            return f"{sign} {self.underlying} shares"
        return f"{sign} {self.underlying} {self.expiry} {self.strike:g} {self.right}"


@dataclass(frozen=True, slots=True)
class Spread:
    """Legs traded as one unit; ``quantity`` (> 0) spreads, direction in the legs' signs.

    ``net_price`` follows the module convention: debit positive, credit negative, in points
    of ``multiplier`` per spread.
    """

    kind: str
    legs: tuple[Leg, ...]
    quantity: int = 1
    name: str = field(default="")

    def __post_init__(self) -> None:
        where = f"spread {self.name or self.kind}"
        if not isinstance(self.legs, tuple):
            object.__setattr__(self, "legs", tuple(self.legs))
        if not self.legs:
            raise SpreadError(f"{where}: has no legs")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise SpreadError(f"{where}: quantity must be a whole number of spreads")
        if self.quantity <= 0:
            raise SpreadError(
                f"{where}: quantity {self.quantity} must be > 0 (short a spread by "
                "flipping its legs' signs, e.g. spread.flipped())"
            )
        names = sorted({leg.underlying for leg in self.legs})
        if len(names) > 1:
            raise SpreadError(f"{where}: mixes underlyings {', '.join(names)}; use one")
        mults = sorted({leg.multiplier for leg in self.legs if leg.is_option})
        if len(mults) > 1:
            raise SpreadError(f"{where}: option legs have different multipliers {mults}")
        seen: set[tuple[str, float, dt.date | None]] = set()
        for leg in self.legs:
            key = (leg.right, leg.strike, leg.expiry)
            if key in seen:
                raise SpreadError(
                    f"{where}: contract of leg {leg.describe()} appears twice; "
                    "merge the two into one leg"
                )
            seen.add(key)

    @property
    def underlying(self) -> str:
        return self.legs[0].underlying

    @property
    def multiplier(self) -> float:
        """The option legs' multiplier (1 when the spread holds shares only)."""
        for leg in self.legs:
            if leg.is_option:
                return leg.multiplier
        return 1.0

    @property
    def expiries(self) -> tuple[dt.date, ...]:
        """The distinct option expiries, earliest first."""
        return tuple(sorted({leg.expiry for leg in self.legs if leg.expiry is not None}))

    @property
    def net_price(self) -> float | None:
        """Entry net price per spread (debit > 0, credit < 0); None if a leg has no price."""
        total = 0.0
        for leg in self.legs:
            if leg.price is None:
                return None
            total += leg.quantity * leg.multiplier * leg.price
        return total / self.multiplier

    @property
    def is_credit(self) -> bool:
        """True when the entry net price is a credit (< 0)."""
        net = self.net_price
        return net is not None and net < 0

    def flipped(self) -> Spread:
        """The opposite position: every leg's sign reversed (a debit becomes a credit)."""
        return Spread(self.kind, tuple(leg.scaled(-1) for leg in self.legs), self.quantity,
                      self.name)

    def with_quantity(self, quantity: int) -> Spread:
        return Spread(self.kind, self.legs, quantity, self.name)

    def describe(self) -> str:
        legs = "; ".join(leg.describe() for leg in self.legs)
        return f"{self.quantity} x {self.name or self.kind} [{legs}]"
