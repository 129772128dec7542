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

Builders take one chain (:func:`chain_on`: one quote date, underlying and root), an expiry
rule (the listed expiry nearest ``days`` calendar days), strike rules (:class:`Pick`:
:func:`by_delta`, :func:`atm` with n strikes OTM, :func:`at_strike`), wings in points or
strikes, and fill the legs at the touch (buy at the ask, sell at the bid) or the mid:
:func:`vertical`, :func:`straddle`, :func:`strangle`, :func:`iron_condor`,
:func:`iron_butterfly`, :func:`calendar`, :func:`covered_call`, :func:`cash_secured_put`.
Payoffs: :mod:`toolkit.options.payoff`; Greeks and scenarios: :mod:`toolkit.options.scenarios`.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from toolkit.errors import ToolkitError
from toolkit.options.american import american_greeks
from toolkit.options.black import bsm_greeks

FloatArr = npt.NDArray[np.float64]

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
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, numbers.Integral):
            raise SpreadError(f"{where}: quantity must be a whole number of contracts/shares")
        object.__setattr__(self, "quantity", int(self.quantity))  # numpy ints become int
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
            self.underlying,
            self.right,
            self.quantity,
            self.strike,
            self.expiry,
            self.multiplier,
            price,
            self.style,
            self.symbol,
        )

    def scaled(self, factor: int) -> Leg:
        """The same leg with ``quantity * factor`` (factor -1 flips long and short)."""
        return Leg(
            self.underlying,
            self.right,
            self.quantity * factor,
            self.strike,
            self.expiry,
            self.multiplier,
            self.price,
            self.style,
            self.symbol,
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
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, numbers.Integral):
            raise SpreadError(f"{where}: quantity must be a whole number of spreads")
        object.__setattr__(self, "quantity", int(self.quantity))
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
        return Spread(
            self.kind, tuple(leg.scaled(-1) for leg in self.legs), self.quantity, self.name
        )

    def with_quantity(self, quantity: int) -> Spread:
        return Spread(self.kind, self.legs, quantity, self.name)

    def describe(self) -> str:
        legs = "; ".join(leg.describe() for leg in self.legs)
        return f"{self.quantity} x {self.name or self.kind} [{legs}]"


# ---------------------------------------------------------------------------------------------
# Picking legs from a quote frame (toolkit.data.options.load_option_quotes's columns)

Fill = Literal["touch", "mid"]
DeltaSource = Literal["auto", "vendor", "model"]
ExpiryRule = int | dt.date  # calendar days to the nearest listed expiry, or that expiry
_NEEDED = (
    "quote_date",
    "underlying",
    "underlying_price",
    "expiry",
    "right",
    "strike",
    "bid",
    "ask",
    "delta",
    "iv",
    "style",
    "multiplier",
)


@dataclass(frozen=True, slots=True)
class Pick:
    """How to choose one strike: exactly one of

    ``delta``: the listed strike whose |delta| is nearest (e.g. 0.16 for a "16-delta" put);
    ``otm``: that many listed strikes out of the money from the at-the-money strike (0 = ATM;
    ATM is the strike nearest the forward, or the spot when no forward is given; negative = in
    the money); ``strike``: this exact listed strike.
    """

    delta: float | None = None
    otm: int | None = None
    strike: float | None = None

    def __post_init__(self) -> None:
        given = [v is not None for v in (self.delta, self.otm, self.strike)]
        if sum(given) != 1:
            raise SpreadError(f"{self}: give exactly one of delta, otm, strike")
        if self.delta is not None and not 0.0 < self.delta < 1.0:
            raise SpreadError(f"{self}: delta {self.delta} must be in (0, 1), e.g. 0.16")


def by_delta(delta: float) -> Pick:
    """The strike with |delta| nearest ``delta``."""
    return Pick(delta=delta)


def atm(otm: int = 0) -> Pick:
    """The at-the-money strike, or ``otm`` listed strikes out of the money from it."""
    return Pick(otm=otm)


def at_strike(strike: float) -> Pick:
    """Exactly this listed strike."""
    return Pick(strike=strike)


def chain_on(
    quotes: pd.DataFrame,
    quote_date: str | dt.date,
    underlying: str | None = None,
    root: str | None = None,
) -> pd.DataFrame:
    """The rows of one quote date and one underlying: the chain the builders pick from.

    ``root`` keeps one trading class (e.g. ``'SPXW'`` of underlying ``'SPX'``): a monthly
    SPX (AM-settled) and an SPXW (PM-settled) contract can share expiry, right and strike."""
    missing = [c for c in _NEEDED if c not in quotes.columns]
    if missing:
        raise SpreadError(
            f"quote frame lacks columns {', '.join(missing)}; load it with "
            "toolkit.data.options.load_option_quotes"
        )
    day = pd.Timestamp(quote_date).normalize()
    rows = quotes[quotes["quote_date"] == day]
    if rows.empty:
        dates = quotes["quote_date"]
        span = f"{dates.min().date()}..{dates.max().date()}" if len(dates) else "nothing"
        raise SpreadError(f"no quotes on {day.date()} (the frame covers {span}); pick a date in it")
    names = sorted(rows["underlying"].unique())
    if underlying is None:
        if len(names) > 1:
            raise SpreadError(
                f"quotes on {day.date()} hold {', '.join(names)}; pass underlying= to choose one"
            )
    else:
        rows = rows[rows["underlying"] == underlying]
        if rows.empty:
            raise SpreadError(
                f"no {underlying} quotes on {day.date()} (there are {', '.join(names)})"
            )
    if root is not None:
        roots = sorted(rows["root"].unique()) if "root" in rows.columns else []
        rows = rows[rows["root"] == root] if "root" in rows.columns else rows.iloc[:0]
        if rows.empty:
            raise SpreadError(f"no root {root} on {day.date()} (roots: {', '.join(roots)})")
    twice = rows.duplicated(["expiry", "right", "strike"])
    if twice.any():
        first = rows[twice].iloc[0]
        raise SpreadError(
            f"quotes on {day.date()} list {pd.Timestamp(first['expiry']).date()} "
            f"{first['right']} {first['strike']:g} twice (two roots?); pass root= to choose one"
        )
    return rows


def _one_chain(chain: pd.DataFrame) -> tuple[pd.Timestamp, str]:
    dates, names = chain["quote_date"].unique(), chain["underlying"].unique()
    if len(dates) != 1 or len(names) != 1:
        raise SpreadError(
            f"the chain holds {len(dates)} quote dates and {len(names)} underlyings; "
            "narrow it with chain_on(quotes, date, underlying)"
        )
    return pd.Timestamp(dates[0]), str(names[0])


def spot_of(chain: pd.DataFrame) -> float:
    """The underlying price the chain was quoted against (one value per quote date)."""
    prices = chain["underlying_price"].to_numpy(dtype=np.float64)
    prices = prices[np.isfinite(prices)]
    if prices.size == 0:
        raise SpreadError("the chain has no underlying_price; pass forward= to the builder")
    return float(np.median(prices))


def pick_expiry(chain: pd.DataFrame, days: ExpiryRule) -> dt.date:
    """The listed expiry nearest ``days`` calendar days after the quote date (ties: earlier),
    or exactly the expiry ``days`` when it is a date.

    Expiries before the quote date are ignored; one on the quote date counts (0 days)."""
    day, name = _one_chain(chain)
    expiries = pd.DatetimeIndex(chain["expiry"].unique()).sort_values()
    expiries = expiries[expiries >= day]
    if expiries.empty:
        raise SpreadError(f"{name} on {day.date()}: no expiry on or after the quote date")
    if isinstance(days, dt.date):
        if pd.Timestamp(days) not in expiries:
            listed = ", ".join(str(e.date()) for e in expiries[:6])
            raise SpreadError(
                f"{name} on {day.date()}: expiry {days} is not listed (listed: {listed}"
                f"{', ...' if len(expiries) > 6 else ''})"
            )
        return days
    gaps = np.abs((expiries - day).days.to_numpy() - days)
    out: dt.date = expiries[int(np.argmin(gaps))].date()
    return out


def _slice(chain: pd.DataFrame, expiry: dt.date, right: str) -> pd.DataFrame:
    rows = chain[(chain["expiry"] == pd.Timestamp(expiry)) & (chain["right"] == right)]
    if rows.empty:
        day, name = _one_chain(chain)
        raise SpreadError(f"{name} on {day.date()}: no {right} strikes expire on {expiry}")
    return rows.sort_values("strike", kind="stable")


def _model_deltas(rows: pd.DataFrame, day: pd.Timestamp, rate: float, div: float) -> FloatArr:
    """Our own delta from each row's implied vol (BSM for 'E', American for 'A')."""
    S = rows["underlying_price"].to_numpy(dtype=np.float64)
    K = rows["strike"].to_numpy(dtype=np.float64)
    T = (pd.DatetimeIndex(rows["expiry"]) - day).days.to_numpy(dtype=np.float64) / 365.0
    sigma = rows["iv"].to_numpy(dtype=np.float64)
    right = rows["right"].to_numpy()
    style = rows["style"].to_numpy()
    out = np.full(len(rows), np.nan)
    ok = np.isfinite(sigma) & (sigma > 0) & (T > 0) & np.isfinite(S)
    for st in ("E", "A"):
        m = ok & (style == st)
        if not m.any():
            continue
        greeks = bsm_greeks if st == "E" else american_greeks
        for r_ in ("C", "P"):
            mm = m & (right == r_)
            if mm.any():
                g = greeks(r_, S[mm], K[mm], T[mm], rate, div, sigma[mm])
                out[mm] = np.asarray(g.delta, dtype=np.float64)
    return out


def pick_strike(
    chain: pd.DataFrame,
    expiry: dt.date,
    right: str,
    pick: Pick,
    *,
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
    rate: float = 0.0,
    div: float = 0.0,
) -> float:
    """The listed strike of ``right`` expiring on ``expiry`` that ``pick`` names.

    Delta picks use the vendor's delta (``delta_source='vendor'``), our model's from the row's
    implied vol (``'model'``: BSM or American by the row's style, with ``rate``/``div``), or
    the vendor's where the slice has any, else the model's (``'auto'``)."""
    rows = _slice(chain, expiry, right)
    strikes = rows["strike"].to_numpy(dtype=np.float64)
    day, name = _one_chain(chain)
    where = f"{name} {expiry} {right} on {day.date()}"
    if pick.strike is not None:
        if not np.any(strikes == pick.strike):
            near = strikes[np.argsort(np.abs(strikes - pick.strike))[:2]]
            raise SpreadError(
                f"{where}: strike {pick.strike:g} not in the chain "
                f"(nearest {', '.join(f'{k:g}' for k in sorted(near))})"
            )
        return float(pick.strike)
    if pick.otm is not None:
        ref = spot_of(chain) if forward is None else forward
        uniq = np.unique(strikes)
        i = int(np.argmin(np.abs(uniq - ref)))
        j = i + pick.otm if right == "C" else i - pick.otm
        if not 0 <= j < len(uniq):
            raise SpreadError(
                f"{where}: {pick.otm} strikes OTM from ATM {uniq[i]:g} runs off the chain "
                f"({uniq[0]:g}..{uniq[-1]:g})"
            )
        return float(uniq[j])
    assert pick.delta is not None
    vendor = rows["delta"].to_numpy(dtype=np.float64)
    source = delta_source
    if source == "auto":
        source = "vendor" if np.isfinite(vendor).any() else "model"
    deltas = vendor if source == "vendor" else _model_deltas(rows, day, rate, div)
    ok = np.isfinite(deltas)
    if not ok.any():
        hint = "use delta_source='model'" if source == "vendor" else "the rows lack iv"
        raise SpreadError(f"{where}: no {source} deltas to pick {pick.delta} delta from; {hint}")
    gap = np.where(ok, np.abs(np.abs(deltas) - pick.delta), np.inf)
    return float(strikes[int(np.argmin(gap))])


def _wing(
    chain: pd.DataFrame,
    expiry: dt.date,
    right: str,
    body: float,
    side: int,
    width: float | None,
    width_strikes: int | None,
) -> float:
    """The listed strike ``width`` points (or ``width_strikes`` strikes) beyond ``body``
    on ``side`` (+1 above, -1 below); with points, the listed strike nearest that target
    (ties: the one nearer the body, so an unlisted target never widens the risk)."""
    if (width is None) == (width_strikes is None):
        raise SpreadError("give the wing as exactly one of width (points) or width_strikes")
    uniq = np.unique(_slice(chain, expiry, right)["strike"].to_numpy(dtype=np.float64))
    beyond = uniq[uniq > body] if side > 0 else uniq[uniq < body][::-1]
    day, name = _one_chain(chain)
    if width_strikes is not None:
        if width_strikes < 1 or width_strikes > len(beyond):
            raise SpreadError(
                f"{name} {expiry} {right} on {day.date()}: {width_strikes} strikes beyond "
                f"{body:g} runs off the chain ({len(beyond)} listed there)"
            )
        return float(beyond[width_strikes - 1])
    assert width is not None
    if not width > 0 or beyond.size == 0:
        raise SpreadError(
            f"{name} {expiry} {right} on {day.date()}: no wing {width} points beyond {body:g}"
        )
    return float(beyond[int(np.argmin(np.abs(beyond - (body + side * width))))])


def _quote_row(chain: pd.DataFrame, leg: Leg) -> pd.Series:
    rows = _slice(chain, leg.expiry, leg.right) if leg.expiry is not None else chain.iloc[:0]
    rows = rows[rows["strike"] == leg.strike]
    if rows.empty:
        day, _ = _one_chain(chain)
        raise SpreadError(f"leg {leg.describe()}: not in the chain of {day.date()}")
    return rows.iloc[0]


def check_in_chain(spread: Spread, chain: pd.DataFrame) -> None:
    """Raise a one-line :class:`SpreadError` naming the first option leg not in ``chain``."""
    _, name = _one_chain(chain)
    if spread.underlying != name:
        raise SpreadError(f"spread {spread.describe()}: underlying is not {name}, the chain's")
    for leg in spread.legs:
        if leg.is_option:
            _quote_row(chain, leg)


def leg_price(chain: pd.DataFrame, leg: Leg, fill: Fill = "touch") -> float:
    """What the leg fills at per share: at the touch (buy at the ask, sell at the bid) or mid.

    A share leg fills at the chain's underlying price."""
    if not leg.is_option:
        return spot_of(chain)
    row = _quote_row(chain, leg)
    bid, ask = float(row["bid"]), float(row["ask"])
    where = f"leg {leg.describe()} on {pd.Timestamp(row['quote_date']).date()}"
    if bool(row.get("crossed", False)) or bid > ask:
        raise SpreadError(f"{where}: crossed quote (bid {bid} > ask {ask}); pick another strike")
    if fill == "mid":
        if not (np.isfinite(bid) and np.isfinite(ask) and 0 <= bid <= ask and ask > 0):
            raise SpreadError(f"{where}: no two-sided quote for a mid (bid {bid}, ask {ask})")
        return (bid + ask) / 2.0
    if leg.quantity > 0:
        if not (np.isfinite(ask) and ask > 0):
            raise SpreadError(f"{where}: no ask to buy at ({ask}); pick another strike")
        return ask
    if not (np.isfinite(bid) and bid >= 0):
        raise SpreadError(f"{where}: no bid to sell at ({bid}); pick another strike")
    return bid


def price_legs(spread: Spread, chain: pd.DataFrame, fill: Fill = "touch") -> Spread:
    """The spread with every leg's entry price from ``chain`` (see :func:`leg_price`)."""
    legs = tuple(leg.with_price(leg_price(chain, leg, fill)) for leg in spread.legs)
    return Spread(spread.kind, legs, spread.quantity, spread.name)


def net_premium(spread: Spread, chain: pd.DataFrame, fill: Fill = "touch") -> float:
    """Net price per spread (debit > 0, credit < 0) filled from ``chain``: the touch pays
    the spread, mid does not."""
    net = price_legs(spread, chain, fill).net_price
    assert net is not None
    return net


def _leg(chain: pd.DataFrame, expiry: dt.date, right: str, strike: float, q: int) -> Leg:
    row = _quote_row(chain, Leg(str(chain["underlying"].iloc[0]), right, q, strike, expiry))
    return Leg(
        str(row["underlying"]),
        right,
        q,
        float(strike),
        expiry,
        float(row["multiplier"]),
        None,
        str(row["style"]),
        str(row.get("symbol", "") or ""),
    )


def _build(
    chain: pd.DataFrame, kind: str, label: str, legs: list[Leg], quantity: int, fill: Fill
) -> Spread:
    _, name = _one_chain(chain)
    if "root" in chain.columns and chain["root"].nunique() == 1:
        name = str(chain["root"].iloc[0])  # the trading class: SPXW, not SPX
    spread = Spread(kind, tuple(legs), quantity, f"{name} {label}")
    return price_legs(spread, chain, fill)


def _sign(direction: str, long_word: str, short_word: str) -> int:
    if direction == long_word:
        return 1
    if direction == short_word:
        return -1
    raise SpreadError(f"direction {direction!r} must be {long_word!r} or {short_word!r}")


def vertical(
    chain: pd.DataFrame,
    right: str,
    *,
    days: ExpiryRule,
    near: Pick,
    width: float | None = None,
    width_strikes: int | None = None,
    direction: Literal["credit", "debit"] = "credit",
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """A vertical: the ``near`` strike (nearer the money) and a wing further out of the
    money. Credit: sell the near strike, buy the wing (bull put / bear call); debit: buy the
    near strike, sell the wing (bull call / bear put)."""
    sign = _sign(direction, "debit", "credit")
    expiry = pick_expiry(chain, days)
    k = pick_strike(chain, expiry, right, near, forward=forward, delta_source=delta_source)
    side = 1 if right == "C" else -1
    w = _wing(chain, expiry, right, k, side, width, width_strikes)
    legs = [_leg(chain, expiry, right, k, sign), _leg(chain, expiry, right, w, -sign)]
    word = "call" if right == "C" else "put"
    return _build(
        chain, "vertical", f"{expiry} {k:g}/{w:g} {word} {direction}", legs, quantity, fill
    )


def straddle(
    chain: pd.DataFrame,
    *,
    days: ExpiryRule,
    strike: Pick | None = None,
    direction: Literal["long", "short"] = "long",
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """Call and put at one strike (ATM unless ``strike`` says otherwise)."""
    sign = _sign(direction, "long", "short")
    expiry = pick_expiry(chain, days)
    k = pick_strike(chain, expiry, "C", strike or atm(), forward=forward, delta_source=delta_source)
    legs = [_leg(chain, expiry, "C", k, sign), _leg(chain, expiry, "P", k, sign)]
    return _build(chain, "straddle", f"{expiry} {k:g} {direction} straddle", legs, quantity, fill)


def strangle(
    chain: pd.DataFrame,
    *,
    days: ExpiryRule,
    call: Pick,
    put: Pick,
    direction: Literal["long", "short"] = "short",
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """An out-of-the-money put and call (e.g. both 16 delta)."""
    sign = _sign(direction, "long", "short")
    expiry = pick_expiry(chain, days)
    kc = pick_strike(chain, expiry, "C", call, forward=forward, delta_source=delta_source)
    kp = pick_strike(chain, expiry, "P", put, forward=forward, delta_source=delta_source)
    if kp >= kc:
        raise SpreadError(f"strangle: put strike {kp:g} is not below call strike {kc:g}")
    legs = [_leg(chain, expiry, "P", kp, sign), _leg(chain, expiry, "C", kc, sign)]
    return _build(
        chain, "strangle", f"{expiry} {kp:g}/{kc:g} {direction} strangle", legs, quantity, fill
    )


def iron_condor(
    chain: pd.DataFrame,
    *,
    days: ExpiryRule,
    short_put: Pick,
    short_call: Pick,
    width: float | None = None,
    width_strikes: int | None = None,
    direction: Literal["long", "short"] = "short",
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """Short strangle plus wings ``width`` beyond each short strike (short = credit)."""
    sign = _sign(direction, "long", "short")
    expiry = pick_expiry(chain, days)
    kc = pick_strike(chain, expiry, "C", short_call, forward=forward, delta_source=delta_source)
    kp = pick_strike(chain, expiry, "P", short_put, forward=forward, delta_source=delta_source)
    if kp >= kc:
        raise SpreadError(f"iron condor: short put {kp:g} is not below short call {kc:g}")
    wp = _wing(chain, expiry, "P", kp, -1, width, width_strikes)
    wc = _wing(chain, expiry, "C", kc, 1, width, width_strikes)
    legs = [
        _leg(chain, expiry, "P", wp, -sign),
        _leg(chain, expiry, "P", kp, sign),
        _leg(chain, expiry, "C", kc, sign),
        _leg(chain, expiry, "C", wc, -sign),
    ]
    return _build(
        chain,
        "iron_condor",
        f"{expiry} {wp:g}/{kp:g}/{kc:g}/{wc:g} {direction} iron condor",
        legs,
        quantity,
        fill,
    )


def iron_butterfly(
    chain: pd.DataFrame,
    *,
    days: ExpiryRule,
    body: Pick | None = None,
    width: float | None = None,
    width_strikes: int | None = None,
    direction: Literal["long", "short"] = "short",
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """Straddle at the body (ATM by default) plus wings ``width`` beyond it (short = credit)."""
    sign = _sign(direction, "long", "short")
    expiry = pick_expiry(chain, days)
    k = pick_strike(chain, expiry, "C", body or atm(), forward=forward, delta_source=delta_source)
    wp = _wing(chain, expiry, "P", k, -1, width, width_strikes)
    wc = _wing(chain, expiry, "C", k, 1, width, width_strikes)
    legs = [
        _leg(chain, expiry, "P", wp, -sign),
        _leg(chain, expiry, "P", k, sign),
        _leg(chain, expiry, "C", k, sign),
        _leg(chain, expiry, "C", wc, -sign),
    ]
    return _build(
        chain,
        "iron_butterfly",
        f"{expiry} {wp:g}/{k:g}/{wc:g} {direction} iron butterfly",
        legs,
        quantity,
        fill,
    )


def calendar(
    chain: pd.DataFrame,
    right: str,
    *,
    front_days: ExpiryRule,
    back_days: ExpiryRule,
    strike: Pick | None = None,
    direction: Literal["long", "short"] = "long",
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """Same strike, two expiries: long = sell the front, buy the back (a debit). The strike
    is picked (on the front expiry) among the strikes both expiries list."""
    sign = _sign(direction, "long", "short")
    front, back = pick_expiry(chain, front_days), pick_expiry(chain, back_days)
    if not front < back:
        raise SpreadError(
            f"calendar: front_days {front_days} and back_days {back_days} pick expiries "
            f"{front} and {back}; the back must expire later"
        )
    # only strikes listed in both expiries (a weekly lists strikes its monthly does not)
    both = set(_slice(chain, front, right)["strike"]) & set(_slice(chain, back, right)["strike"])
    common = chain[chain["strike"].isin(both)]
    k = pick_strike(
        common, front, right, strike or atm(), forward=forward, delta_source=delta_source
    )
    legs = [_leg(chain, front, right, k, -sign), _leg(chain, back, right, k, sign)]
    return _build(
        chain,
        "calendar",
        f"{front}/{back} {k:g} {right} {direction} calendar",
        legs,
        quantity,
        fill,
    )


def covered_call(
    chain: pd.DataFrame,
    *,
    days: ExpiryRule,
    call: Pick,
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """Shares bought at the chain's underlying price (one contract's multiplier of them) and
    one short call."""
    expiry = pick_expiry(chain, days)
    k = pick_strike(chain, expiry, "C", call, forward=forward, delta_source=delta_source)
    short = _leg(chain, expiry, "C", k, -1)
    stock = Leg.shares(short.underlying, round(short.multiplier), style=short.style)
    return _build(
        chain, "covered_call", f"{expiry} {k:g} covered call", [stock, short], quantity, fill
    )


def cash_secured_put(
    chain: pd.DataFrame,
    *,
    days: ExpiryRule,
    put: Pick,
    quantity: int = 1,
    fill: Fill = "touch",
    forward: float | None = None,
    delta_source: DeltaSource = "auto",
) -> Spread:
    """One short put, with cash of strike x multiplier set aside (:func:`collateral`)."""
    expiry = pick_expiry(chain, days)
    k = pick_strike(chain, expiry, "P", put, forward=forward, delta_source=delta_source)
    return _build(
        chain,
        "cash_secured_put",
        f"{expiry} {k:g} cash-secured put",
        [_leg(chain, expiry, "P", k, -1)],
        quantity,
        fill,
    )


def collateral(spread: Spread) -> float:
    """Cash a cash-secured put sets aside: strike x multiplier x contracts (dollars)."""
    return float(
        sum(
            -leg.quantity * leg.strike * leg.multiplier
            for leg in spread.legs
            if leg.right == "P" and leg.quantity < 0
        )
        * spread.quantity
    )
