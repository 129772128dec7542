"""Option backtests on end-of-day chains (issue 16 item 5): the option driver.

One day of the driver, at the close of each quote date (EOD data: decisions and fills at the
same close, like the engine's ``fill="close"``; the quotes are the close's bid/ask):

1. **Exits**: an open spread whose cost to close (at the mid) reached the take-profit or
   stop-loss level is closed, each leg at the touch (``fill="touch"``: buy at the ask, sell
   at the bid -- the default) or at the mid (``fill="mid"``, optimistic).
2. **Expiry**: legs expiring today settle through the engine's one expiry rule
   (:mod:`toolkit.engine._expiry`; a leg whose expiry has no quote date in the file settles
   at the next quote date's close -- a gap in the data): cash-settled index options (style
   'E': SPX/SPXW) at intrinsic value against the underlying's close that day -- the PM
   settlement of SPXW; AM-settled SPX monthlies would need the opening quotation, which an
   EOD file does not hold -- and physically settled American options (style 'A') by OCC's
   exercise by exception (>= USD 0.01 in the money), a short leg assigned into an
   underlying position.
   Before expiry, an American leg is exercised (a short one assigned) when the core's
   :func:`toolkit.engine._expiry.early_exercise_nb` says a holder should: a call ahead of
   an ex-date whose dividend beats its time value, a put with no time value left.
3. **Entry**: when no spread is open, the rule builds one (:mod:`toolkit.options.templates`)
   on the expiry nearest ``days`` (at least ``min_days`` away, one spread per expiry), and
   the option rules of ``settings.risk`` judge it before it fills -- the live session's
   rulebook, :func:`toolkit.risk.options.allowed_spreads` (one rulebook, two drivers): the
   spread's exact max loss at its fill prices (:func:`toolkit.options.payoff.summarize`),
   its Greeks and the book's from our pricer at this close (:func:`_greeks`), the book's
   positions. A trimmed entry fills fewer spreads; a blocked one waits for the next day;
   each rule that fired is a row of ``result.guards``. Exits, expiries and hedge trades only
   take risk off and are never held back (the live session's exits are not judged either).
4. **Hedge** (delta-hedged rules): the underlying is traded to bring the book's delta to 0
   with our own Greeks at the close. For SPX the hedge is the index itself at its close --
   a proxy: the tradable hedges are SPY (about 1/10 of the index per share) or ES futures
   (50 x the index); no financing cost is charged on it.
5. **Mark**: options at the mid (settled legs at their settlement value), the underlying at
   its close; equity = cash + both.

Fills are booked by the engine's average-cost booking with the contract multiplier and
charged IBKR's option commissions (toolkit.engine.commissions); see
:mod:`toolkit.options._book`. Each day is attributed (:mod:`toolkit.options.attribution`).

Where no quotes exist (years of SPY covered calls), :func:`model_priced_quotes` prices a
chain with BSM on the real underlying path with VIX/100 as volatility; such a run is
**MODEL-PRICED**, and its result, summary and CLI output say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from toolkit import metrics
from toolkit.engine._expiry import AUTO_EXERCISE_THRESHOLD, early_exercise_nb, intrinsic_nb
from toolkit.engine.commissions import (
    Commission,
    OptionCommission,
    ibkr_option_fixed,
    no_costs,
)
from toolkit.errors import DataError
from toolkit.options import templates as tpl
from toolkit.options._book import OptionBook, expiry_of
from toolkit.options.attribution import (
    ATTRIBUTION_COLUMNS,
    GREEK_COLUMNS,
    REVALUATION_COLUMNS,
    LegGreeks,
    forward_of,
    implied_vol_of,
    leg_greeks,
    revaluation_terms,
    taylor_terms,
)
from toolkit.options.payoff import summarize
from toolkit.options.templates import Leg, Spread
from toolkit.risk import RiskLimits
from toolkit.risk.options import (
    OPTION_RULES,
    BookGreeks,
    OptionRiskLimits,
    OptionRuleFiring,
    SpreadRisk,
    allowed_spreads,
)
from toolkit.risk.rules import kill_switch

Fill = Literal["touch", "mid"]
# Where a delta strike rule reads deltas: "auto" the quote file's (the vendor's; our model's
# from the row's iv where the file has none: toolkit.options.templates), "ours" our BSM at
# each contract's own mid-implied vol and the day's parity forward -- what the gateway
# simulator serves the live session as modelGreeks (see StrikeRule).
DeltaSource = Literal["auto", "ours"]
MODEL_PRICED = "MODEL-PRICED"
# Underlyings that are indexes: a hedge "in the underlying" is a proxy for SPY/ES (or the like).
INDEXES = frozenset({"SPX", "SPXW", "XSP", "NDX", "RUT", "VIX", "DJX"})
# One row per option rule that trimmed or blocked an entry (result.guards).
GUARD_COLUMNS = ("date", "rule", "detail", "wanted", "allowed", "value", "limit", "spread")


@dataclass(frozen=True)
class OptionSettings:
    """How the driver trades: cash, fills, costs, exercise threshold.

    ``hedge_commission`` prices the underlying's trades (default none: the SPX index proxy
    has no commission schedule; use ``ibkr_fixed()`` for SPY shares). ``risk``: the option
    rules every entry is judged by before it fills (:mod:`toolkit.risk.options`, the live
    session's rulebook; all off by default). ``daily_loss`` / ``max_drawdown``: the live
    session's kill switch (the stock rulebook's :func:`toolkit.risk.rules.kill_switch`,
    fractions of the day's starting equity -- the last close's -- and of the peak close),
    checked at each close: when it fires the open spread is closed at the touch (shares
    held too) and no other is opened."""

    init_cash: float = 100_000.0
    fill: Fill = "touch"
    commission: OptionCommission = field(default_factory=ibkr_option_fixed)
    hedge_commission: Commission = field(default_factory=no_costs)
    auto_exercise: float = AUTO_EXERCISE_THRESHOLD
    periods_per_year: float = 252.0
    risk: OptionRiskLimits = field(default_factory=OptionRiskLimits)
    daily_loss: float | None = None
    max_drawdown: float | None = None


@dataclass(frozen=True)
class StrikeRule:
    """A short strike by |delta| (``delta``) or by distance from the spot in index points
    (``points``, the listed strike nearest spot -/+ points for a put/call).

    ``delta_source``: ``"auto"`` reads the quote file's delta column (iVolatility's on the
    SPXW file); ``"ours"`` our Black-Scholes-Merton delta at each contract's own
    mid-implied vol with the expiry's put-call-parity forward and discount factor -- the
    live session's source (it reads ``modelGreeks``, which the gateway simulator computes
    from the mid with our pricer; the gateway fits its carry with
    :func:`toolkit.options.implied.chain_carry`, this driver with
    :func:`toolkit.options.attribution.forward_of`: both put-call parity on the day's
    two-sided pairs, so the deltas agree to a few 1e-4, not to the bit)."""

    delta: float | None = None
    points: float | None = None
    delta_source: DeltaSource = "auto"

    def pick(self, chain: pd.DataFrame, right: str) -> tpl.Pick:
        if (self.delta is None) == (self.points is None):
            raise ValueError("a strike rule needs exactly one of delta or points")
        if self.delta is not None:
            return tpl.by_delta(self.delta)
        assert self.points is not None
        spot = tpl.spot_of(chain)
        target = spot - self.points if right == "P" else spot + self.points
        strikes = chain.loc[chain["right"] == right, "strike"].to_numpy(dtype=np.float64)
        return tpl.at_strike(float(strikes[np.argmin(np.abs(strikes - target))]))


@dataclass(frozen=True)
class CreditSpread:
    """A short iron condor (``kind="iron_condor"``) or put credit spread (``"put_credit"``):
    short strikes by the rule, wings ``width`` points further out. Exits: ``take_profit`` x
    credit captured (close when the mid cost to close <= (1 - tp) x credit), ``stop_loss`` x
    credit lost (close when it is >= (1 + sl) x credit); None holds to expiry."""

    kind: Literal["iron_condor", "put_credit"] = "iron_condor"
    days: int = 30
    min_days: int = 7
    max_days: int | None = None
    short: StrikeRule = StrikeRule(delta=0.16)
    width: float = 50.0
    quantity: int = 1
    take_profit: float | None = 0.5
    stop_loss: float | None = 2.0
    hedge: bool = False

    def build(self, chain: pd.DataFrame, expiry_days: int, fill: Fill) -> Spread:
        if self.kind == "put_credit":
            return tpl.vertical(
                chain, "P", days=expiry_days, near=self.short.pick(chain, "P"),
                width=self.width, direction="credit", quantity=self.quantity, fill=fill,
            )  # fmt: skip
        return tpl.iron_condor(
            chain, days=expiry_days, short_put=self.short.pick(chain, "P"),
            short_call=self.short.pick(chain, "C"), width=self.width, direction="short",
            quantity=self.quantity, fill=fill,
        )  # fmt: skip


@dataclass(frozen=True)
class ShortStraddle:
    """A short at-the-money straddle held to expiry, delta-hedged at every close with the
    underlying when ``hedge``: in multiples of ``hedge_lot`` units (1: whole index units;
    for SPX, 0.1 is about one SPY share, 50 one ES future), re-hedged when the hedge is more
    than ``hedge_band`` units off."""

    days: int = 30
    min_days: int = 7
    max_days: int | None = None
    quantity: int = 1
    hedge: bool = True
    hedge_band: float = 0.0
    hedge_lot: float = 1.0
    take_profit: float | None = None
    stop_loss: float | None = None

    def build(self, chain: pd.DataFrame, expiry_days: int, fill: Fill) -> Spread:
        return tpl.straddle(
            chain, days=expiry_days, direction="short", quantity=self.quantity, fill=fill
        )


@dataclass(frozen=True)
class CoveredCall:
    """Hold ``quantity`` x multiplier shares and sell one ``call_delta`` call per 100 each
    cycle; an assigned call delivers the shares, bought back at the next entry."""

    days: int = 30
    min_days: int = 7
    max_days: int | None = None
    call_delta: float = 0.30
    quantity: int = 1
    hedge: bool = False
    take_profit: float | None = None
    stop_loss: float | None = None

    def build(self, chain: pd.DataFrame, expiry_days: int, fill: Fill) -> Spread:
        return tpl.covered_call(
            chain, days=expiry_days, call=tpl.by_delta(self.call_delta),
            quantity=self.quantity, fill=fill,
        )  # fmt: skip


Rule = CreditSpread | ShortStraddle | CoveredCall


@dataclass(frozen=True)
class OptionBacktestResult:
    """A finished option backtest. ``pricing`` says where the option prices came from:
    ``"quotes"`` (real bid/ask) or ``MODEL-PRICED`` with how (then every table and the
    summary carry the label). ``attribution``: the day's P&L by Greek (its columns add up
    to ``total``); ``revaluation``: the options held overnight by full BSM revaluation
    against the Greeks' expansion (:func:`toolkit.options.attribution.revaluation_terms`:
    the residual split into ``higher_order`` and ``unexplained``)."""

    equity: pd.Series
    daily: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    attribution: pd.DataFrame
    metrics: dict[str, float]
    pricing: str
    settings: OptionSettings
    rule: Rule
    underlying: str = ""
    revaluation: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(REVALUATION_COLUMNS))
    )
    guards: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(GUARD_COLUMNS)))

    @property
    def model_priced(self) -> bool:
        return self.pricing.startswith(MODEL_PRICED)

    def summary(self) -> str:
        m = self.metrics
        att = self.attribution.sum()
        lines = [
            f"pricing: {self.pricing}",
            f"days {len(self.equity)}  spreads {len(self.trades)}  fills {len(self.fills)}",
            f"P&L {m['pnl']:,.2f} USD  return {m['total_return']:.2%}  "
            f"max drawdown {m['max_drawdown']:.2%} ({m['max_drawdown_usd']:,.2f} USD)  "
            f"Sharpe {m['sharpe']:.2f}",
            f"commissions {m['commissions']:,.2f} USD  spreads won {m['win_rate']:.0%}  "
            f"average spread P&L {m['average_spread_pnl']:,.2f} USD",
            "attribution (USD): " + "  ".join(f"{c} {att[c]:,.2f}" for c in ATTRIBUTION_COLUMNS),
        ]
        if len(self.revaluation):
            rv = self.revaluation.sum()
            lines.append(
                f"residual {att['residual']:,.2f} = higher order {rv['higher_order']:,.2f} "
                f"(full BSM revaluation {rv['full_reval']:,.2f} - Greeks {rv['greeks']:,.2f})"
                f" + unexplained {rv['unexplained']:,.2f} (marks vs model)"
            )
        if len(self.guards):
            counts = self.guards["rule"].value_counts()
            rules = self.guards[self.guards["rule"].isin(OPTION_RULES)]
            days = rules.groupby("date")["allowed"].min()
            lines.append(
                "risk guards: "
                + ", ".join(f"{r} x{n}" for r, n in counts.items())
                + f" (entries trimmed on {int((days > 0).sum())} day(s), blocked on "
                + f"{int((days == 0).sum())})"
            )
        if self.rule.hedge:
            lines.insert(2, f"delta hedge: {self.underlying} traded at each close"
                         + (" -- the index itself, a PROXY (SPY shares or ES futures are the "
                            "tradable hedges)" if self.underlying in INDEXES else ""))  # fmt: skip
        if self.model_priced:
            lines.insert(0, f"*** {MODEL_PRICED}: option prices come from a model, not quotes ***")
        return "\n".join(lines)


def _years(expiry: pd.Timestamp, day: pd.Timestamp) -> float:
    """Time to a PM expiry from a close, ACT/365 (both at the close)."""
    return float((expiry - day).days) / 365.0


def _mid(bid: float, ask: float) -> float:
    if np.isfinite(bid) and np.isfinite(ask) and ask > 0 and 0 <= bid <= ask:
        return (bid + ask) / 2.0
    return float("nan")


class _Day:
    """One quote date's chain, indexed for the driver's lookups."""

    def __init__(self, day: pd.Timestamp, chain: pd.DataFrame) -> None:
        self.day = day
        self.chain = chain
        self.spot = tpl.spot_of(chain)
        self._bid = chain["bid"].to_numpy(dtype=np.float64)
        self._ask = chain["ask"].to_numpy(dtype=np.float64)
        self._strike = chain["strike"].to_numpy(dtype=np.float64)
        self._call = chain["right"].to_numpy() == "C"
        self._expiry = chain["expiry"].to_numpy()
        symbols = chain["symbol"].astype(str).tolist()
        self._row = {sym: i for i, sym in enumerate(symbols)}
        self._contract = {
            (e, k, c): sym
            for sym, e, k, c in zip(
                symbols,
                self._expiry.astype("datetime64[ns]").astype(np.int64).tolist(),
                self._strike.tolist(),
                self._call.tolist(),
                strict=True,
            )
        }
        self._fwd: dict[pd.Timestamp, tuple[float, float]] = {}

    def quote(self, key: str) -> tuple[float, float] | None:
        """(bid, ask) of a contract when it is quoted today with an ask and a bid that
        does not cross it (a zero bid is a quote: nobody bids for a worthless wing); None
        otherwise -- the vendor's file has rows of 0/0 on 2018-02-05, for instance."""
        i = self._row.get(key)
        if i is None:
            return None
        bid, ask = float(self._bid[i]), float(self._ask[i])
        if np.isfinite(_mid(bid, ask)):
            return bid, ask
        return None

    def partner(self, leg: Leg) -> float | None:
        """The mid of the other right at ``leg``'s strike and expiry, when quoted."""
        e = expiry_of(leg).to_datetime64().astype("datetime64[ns]").astype(np.int64)
        sym = self._contract.get((int(e), float(leg.strike), leg.right != "C"))
        other = None if sym is None else self.quote(sym)
        return None if other is None else _mid(*other)

    def parity_mid(self, leg: Leg) -> float:
        """The mid of ``leg`` from its same-strike partner through put-call parity
        (C - P = DF (F - K), with the forward and discount factor of its expiry); NaN when
        the partner has no quote or the expiry no parity fit."""
        other = self.partner(leg)
        fwd, df = self.forward(expiry_of(leg))
        if other is None or not np.isfinite(fwd):
            return float("nan")
        carry = df * (fwd - leg.strike)
        value = other + (-carry if leg.right == "P" else carry)
        return value if value >= 0 else float("nan")

    def forward(self, expiry: pd.Timestamp) -> tuple[float, float]:
        if expiry not in self._fwd:
            m = self._expiry.astype("datetime64[ns]") == expiry.to_datetime64()
            self._fwd[expiry] = forward_of(self._strike[m], self._call[m], self._bid[m],
                                           self._ask[m])  # fmt: skip
        return self._fwd[expiry]


def _mark(d: _Day, leg: Leg, last: float) -> float:
    """A leg's mark per share: its settlement value on or after expiry, else the mid; with
    no quote today, the mid its same-strike partner implies through parity, else the last
    mark."""
    expiry = expiry_of(leg)
    if d.day >= expiry:
        return float(intrinsic_nb(leg.right == "C", leg.strike, d.spot))
    q = d.quote(OptionBook.key(leg))
    m = _mid(*q) if q is not None else d.parity_mid(leg)
    return m if np.isfinite(m) else last


def _touch(d: _Day, leg: Leg, contracts: float, fill: Fill) -> float:
    """What an order of ``contracts`` fills at: the ask to buy, the bid to sell, or the mid;
    NaN when the contract has no quote today (nothing trades against a missing quote)."""
    q = d.quote(OptionBook.key(leg))
    if q is None:
        return float("nan")
    if fill == "mid":
        return _mid(*q)
    return q[1] if contracts > 0 else q[0]


def backtest_options(
    quotes: pd.DataFrame,
    rule: Rule,
    settings: OptionSettings | None = None,
    *,
    dividends: pd.Series | None = None,
) -> OptionBacktestResult:
    """Run ``rule`` over every quote date of ``quotes`` (the canonical frame of
    :func:`toolkit.data.options.load_option_quotes`, one underlying).

    ``dividends``: cash per unit of the underlying by ex-date (e.g.
    :func:`implied_cash_dividends`); the underlying held into an ex-date is credited (a short
    position pays) on that date. None: no dividends (right for the SPX index proxy, a price
    index). No margin or financing is modelled: cash may go below zero (a hedge bought with
    the index proxy stands for a futures hedge, which needs none)."""
    s = settings or OptionSettings()
    paid: dict[pd.Timestamp, float] = {}
    if dividends is not None:
        idx = pd.DatetimeIndex(dividends.index).tz_localize(None).normalize()
        paid = dict(zip(idx, dividends.to_numpy(dtype=np.float64).tolist(), strict=True))
    if quotes.empty:
        raise DataError("option backtest: the quote frame is empty")
    names = quotes["underlying"].unique()
    if len(names) != 1:
        raise DataError(f"option backtest: quotes hold {len(names)} underlyings; pass one")
    name = str(names[0])
    pricing = str(quotes.attrs.get("pricing", "quotes"))
    book = OptionBook(s.init_cash, s.commission, s.hedge_commission)
    spread: Spread | None = None
    spread_id = ""
    entry: dict[str, Any] = {}
    traded: set[pd.Timestamp] = set()
    trades: list[dict[str, Any]] = []
    marks: dict[str, float] = {}
    greeks: dict[str, LegGreeks] = {}
    daily_rows: list[dict[str, float]] = []
    att_rows: list[dict[str, float]] = []
    reval_rows: list[dict[str, float]] = []
    guard_rows: list[dict[str, Any]] = []
    kill = RiskLimits(daily_loss=s.daily_loss, max_drawdown=s.max_drawdown).vector()
    killed: str | None = None
    peak = s.init_cash
    prev: _Day | None = None
    prev_equity = s.init_cash
    dates = [pd.Timestamp(x) for x in sorted(quotes["quote_date"].unique())]
    for i, (day, chain) in enumerate(quotes.groupby("quote_date", sort=True)):
        d = _Day(pd.Timestamp(str(day)), chain)
        n_fills = len(book.fills)
        fees_before = book.fees_paid
        att = {c: 0.0 for c in ATTRIBUTION_COLUMNS}
        reval = {c: 0.0 for c in REVALUATION_COLUMNS}
        # overnight: what the book held at the last close, marked today, attributed
        if prev is not None:
            dt = (d.day - prev.day).days / 365.0
            d_spot = d.spot - prev.spot
            for k, h in book.holdings.items():
                m1 = _mark(d, h.leg, marks[k])
                units = h.position * h.leg.multiplier
                g0 = greeks[k]
                g1 = _greeks(d, h.leg, m1, g0.iv)
                dv = g1.iv - g0.iv if np.isfinite(g1.iv) and np.isfinite(g0.iv) else 0.0
                d_rate = g1.rate - g0.rate
                d_yield = g1.dividend_yield - g0.dividend_yield
                terms = taylor_terms(units, g0, d_spot, dt, dv, d_rate, d_yield)
                pnl = units * (m1 - marks[k])
                for c, x in zip(GREEK_COLUMNS, terms, strict=True):
                    att[c] += x
                att["residual"] += pnl - sum(terms)
                for c, x in zip(
                    REVALUATION_COLUMNS,
                    revaluation_terms(units, g0, g1, sum(terms), pnl),
                    strict=True,
                ):
                    reval[c] += x
                marks[k] = m1
            att["underlying"] = book.underlying * d_spot
            cash_div = paid.get(d.day, 0.0)
            if cash_div and book.underlying:
                att["underlying"] += book.dividend(d.day, name, cash_div)
        # 0. the kill switch on the equity at today's marks (once; then flat for good)
        if killed is None and (s.daily_loss is not None or s.max_drawdown is not None):
            value = (
                book.cash
                + book.underlying * d.spot
                + sum(h.position * h.leg.multiplier * marks[k] for k, h in book.holdings.items())
            )
            peak = max(peak, value)
            killed = kill_switch(value, peak, prev_equity, kill)
            if killed is not None:
                limit = s.daily_loss if killed == "daily_loss" else s.max_drawdown
                guard_rows.append({
                    "date": d.day, "rule": killed, "wanted": 0, "allowed": 0, "value": value,
                    "limit": math.nan if limit is None else limit,
                    "spread": "" if spread is None else spread.with_quantity(1).describe(),
                    "detail": f"equity {value:,.2f}, peak {peak:,.2f}, day start "
                              f"{prev_equity:,.2f}; closing at the touch, no new spreads",
                })  # fmt: skip
        # 1. exits on the open spread
        if spread is not None and (
            rule.take_profit is not None or rule.stop_loss is not None or killed is not None
        ):
            credit = -float(entry["net"])  # per spread, > 0 for a credit
            close_cost = (
                sum(
                    leg.quantity * marks.get(OptionBook.key(leg), 0.0)
                    for leg in spread.legs
                    if leg.is_option
                )
                * -1.0
            )  # what buying the position back costs per spread, at the mid
            reason = ""
            if (
                credit > 0
                and rule.take_profit is not None
                and close_cost <= (1.0 - rule.take_profit) * credit
            ):
                reason = "take_profit"
            if (
                credit > 0
                and rule.stop_loss is not None
                and close_cost >= (1.0 + rule.stop_loss) * credit
            ):
                reason = "stop_loss"
            if killed is not None:
                reason = "kill_switch"
            held = [(leg, OptionBook.key(leg)) for leg in spread.legs
                    if leg.is_option and OptionBook.key(leg) in book.holdings]  # fmt: skip
            orders = [(leg, k, -book.holdings[k].position) for leg, k in held]
            prices = [_touch(d, leg, qty, s.fill) for leg, _, qty in orders]
            # a spread closes as one combo: with a leg unquoted today, or a touch beyond what
            # the spread can be worth at expiry, it waits for tomorrow
            if (
                reason
                and all(np.isfinite(prices))
                and any(pd.Timestamp(x) > d.day for x in spread.expiries)
                and _within_bounds(spread, orders, prices)
            ):
                for (leg, _, qty), px in zip(orders, prices, strict=True):
                    book.trade_option(d.day, leg, qty, px, reason, spread_id)
                if killed is not None and book.underlying and not rule.hedge:
                    book.trade_underlying(d.day, name, -book.underlying, d.spot, reason)
                trades.append(_trade_row(entry, d.day, reason))
                spread = None
        # 2. early exercise of American legs (the dividend going ex at the next quote date
        # is known: ex-dates are declared weeks ahead), then expiry
        early = False
        next_div = paid.get(dates[i + 1], 0.0) if i + 1 < len(dates) else 0.0
        for k, h in list(book.holdings.items()):
            leg = h.leg
            if (
                leg.style == "A"
                and expiry_of(leg) > d.day
                and early_exercise_nb(
                    leg.right == "C", leg.strike, d.spot, marks[k], next_div, s.auto_exercise
                )
            ):
                book.settle(d.day, k, d.spot, True, s.auto_exercise, spread_id, early=True)
                marks.pop(k, None)
                greeks.pop(k, None)
                early = True
        for k in [k for k, h in book.holdings.items() if expiry_of(h.leg) <= d.day]:
            h = book.holdings[k]
            book.settle(d.day, k, d.spot, h.leg.style == "A", s.auto_exercise, spread_id)
            marks.pop(k, None)
            greeks.pop(k, None)
        if spread is not None and not any(
            OptionBook.key(leg) in book.holdings for leg in spread.legs if leg.is_option
        ):
            trades.append(_trade_row(entry, d.day, "early_exercise" if early else "expiry"))
            spread = None
        # 3. entry
        if spread is None and killed is None:
            new = _enter(d, rule, s.fill, traded)
            if new is not None:
                new = _judge(d, new, s.risk, book, marks, greeks, guard_rows)
            if new is not None:
                spread = new
                spread_id = f"{d.day.date()} {spread.name}"
                traded.update(pd.Timestamp(x) for x in spread.expiries)
                fees = 0.0
                for leg in spread.legs:
                    qty = leg.quantity * spread.quantity
                    if leg.is_option:
                        assert leg.price is not None
                        fees += book.trade_option(d.day, leg, qty, leg.price, "open", spread_id)
                        marks[OptionBook.key(leg)] = _mark(d, leg, leg.price)
                    else:  # a share leg: top the underlying up to what the spread holds
                        fees += book.trade_underlying(d.day, name, qty - book.underlying,
                                                      d.spot, "open")  # fmt: skip
                entry = {"id": spread_id, "opened": d.day, "net": spread.net_price or 0.0,
                         "quantity": spread.quantity, "multiplier": spread.multiplier,
                         "fills_from": n_fills, "max_loss": _max_loss(spread)}  # fmt: skip
        # Greeks at this close for what is held now (tomorrow's start-of-day Greeks)
        for k, h in book.holdings.items():
            marks[k] = _mark(d, h.leg, marks.get(k, 0.0))
            old_iv = greeks[k].iv if k in greeks else math.nan
            greeks[k] = _greeks(d, h.leg, marks[k], old_iv)
        # 4. hedge
        if rule.hedge:
            book_delta = sum(
                h.position * h.leg.multiplier * _finite(greeks[k].delta)
                for k, h in book.holdings.items()
            )
            lot = getattr(rule, "hedge_lot", 1.0)
            target = float(np.round(-book_delta / lot)) * lot
            band = getattr(rule, "hedge_band", 0.0)
            if abs(target - book.underlying) > band or (not book.holdings and book.underlying):
                book.trade_underlying(d.day, name, target - book.underlying, d.spot, "hedge")
        # 5. mark
        opt_value = sum(h.position * h.leg.multiplier * marks[k] for k, h in book.holdings.items())
        und_value = book.underlying * d.spot
        equity = book.cash + opt_value + und_value
        fees_today = book.fees_paid - fees_before
        total = equity - prev_equity
        att["commissions"] = -fees_today
        overnight = sum(att[c] for c in (*GREEK_COLUMNS, "residual", "underlying"))
        att["trading"] = total - overnight - att["commissions"]
        att["total"] = total
        att_rows.append(att)
        reval_rows.append(reval)
        daily_rows.append({
            "spot": d.spot, "cash": book.cash, "options": opt_value, "underlying_units":
            book.underlying, "underlying_value": und_value, "equity": equity,
            "delta": _book_greek(book, greeks, "delta") + book.underlying,
            "gamma": _book_greek(book, greeks, "gamma"),
            "theta": _book_greek(book, greeks, "theta"),
            "vega": _book_greek(book, greeks, "vega"),
            "vanna": _book_greek(book, greeks, "vanna"),
            "volga": _book_greek(book, greeks, "volga"),
        })  # fmt: skip
        prev, prev_equity = d, equity
    if spread is not None:
        trades.append(_trade_row(entry, None, "open"))
    index = pd.DatetimeIndex(sorted(quotes["quote_date"].unique()), name="date")
    daily = pd.DataFrame(daily_rows, index=index)
    attribution = pd.DataFrame(att_rows, index=index, columns=list(ATTRIBUTION_COLUMNS))
    revaluation = pd.DataFrame(reval_rows, index=index, columns=list(REVALUATION_COLUMNS))
    fills = book.fills_frame()
    trade_frame = _trades(trades, fills)
    equity_s = daily["equity"].rename("equity")
    result_metrics = _metrics(equity_s, s, fills, trade_frame)
    if pricing.startswith(MODEL_PRICED):
        for frame in (daily, fills, trade_frame, attribution, revaluation):
            frame.attrs["pricing"] = pricing
        equity_s.attrs["pricing"] = pricing
    guards = pd.DataFrame(guard_rows, columns=list(GUARD_COLUMNS))
    return OptionBacktestResult(
        equity_s, daily, fills, trade_frame, attribution, result_metrics, pricing, s, rule, name,
        revaluation, guards,
    )  # fmt: skip


def _finite(x: float) -> float:
    return x if np.isfinite(x) else 0.0


def _book_greek(book: OptionBook, greeks: dict[str, LegGreeks], name: str) -> float:
    """The book's Greek in USD per unit of its variable (contracts x multiplier x Greek)."""
    return float(sum(
        h.position * h.leg.multiplier * _finite(getattr(greeks[k], name))
        for k, h in book.holdings.items()
    ))  # fmt: skip


def _greeks(d: _Day, leg: Leg, mark: float, last_iv: float) -> LegGreeks:
    """A held leg's Greeks at this close. The vol is the strike's out-of-the-money side's
    (the usual choice: an in-the-money option's mid is mostly intrinsic, and an EOD mid can
    sit below the forward intrinsic), else the leg's own mark's, else yesterday's."""
    expiry = expiry_of(leg)
    years = _years(expiry, d.day)
    if years <= 0:
        return leg_greeks(leg.right, leg.strike, mark, d.spot, 0.0, math.nan, math.nan, math.nan)
    fwd, df = d.forward(expiry)
    iv = math.nan
    if np.isfinite(fwd):
        otm_right = "P" if leg.strike < fwd else "C"
        if otm_right != leg.right:
            partner = d.partner(leg)
            if partner is not None:
                iv = implied_vol_of(otm_right, leg.strike, partner, years, fwd, df)
        if not np.isfinite(iv):
            iv = implied_vol_of(leg.right, leg.strike, mark, years, fwd, df)
    if not np.isfinite(iv):
        iv = last_iv
    return leg_greeks(leg.right, leg.strike, mark, d.spot, years, fwd, df, iv)


def _enter(d: _Day, rule: Rule, fill: Fill, traded: set[pd.Timestamp]) -> Spread | None:
    """The rule's new spread today, or None (no expiry in [min_days, max_days] that was not
    traded). The expiry nearest ``days`` (the earlier on a tie), as the live plan's
    :func:`toolkit.live._option_plan.expiries_by_preference` with dte_min, dte_max and
    dte_target."""
    expiries = pd.DatetimeIndex(d.chain["expiry"].unique()).sort_values()
    top = rule.max_days if rule.max_days is not None else math.inf
    ok = [e for e in expiries
          if rule.min_days <= (e - d.day).days <= top and e not in traded]  # fmt: skip
    if not ok:
        return None
    gaps = [abs((e - d.day).days - rule.days) for e in ok]
    target = ok[int(np.argmin(gaps))]
    chain = d.chain[d.chain["expiry"] == target]
    chain = chain[[d.quote(str(k)) is not None for k in chain["symbol"]]]
    if isinstance(rule, CreditSpread) and rule.short.delta_source == "ours":
        chain = chain.assign(delta=_our_deltas(d, chain))
    try:  # only quoted contracts are candidates; a strike rule that finds none waits a day
        return rule.build(chain, (target - d.day).days, fill)
    except tpl.SpreadError:
        return None


def _our_deltas(d: _Day, chain: pd.DataFrame) -> np.ndarray:
    """Each contract's BSM delta at its own mid's implied vol, with its expiry's parity
    forward and discount factor (:class:`StrikeRule` ``delta_source="ours"``); NaN where
    the mid does not invert."""
    out = np.full(len(chain), np.nan)
    rows = zip(chain["expiry"], chain["right"], chain["strike"], chain["bid"], chain["ask"],
               strict=True)  # fmt: skip
    for i, (e, right, k, bid, ask) in enumerate(rows):
        expiry = pd.Timestamp(e)
        years = _years(expiry, d.day)
        fwd, df = d.forward(expiry)
        mid = _mid(float(bid), float(ask))
        iv = implied_vol_of(str(right), float(k), mid, years, fwd, df)
        if np.isfinite(iv):
            g = leg_greeks(str(right), float(k), mid, d.spot, years, fwd, df, iv)
            out[i] = g.delta
    return out


def _within_bounds(
    spread: Spread, orders: list[tuple[Leg, str, float]], prices: list[float]
) -> bool:
    """Whether closing the position at ``prices`` takes in (pays out) no more than the least
    it can be worth at expiry: its exact payoff's minimum,
    :func:`toolkit.options.payoff.summarize`. The live session keeps a combo's limit inside
    the same bounds (``toolkit.live._option_plan.Spread.limit``): in a fast market the legs'
    touch can put a 25-point put spread's buy-back above 25 points, which no trader pays
    for a spread that can never cost more at expiry (nor does a combo order at the bound
    fill against that touch). Spreads holding shares, or with a leg gone, are not bounded."""
    if any(not leg.is_option for leg in spread.legs) or len(orders) != len(spread.legs):
        return True
    worst = summarize(spread.with_quantity(1), 0.0).max_loss * spread.quantity
    proceeds = -sum(
        qty * px * leg.multiplier for (leg, _, qty), px in zip(orders, prices, strict=True)
    )
    return math.isinf(worst) or proceeds >= worst - 1e-9


def _judge(
    d: _Day,
    spread: Spread,
    limits: OptionRiskLimits,
    book: OptionBook,
    marks: dict[str, float],
    greeks: dict[str, LegGreeks],
    rows: list[dict[str, Any]],
) -> Spread | None:
    """``spread`` as the option rules let it fill today: whole, trimmed to fewer spreads,
    or None (blocked); each rule that fired is appended to ``rows`` (result.guards).

    The same call as the live session's (:func:`toolkit.risk.options.allowed_spreads`),
    with the same inputs in the same units: the max loss of one spread at its fill prices
    (what the live session computes at its limit price), and Greeks in position units --
    delta in share equivalents (a share leg or a held underlying counts 1 a unit), vega in
    USD per vol point, theta in USD per calendar day -- from our BSM at this close's implied
    vols (the live session reads them from the gateway's option computation ticks, which
    our own pricer fills). A Greek with no implied vol counts 0, as in the book's Greeks."""
    if all(v is None for v in (limits.max_loss_per_spread, limits.max_short_delta,
                                limits.max_short_vega, limits.max_contracts)):  # fmt: skip
        return spread
    ids: dict[str, int] = {}

    def key(k: str) -> int:
        return ids.setdefault(k, len(ids))

    def units(leg: Leg, g: LegGreeks, n: float) -> BookGreeks:
        m = n * leg.multiplier
        return BookGreeks(m * _finite(g.delta), m * _finite(g.gamma),
                          m * _finite(g.vega) / 100.0, m * _finite(g.theta) / 365.0)  # fmt: skip

    held = BookGreeks(delta=book.underlying)
    positions: dict[int, float] = {}
    for k, h in book.holdings.items():
        old = greeks[k].iv if k in greeks else math.nan
        held = held + units(h.leg, _greeks(d, h.leg, marks.get(k, 0.0), old), h.position)
        positions[key(k)] = h.position
    one = BookGreeks()
    legs: list[tuple[int, float]] = []
    for leg in spread.legs:
        if leg.is_option:
            assert leg.price is not None
            g = _greeks(d, leg, _mark(d, leg, leg.price), math.nan)
            one = one + units(leg, g, float(leg.quantity))
            legs.append((key(OptionBook.key(leg)), float(leg.quantity)))
        else:
            one = one + BookGreeks(delta=float(leg.quantity))
    risk = SpreadRisk(_loss_per_spread(spread), one, tuple(legs))
    n, fired = allowed_spreads(limits, risk, spread.quantity, held, positions)
    rows.extend(_guard_row(d.day, f, spread, n) for f in fired)
    if n <= 0:
        return None
    return spread if n == spread.quantity else spread.with_quantity(n)


def _guard_row(day: pd.Timestamp, f: OptionRuleFiring, spread: Spread, n: int) -> dict[str, Any]:
    what = "trimmed to " + str(n) if n > 0 else "blocked"
    return {"date": day, "rule": f.rule, "detail": f"{f.detail}; {what}",
            "wanted": spread.quantity, "allowed": n, "value": f.value, "limit": f.limit,
            "spread": spread.with_quantity(1).describe()}  # fmt: skip


def _loss_per_spread(spread: Spread) -> float:
    """The exact worst loss of ONE spread held to expiry at its fill prices, USD (>= 0;
    inf when unbounded), as the option rules take it (the live session's
    ``spread_max_loss``): the payoff's minimum over its kinks and the slope past the last
    strike (:func:`toolkit.options.payoff.summarize`), share legs included."""
    worst = summarize(spread.with_quantity(1)).max_loss
    return math.inf if math.isinf(worst) else max(-worst, 0.0)


def _trade_row(entry: dict[str, Any], closed: pd.Timestamp | None, why: str) -> dict[str, Any]:
    return {**entry, "closed": closed, "exit": why}


def _max_loss(spread: Spread) -> float:
    """The option position's worst loss held to expiry at its entry fills, USD (negative;
    -inf when unbounded, as a short straddle's; NaN for spreads holding shares, whose P&L
    here is their options' only), from toolkit.options.payoff."""
    if any(not leg.is_option for leg in spread.legs):
        return float("nan")
    return summarize(spread).max_loss


def _trades(rows: list[dict[str, Any]], fills: pd.DataFrame) -> pd.DataFrame:
    """One row per spread: dates, entry net price (per spread, debit > 0), how it ended, its
    option cash flows (premium in and out, settlement) and fees, and P&L (open: NaN); the
    most it could lose held to expiry (``max_loss``, USD) and P&L / |max loss|
    (``return_on_risk``, NaN when the loss is unbounded)."""
    out = []
    for r in rows:
        f = fills[(fills["spread"] == r["id"]) & (fills["right"] != "S")]
        flows = float(f["cash_flow"].sum())
        fees = float(f["fee"].sum())
        pnl = flows if r["exit"] != "open" else float("nan")
        risk = float(r["max_loss"])
        out.append({
            "spread": r["id"], "opened": r["opened"], "closed": r["closed"], "exit": r["exit"],
            "net_price": r["net"], "quantity": r["quantity"], "fees": fees, "pnl": pnl,
            "max_loss": risk,
            "return_on_risk": pnl / -risk if np.isfinite(risk) and risk < 0 else float("nan"),
        })  # fmt: skip
    return pd.DataFrame(out, columns=["spread", "opened", "closed", "exit", "net_price",
                                      "quantity", "fees", "pnl", "max_loss",
                                      "return_on_risk"])  # fmt: skip


def _metrics(
    equity: pd.Series, s: OptionSettings, fills: pd.DataFrame, trades: pd.DataFrame
) -> dict[str, float]:
    """Headline numbers through toolkit.metrics (returns of the daily equity; win rate and
    average P&L of the closed spreads, their option cash flows net of fees)."""
    closed = trades["pnl"].dropna().to_numpy(dtype=np.float64)
    values = np.concatenate([[s.init_cash], equity.to_numpy(dtype=np.float64)])
    rets = values[1:] / values[:-1] - 1.0
    peak = np.maximum.accumulate(values)
    return {
        "pnl": float(values[-1] - s.init_cash),
        "total_return": metrics.total_return(rets),
        "max_drawdown": metrics.max_drawdown(rets),
        "max_drawdown_usd": float(np.max(peak - values)),
        "sharpe": metrics.sharpe(rets, s.periods_per_year),
        "commissions": float(fills["fee"].sum()) if len(fills) else 0.0,
        "win_rate": metrics.win_rate(closed),
        "average_spread_pnl": metrics.average_trade_pnl(closed),
    }


def implied_cash_dividends(
    close: pd.Series, adj_close: pd.Series, min_cash: float = 0.01
) -> pd.Series:
    """Cash dividends per share by ex-date implied by a raw and a total-return close:
    ``D_t = close_{t-1} x adj_t / adj_{t-1} - close_t`` (the total return's excess over the
    price return); amounts below ``min_cash`` (rounding of the adjusted series) and above a
    fifth of the price (a split, not a dividend) are dropped."""
    c = close.astype(np.float64)
    a = adj_close.astype(np.float64).reindex(c.index)
    d = c.shift(1) * a / a.shift(1) - c
    keep = (d >= min_cash) & (d <= 0.2 * c.shift(1))
    return d[keep].rename("dividend")


def third_fridays(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Standard monthly expiries (the third Friday) of the months from ``start`` to ``end``."""
    months = pd.date_range(start.to_period("M").to_timestamp(), end, freq="MS")
    return pd.DatetimeIndex([m + pd.offsets.WeekOfMonth(week=2, weekday=4) for m in months])


def model_priced_quotes(
    closes: pd.Series,
    vol: pd.Series,
    *,
    underlying: str = "SPY",
    rate: float = 0.0,
    dividend: float = 0.0,
    strike_step: float = 1.0,
    strike_width: float = 0.15,
    expiries_ahead: int = 2,
    half_spread: float = 0.0,
) -> pd.DataFrame:
    """A **MODEL-PRICED** option chain in the canonical quote frame, for histories no quote
    file covers: on each date of ``closes`` (the real underlying path, unadjusted), monthly
    expiries (third Friday; the trading day before when it is a holiday) and strikes every
    ``strike_step`` within ``strike_width`` of the close, priced with BSM
    (:func:`toolkit.options.black.bsm_price`) at volatility ``vol`` (e.g. VIX/100 -- the
    30-day S&P 500 implied vol, a proxy for SPY's whole smile: no skew, no term structure),
    flat ``rate`` and ``dividend`` yield. Labelled American style, physically settled, but
    priced as European: a deep in-the-money call's European mark can sit below intrinsic, and
    the driver's early-exercise rule (toolkit.engine._expiry) then exercises or assigns it --
    the covered-call config's early exits come from that, not from an American model.
    bid = price - ``half_spread`` (>= 0), ask = price + ``half_spread``.
    ``frame.attrs["pricing"]`` carries the MODEL-PRICED label, which the backtest result,
    its summary and the CLI repeat."""
    from toolkit.options.black import bsm_greeks

    px = closes.astype(np.float64).dropna()
    px.index = pd.DatetimeIndex(px.index).tz_localize(None).normalize()
    sig = vol.astype(np.float64)
    sig.index = pd.DatetimeIndex(sig.index).tz_localize(None).normalize()
    sig = sig.reindex(px.index)
    if sig.isna().any():
        missing = sig.index[sig.isna()][0].date()
        raise DataError(f"model pricing: no volatility on {missing} (a trading day of the path)")
    days = px.index
    raw = third_fridays(days[0], days[-1] + pd.Timedelta(days=40 * expiries_ahead))
    pos = np.searchsorted(days.to_numpy(), raw.to_numpy(), side="right") - 1
    expiries = pd.DatetimeIndex(
        [days[i] if i >= 0 and raw[k] <= days[-1] and days[i] > raw[k] - pd.Timedelta(days=4)
         else raw[k] for k, i in enumerate(pos)]
    )  # fmt: skip
    parts = []
    for day, spot, s in zip(days, px.to_numpy(), sig.to_numpy(), strict=True):
        ahead = expiries[expiries >= day][:expiries_ahead]
        lo = np.ceil(spot * (1 - strike_width) / strike_step) * strike_step
        strikes = np.arange(lo, spot * (1 + strike_width) + 1e-9, strike_step)
        e, right, k = np.meshgrid(ahead.to_numpy(), np.array(["C", "P"]), strikes, indexing="ij")
        parts.append(pd.DataFrame({
            "quote_date": day, "underlying_price": spot, "expiry": e.ravel(),
            "right": right.ravel(), "strike": k.ravel(), "iv": s,
        }))  # fmt: skip
    q = pd.concat(parts, ignore_index=True)
    years = (q["expiry"] - q["quote_date"]).dt.days.to_numpy(dtype=np.float64) / 365.0
    spot_a = q["underlying_price"].to_numpy()
    strike_a = q["strike"].to_numpy()
    right_a = q["right"].to_numpy()
    g = bsm_greeks(right_a, spot_a, strike_a, np.maximum(years, 1e-9), rate, dividend,
                   q["iv"].to_numpy())  # fmt: skip
    intrinsic = np.where(right_a == "C", np.maximum(spot_a - strike_a, 0.0),
                         np.maximum(strike_a - spot_a, 0.0))  # fmt: skip
    price = np.where(years > 0, np.asarray(g.price), intrinsic)
    q["bid"] = np.maximum(price - half_spread, 0.0)
    q["ask"] = price + half_spread
    q["last"] = price
    q["volume"] = np.nan
    q["open_interest"] = np.nan
    q["delta"] = np.asarray(g.delta)
    q["gamma"] = np.asarray(g.gamma)
    q["theta"] = np.asarray(g.theta)
    q["vega"] = np.asarray(g.vega)
    q["underlying"] = underlying
    q["style"] = "A"
    q["multiplier"] = 100.0
    q["symbol"] = (
        underlying + " " + q["expiry"].dt.strftime("%y%m%d") + q["right"]
        + (q["strike"] * 1000).round().astype(np.int64).astype(str).str.zfill(8)
    )  # fmt: skip
    q.attrs["pricing"] = (
        f"{MODEL_PRICED} (BSM at VIX/100 on real {underlying} closes, r={rate:g}, "
        f"q={dividend:g}, half-spread {half_spread:g})"
    )
    return q
