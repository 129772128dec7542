"""A strategy's book inside a live session: its capital, cash, positions and the targets it
last acted on, kept exactly as the backtest engine keeps them, and the rule that turns new
signals into orders: the engine's close-of-bar step itself (toolkit.engine._step), so there
is no second copy of the decision to drift.

The parity tests replay real bars through the gateway and compare every fill with the
backtest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from functools import cache
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from toolkit.data import calendar
from toolkit.engine._step import (
    D_DONE,
    D_NONE,
    D_SAME,
    D_WAIT,
    FILL_ESTIMATE,
    P_CODE,
    P_QTY,
    P_TGT,
    P_WANT,
    P_WHAT,
    PLAN_COLS,
    STATE_COLS,
    TRADE_COLS,
    avg_cost_nb,
    plan_close_nb,
)
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ToolkitError
from toolkit.risk import RiskLimits
from toolkit.risk.portfolio import RiskContext, window_estimates_nb
from toolkit.risk.rules import guard_names, kill_switch


@dataclass(frozen=True)
class Intent:
    """An order the sleeve wants sent, with why."""

    symbol: str
    quantity: float  # signed shares
    target: float  # the exposure it acts on
    price: float  # the decision (signal) price: the bar's close
    guards: tuple[str, ...] = ()  # rules that trimmed it


class Decision(Enum):
    """What the close-of-bar step decided for one symbol; the value is the journal's
    ``decisions.outcome`` code (stored, so never renamed), the label its human-readable note."""

    NO_SIGNAL = "no_signal"
    UNCHANGED = "unchanged"  # the target was already acted on
    INSIDE_BAND = "inside_band"  # the trade is inside the rebalance band
    WAITING = "waiting"  # a risk rule holds it back until it can judge (decided again)
    AT_TARGET = "at_target"  # nothing to trade
    BLOCKED = "blocked"  # a risk rule left nothing to trade
    ORDER = "order"
    ORDER_TRIMMED = "order_trimmed"  # an order, smaller than asked by a risk rule

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def orders(self) -> bool:
        return self in (Decision.ORDER, Decision.ORDER_TRIMMED)


_LABELS = {
    Decision.NO_SIGNAL: "no signal",
    Decision.UNCHANGED: "unchanged",
    Decision.INSIDE_BAND: "inside band",
    Decision.WAITING: "waiting",
    Decision.AT_TARGET: "at target",
    Decision.BLOCKED: "blocked",
    Decision.ORDER: "order",
    Decision.ORDER_TRIMMED: "order trimmed",
}


def decision_note(decision: Decision, guards: tuple[str, ...] = ()) -> str:
    """The human-readable note of a decision (journal readers, dashboard), e.g.
    ``blocked: buying_power`` or ``order trimmed: max_position``."""
    return decision.label + (": " + ", ".join(guards) if guards else "")


@dataclass(frozen=True)
class Outcome:
    """What one symbol's decision came to (journaled whether or not an order follows)."""

    symbol: str
    signal: float
    price: float
    target_qty: float
    current_qty: float
    decision: Decision
    guards: tuple[str, ...] = ()  # the risk rules that trimmed or blocked it
    intent: Intent | None = None

    @property
    def note(self) -> str:
        return decision_note(self.decision, self.guards)


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
    day: date | None = None  # the exchange date of the last bar marked
    last_equity: float = math.nan
    killed: str | None = None
    signals: dict[str, float] = field(default_factory=dict)
    context: RiskContext | None = None  # the portfolio rules' history at the last plan

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

    def book_risk(self) -> dict[str, Any]:
        """The book as the portfolio rules see it (dashboard): ``weight`` per symbol
        (exposure / equity), ``net``, gross exposure by sector (``sectors``: the rules'
        sector map, symbols without a sector under "Other") and, once a full estimation
        window exists at the last plan, ``beta`` to the benchmark (with a beta limit), the
        one-day parametric ``var``/``cvar`` at the limits' level and each symbol's share of
        the book's variance (``risk_share``, Euler: w_i (Sigma w)_i / w'Sigma w; Litterman
        1996). NaN (or empty) where unknown."""
        eq = self.equity()
        syms = self.symbols
        w = np.array([self.positions[s] * self.closes.get(s, math.nan) for s in syms]) / eq
        sectors: dict[str, float] = {}
        names = _sector_names(self.risk)
        for sym, x in zip(syms, w, strict=True):
            if np.isfinite(x) and x != 0.0:
                key = names.get(sym, "Other")
                sectors[key] = sectors.get(key, 0.0) + abs(float(x))
        out: dict[str, Any] = {
            "weight": dict(zip(syms, w.tolist(), strict=True)),
            "net": float(np.nansum(w)),
            "sectors": sectors,
            "beta": math.nan,
            "var": math.nan,
            "cvar": math.nan,
            "risk_share": {},
        }
        ctx = self.context
        if ctx is None or not eq > 0.0 or not np.isfinite(w).all():
            return out
        m = len(syms)
        cov, beta = np.empty((m, m)), np.empty(m)
        if window_estimates_nb(ctx, ctx.returns.shape[0] - 1, cov, beta):
            if self.risk.max_beta is not None:
                out["beta"] = float(w @ beta)
            level = float(self.risk.var_level)
            z = NormalDist().inv_cdf(level)
            cw = cov @ w
            variance = float(w @ cw)
            sigma = math.sqrt(max(variance, 0.0))
            out["var"] = z * sigma
            out["cvar"] = NormalDist().pdf(z) / (1.0 - level) * sigma  # Acerbi & Tasche 2002
            if variance > 0.0:
                out["risk_share"] = dict(zip(syms, (w * cw / variance).tolist(), strict=True))
        return out

    # -- the targets acted on: the only ways they change outside a decision --------------
    def exposure(self, signal: float) -> float:
        """The target exposure a signal asks for within the leverage limit (0 for none):
        what a decision acts on, as journaled and restored."""
        if math.isnan(signal):
            return 0.0
        lev = self.settings.max_leverage
        return float(min(max(signal, -lev), lev))

    def act_on(self, symbol: str, target: float) -> None:
        """``target`` is acted on (its order journaled, or nothing was left to trade): the
        next bar orders for ``symbol`` only when its target changes, as in the engine."""
        self.acted[symbol] = target

    def retry(self, symbol: str) -> None:
        """The order for ``symbol`` ended unfilled or was never sent (expired, cancelled,
        rejected, dropped, withheld): nothing is acted on, so the next bar decides it again,
        as the engine re-places an unfilled order at the next close."""
        self.acted[symbol] = math.nan

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
        day = calendar.trading_date(bar_time)
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
        self,
        signals: dict[str, float],
        working: Mapping[str, float] | None = None,
        context: RiskContext | None = None,
    ) -> list[Outcome]:
        """Targets -> orders for every symbol: the engine's close-of-bar step itself
        (:func:`toolkit.engine._step.plan_close_nb`), sells before buys, buys trimmed to the
        buying power at the decision close. Orders first, in the order to send them, then
        the symbols that need none.

        ``working``: signed shares per symbol of orders the broker is still working (live
        only): the order is sized against filled plus working, so a working order is never
        ordered a second time. ``context``: what the portfolio rules estimate from, the book's
        history up to this bar (:func:`toolkit.engine._risk_inputs.risk_context`; its last
        row is this bar), when they are set."""
        value = self.equity()
        syms = self.symbols
        raw = np.array([signals.get(sym, math.nan) for sym in syms], dtype=np.float64)
        self.signals.update(zip(syms, raw.tolist(), strict=True))
        w = working or {}
        pos = [self.positions[sym] for sym in syms]
        held = np.array([self.positions[sym] + w.get(sym, 0.0) for sym in syms])
        acted = np.array([self.acted[sym] for sym in syms], dtype=np.float64)
        closes = np.array([self.closes[sym] for sym in syms], dtype=np.float64)
        m = len(syms)
        plan = np.empty((m, PLAN_COLS))
        order = np.empty(m, dtype=np.int64)
        # the orders fill later, at the broker: the plan estimates their fills at this close
        # (on scratch state) only to trim buys to the buying power the engine would see
        self.context = context
        # the step reads the targets and closes of its last row
        rows = 1 if context is None else context.returns.shape[0]
        target = np.full((rows, m), math.nan)
        target[-1] = raw
        price = np.zeros((rows, m))
        price[-1] = closes
        n, _, _, _ = plan_close_nb(
            target, price, rows - 1, acted, held,
            np.ascontiguousarray(self.weights, dtype=np.float64), value, self.cash, 0.0,
            self.killed is not None or value <= 0.0, FILL_ESTIMATE,
            self.settings.kernel(self.risk), context, np.empty((m, STATE_COLS)),
            np.empty((m, TRADE_COLS)), 0, plan, order,
        )  # fmt: skip
        n = int(n)
        self.acted.update(zip(syms, acted.tolist(), strict=True))
        outcomes = [
            _outcome(syms[j], float(raw[j]), float(closes[j]), pos[j], plan[j]) for j in order[:n]
        ]
        sent = set(order[:n].tolist())
        return outcomes + [
            _outcome(sym, float(raw[j]), float(closes[j]), pos[j], plan[j])
            for j, sym in enumerate(syms)
            if j not in sent
        ]


def _outcome(symbol: str, signal: float, close: float, pos: float, row: np.ndarray) -> Outcome:
    """One symbol's row of the close-of-bar plan as the journal's decision: what the step
    decided and, from the guard bits, which rules trimmed or blocked it."""
    what = int(row[P_WHAT])
    if what == D_NONE:
        return Outcome(symbol, signal, close, pos, pos, Decision.NO_SIGNAL)
    if what == D_SAME:
        return Outcome(symbol, signal, close, pos, pos, Decision.UNCHANGED)
    # plan_close_nb writes the guard bits only for a decision (not for D_NONE / D_SAME rows)
    guards = tuple(guard_names(int(row[P_CODE])))
    want = float(row[P_WANT])
    if what == D_WAIT:
        wait = Decision.WAITING if guards else Decision.INSIDE_BAND
        return Outcome(symbol, signal, close, want, pos, wait, guards)
    if what == D_DONE:
        done = Decision.BLOCKED if guards else Decision.AT_TARGET
        return Outcome(symbol, signal, close, want, pos, done, guards)
    intent = Intent(symbol, float(row[P_QTY]), float(row[P_TGT]), close, guards)
    kind = Decision.ORDER_TRIMMED if guards else Decision.ORDER
    return Outcome(symbol, signal, close, want, pos, kind, guards, intent)


def book_fill(pos: float, avg: float, shares: float, price: float) -> tuple[float, float, float]:
    """:func:`toolkit.engine._step.avg_cost_nb` (the one average-cost booking) from Python:
    the new position, its average cost and the P&L realised by the part that reduced it."""
    new, new_avg, realized = avg_cost_nb(float(pos), float(avg), float(shares), float(price))
    return float(new), float(new_avg), float(realized)


@cache
def _shipped_sectors() -> dict[str, str]:
    from toolkit.data.reference import load_sector_map

    return load_sector_map()


def _sector_names(risk: RiskLimits) -> dict[str, str]:
    """Symbol -> sector name as the portfolio rules read it: ``[risk.sectors]``, else the
    shipped S&P 500 map (read once)."""
    if risk.sectors is not None:
        return dict(risk.sectors)
    try:
        return _shipped_sectors()
    except (OSError, ToolkitError):
        return {}  # a wheel without the data: no sector names on the dashboard
