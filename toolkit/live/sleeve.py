"""A strategy's book inside a live session: its capital, cash, positions and the targets it
last acted on, kept exactly as the backtest engine keeps them, and the rule that turns new
signals into orders (the engine's close-of-bar step, through the shared risk rules).

The engine's kernel (toolkit.engine._kernels, step 3) and :meth:`Sleeve.plan` must agree;
the parity test replays real bars through the gateway and compares every fill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from toolkit.engine._step import buy_qty_nb
from toolkit.engine.commissions import commission_nb
from toolkit.engine.fills import slipped_nb
from toolkit.engine.settings import EngineSettings
from toolkit.risk import RiskLimits
from toolkit.risk.rules import check_order, desired_shares_nb, kill_switch

_EPS = 1e-9
NEW_YORK = "America/New_York"


@dataclass(frozen=True)
class Intent:
    """An order the sleeve wants sent, with why."""

    symbol: str
    quantity: float  # signed shares
    target: float  # the exposure it acts on
    price: float  # the decision (signal) price: the bar's close
    guards: tuple[str, ...] = ()  # rules that trimmed it


@dataclass(frozen=True)
class Outcome:
    """What one symbol's decision came to (journaled whether or not an order follows)."""

    symbol: str
    signal: float
    price: float
    target_qty: float
    current_qty: float
    note: str
    intent: Intent | None = None


@dataclass
class Sleeve:
    """Cash, positions and last-acted targets of one strategy, from its own fills only."""

    label: str
    symbols: tuple[str, ...]
    capital: float
    weights: np.ndarray
    settings: EngineSettings
    risk: RiskLimits
    cash: float = math.nan
    positions: dict[str, float] = field(default_factory=dict)
    avg_cost: dict[str, float] = field(default_factory=dict)
    realized: float = 0.0
    commissions: float = 0.0
    acted: dict[str, float] = field(default_factory=dict)
    closes: dict[str, float] = field(default_factory=dict)
    peak: float = math.nan
    day_start: float = math.nan
    day: pd.Timestamp | None = None
    last_equity: float = math.nan
    killed: str | None = None
    signals: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if math.isnan(self.cash):
            self.cash = self.capital
        for s in self.symbols:
            self.positions.setdefault(s, 0.0)
            self.avg_cost.setdefault(s, 0.0)
            self.acted.setdefault(s, math.nan)
        if math.isnan(self.peak):
            self.peak = self.day_start = self.last_equity = self.capital

    # -- bookkeeping ---------------------------------------------------------------------
    def apply_fill(self, symbol: str, shares: float, price: float) -> None:
        """Book an execution of ``shares`` (signed) at ``price`` (commission comes apart)."""
        new, avg, realized = book_fill(
            self.positions.get(symbol, 0.0), self.avg_cost.get(symbol, 0.0), shares, price
        )
        self.positions[symbol], self.avg_cost[symbol] = new, avg
        self.realized += realized
        self.cash -= shares * price

    def apply_commission(self, commission: float) -> None:
        self.cash -= commission
        self.commissions += commission

    def equity(self) -> float:
        """Cash plus positions marked at the last completed closes (the engine's mark)."""
        return self.cash + sum(
            q * self.closes.get(s, self.avg_cost.get(s, 0.0)) for s, q in self.positions.items()
        )

    def unrealized(self) -> float:
        return sum(
            q * (self.closes.get(s, self.avg_cost[s]) - self.avg_cost[s])
            for s, q in self.positions.items()
            if q
        )

    def gross(self) -> float:
        return sum(abs(q) * self.closes.get(s, 0.0) for s, q in self.positions.items())

    # -- the decision at a bar's close ---------------------------------------------------
    def check_kill_switch(self, bar_time: pd.Timestamp) -> str | None:
        """Mark at the close and apply the daily-loss / drawdown switch as the engine does;
        returns the rule that fired now (None if none, or if it fired before)."""
        value = self.equity()
        day = _trading_day(bar_time)
        if self.day is not None and day != self.day:
            self.day_start = self.last_equity
        self.day = day
        self.peak = max(self.peak, value)
        self.last_equity = value
        if self.killed is not None:
            return None
        fired = kill_switch(value, self.peak, self.day_start, self.risk.vector())
        if fired is not None:
            self.killed = fired
        return fired

    def plan(
        self, signals: dict[str, float], working: Mapping[str, float] | None = None
    ) -> list[Outcome]:
        """Targets -> orders for every symbol, sells before buys (the engine's rule).

        ``working``: signed shares per symbol of orders the broker is still working (live
        only): the order is sized against filled plus working, so a working order is never
        ordered a second time."""
        s = self.settings
        value = self.equity()
        risk = self.risk.vector()
        out: dict[str, Outcome] = {}
        sells: list[Outcome] = []
        buys: list[Outcome] = []
        for j, sym in enumerate(self.symbols):
            raw = signals.get(sym, math.nan)
            self.signals[sym] = raw
            # the kill switch and equity <= 0 flatten whatever the signal (the engine's rule)
            tgt = 0.0 if self.killed is not None else raw
            pos = self.positions[sym]
            held = pos + (working or {}).get(sym, 0.0)
            close = self.closes[sym]
            if math.isnan(tgt):
                out[sym] = Outcome(sym, raw, close, pos, pos, "no signal")
                continue
            tgt = min(max(tgt, -s.max_leverage), s.max_leverage)
            if s.rebalance != "every_bar" and tgt == self.acted[sym]:
                out[sym] = Outcome(sym, raw, close, pos, pos, "unchanged")
                continue
            want = float(desired_shares_nb(tgt, float(self.weights[j]), value, close, s.fractional))
            delta = want - held
            if abs(delta) <= _EPS * max(abs(held), 1.0):
                self.acted[sym] = tgt
                out[sym] = Outcome(sym, raw, close, want, pos, "at target")
                continue
            if (
                tgt != 0.0
                and s.rebalance_band > 0.0
                and abs(delta) * close < s.rebalance_band * value
            ):
                out[sym] = Outcome(sym, raw, close, want, pos, "inside band")
                continue
            other = self.gross() - abs(pos) * close
            allowed, fired = check_order(delta, held, close, value, other, risk, s.fractional)
            if allowed == 0.0:
                self.acted[sym] = tgt
                note = "blocked: " + ", ".join(fired)
                out[sym] = Outcome(sym, raw, close, want, pos, note)
                continue
            note = "order" + (" trimmed: " + ", ".join(fired) if fired else "")
            o = Outcome(
                sym, raw, close, want, pos, note, Intent(sym, allowed, tgt, close, tuple(fired))
            )
            (sells if allowed < 0 else buys).append(o)
        buys = self._fit_buying_power(sells, buys, value, out)
        ordered = [*sells, *buys]
        return ordered + [o for sym, o in out.items()]

    def _fit_buying_power(
        self, sells: list[Outcome], buys: list[Outcome], value: float, out: dict[str, Outcome]
    ) -> list[Outcome]:
        """Trim buys to the engine's buying power (cash after the sells, plus
        (max_leverage - 1) x equity) at the decision close, through the engine's own sizing
        function: a cover is never trimmed, only the part that opens or adds a long."""
        s = self.settings
        cost = s.commission.vector()
        slip = s.slippage_bps / 1e4
        cash = self.cash
        for o in sells:
            assert o.intent is not None
            px = float(slipped_nb(o.price, -1.0, slip))
            q = o.intent.quantity
            cash -= q * px + float(commission_nb(cost, q, px, 0.0))
        kept: list[Outcome] = []
        for o in buys:
            intent = o.intent
            assert intent is not None
            px = float(slipped_nb(o.price, 1.0, slip))
            budget = cash + (s.max_leverage - 1.0) * value
            q = float(
                buy_qty_nb(intent.quantity, o.current_qty, px, budget, cost, 0.0, s.fractional)
            )
            if q <= 0.0:
                self.acted[o.symbol] = intent.target
                out[o.symbol] = replace(o, note="blocked: buying power", intent=None)
                continue
            if q < intent.quantity:
                guards = (*intent.guards, "buying_power")
                o = replace(
                    o,
                    note="order trimmed: " + ", ".join(guards),
                    intent=replace(intent, quantity=q, guards=guards),
                )
            cash -= q * px + float(commission_nb(cost, q, px, 0.0))
            kept.append(o)
        return kept


def book_fill(pos: float, avg: float, shares: float, price: float) -> tuple[float, float, float]:
    """Average-cost bookkeeping of one execution (the engine's convention): returns the new
    position, its average cost and the P&L realized by the part that reduced the old one."""
    new = pos + shares
    if pos == 0.0 or (pos > 0) == (shares > 0):
        return new, (abs(pos) * avg + abs(shares) * price) / abs(new), 0.0
    closing = min(abs(shares), abs(pos))
    realized = (1.0 if pos > 0 else -1.0) * (price - avg) * closing
    if abs(new) <= _EPS:
        return 0.0, 0.0, realized
    return new, (price if (new > 0) != (pos > 0) else avg), realized


def _trading_day(ts: pd.Timestamp) -> pd.Timestamp:
    """The trading day of a bar: a daily bar's own date, an intraday bar's New York date."""
    if ts.hour == 0 and ts.minute == 0:
        return ts.normalize()
    return ts.tz_convert(NEW_YORK).normalize()
