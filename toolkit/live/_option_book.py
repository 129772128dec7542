"""The book of an option session: contracts held per option (by IB's conId), their average
prices, cash and realised P&L in dollars (price x contracts x multiplier), through the one
average-cost booking (:func:`toolkit.engine._step.avg_cost_nb`, via the sleeve's
:func:`~toolkit.live.sleeve.book_fill`). The ledger is its only writer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from toolkit.data import calendar
from toolkit.live._option_plan import OptionQuote, Spread, SpreadLeg
from toolkit.live.sleeve import book_fill
from toolkit.risk.options import BookGreeks
from toolkit.risk.rules import kill_switch


@dataclass(frozen=True)
class OptionContract:
    """What the book knows of an option it trades (from the combo's journaled legs)."""

    con_id: int
    symbol: str  # local (OCC) symbol
    underlying: str
    right: str
    strike: float
    expiry: str
    multiplier: float


@dataclass
class OptionBook:
    """One option strategy's book."""

    label: str
    capital: float
    cash: float = math.nan
    realized: float = 0.0  # USD, before commissions
    commissions: float = 0.0
    positions: dict[int, float] = field(default_factory=dict)  # contracts, + long
    avg_price: dict[int, float] = field(default_factory=dict)  # per share
    contracts: dict[int, OptionContract] = field(default_factory=dict)
    marks: dict[int, OptionQuote] = field(default_factory=dict)  # the last quotes seen
    peak: float = math.nan  # equity's high-water mark (the drawdown switch)
    day_start: float = math.nan  # equity at the trading day's first mark (daily loss)
    day: date | None = None
    killed: str | None = None  # the kill rule that fired: no new spread, ever

    def __post_init__(self) -> None:
        if math.isnan(self.cash):
            self.cash = self.capital
        if math.isnan(self.peak):
            self.peak = self.day_start = self.capital

    def check_kill_switch(self, now: pd.Timestamp, risk: np.ndarray) -> str | None:
        """Mark the book's equity and apply the daily-loss / drawdown switch of the stock
        rulebook (:func:`toolkit.risk.rules.kill_switch`); the rule that fired now (None if
        none, or if one fired before)."""
        value = self.equity()
        day = calendar.trading_date(now)
        if self.day is not None and day != self.day:
            self.day_start = value
        self.day = day
        self.peak = max(self.peak, value)
        if self.killed is not None:
            return None
        fired = kill_switch(value, self.peak, self.day_start, risk)
        if fired is not None:
            self.killed = fired
        return fired

    def know(self, contract: OptionContract) -> None:
        self.contracts.setdefault(contract.con_id, contract)

    def apply_fill(self, con_id: int, contracts: float, price: float) -> None:
        """Book an execution of signed ``contracts`` of a known option at ``price`` per
        share (commission comes apart)."""
        mult = self.contracts[con_id].multiplier
        new, avg, realized = book_fill(
            self.positions.get(con_id, 0.0), self.avg_price.get(con_id, 0.0), contracts, price
        )
        self.positions[con_id], self.avg_price[con_id] = new, avg
        self.realized += realized * mult
        self.cash -= contracts * price * mult

    def apply_commission(self, commission: float) -> None:
        self.commissions += commission
        self.cash -= commission

    def held(self) -> dict[int, float]:
        return {k: q for k, q in self.positions.items() if abs(q) > 1e-9}

    def mark(self, quotes: list[OptionQuote]) -> None:
        for q in quotes:
            if q.con_id in self.contracts:
                self.marks[q.con_id] = q

    def greeks(self) -> BookGreeks:
        """The book's Greeks from the last quotes of what it holds (position units)."""
        out = BookGreeks()
        for k, n in self.held().items():
            q = self.marks.get(k)
            if q is None:
                continue
            m = n * q.multiplier
            out = out + BookGreeks(q.delta * m, q.gamma * m, q.vega * m, q.theta * m)
        return out

    def value(self) -> float:
        """Market value of the held options at their mids (their average price when unquoted)."""
        total = 0.0
        for k, n in self.held().items():
            q = self.marks.get(k)
            px = q.mid if q is not None and q.two_sided else self.avg_price[k]
            total += n * px * self.contracts[k].multiplier
        return total

    def equity(self) -> float:
        return self.cash + self.value()

    def unrealized(self) -> float:
        return sum(
            n
            * (
                (q.mid if (q := self.marks.get(k)) is not None else self.avg_price[k])
                - self.avg_price[k]
            )
            * self.contracts[k].multiplier
            for k, n in self.held().items()
        )

    def open_spread(self, template: str) -> tuple[Spread, float] | None:
        """What the book holds as one spread per combo unit -- legs at their ratios over the
        smallest position -- and its net entry price per share (None: flat or unquoted)."""
        held = self.held()
        if not held or any(k not in self.marks for k in held):
            return None
        units = min(abs(n) for n in held.values())
        legs = []
        entry = 0.0
        for k, n in sorted(held.items(), key=lambda kv: (self.contracts[kv[0]].strike, kv[0])):
            ratio = max(1, round(abs(n) / units))
            legs.append(SpreadLeg(self.marks[k], "BUY" if n > 0 else "SELL", ratio))
            entry += (ratio if n > 0 else -ratio) * self.avg_price[k]
        return Spread(template, tuple(legs)), entry

    def units(self) -> int:
        """Combo units held (the smallest leg position; 0 when flat)."""
        held = self.held()
        return round(min(abs(n) for n in held.values())) if held else 0
