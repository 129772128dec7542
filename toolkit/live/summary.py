"""A live session's results from its journal alone: P&L, round trips, win rate, costs and
slippage against the signal price. Used by the shutdown report, ``status`` and notebooks."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toolkit.engine import _step as step
from toolkit.errors import DataError
from toolkit.live.journal import Journal, JournalError
from toolkit.live.sleeve import book_fill
from toolkit.live.tca_history import TcaTotals, format_totals, session_tca
from toolkit.risk.rules import KILL_NAMES


@dataclass(frozen=True)
class SessionSummary:
    """What a session did, computed from journaled fills and decisions."""

    session_id: str
    mode: str
    account: str
    started: str
    ended: str | None
    capital: float
    realized: float
    unrealized: float
    commissions: float
    trades: pd.DataFrame
    fills: int
    orders: int
    working_orders: int
    slippage: float
    positions: dict[str, float] = field(default_factory=dict)
    guards: int = 0
    kill_switch: str | None = None
    marks: dict[str, float] = field(default_factory=dict)  # what open positions are marked at
    tca: TcaTotals | None = None  # the parent orders' costs, reconciled with the P&L
    tca_error: str | None = None  # why there is no TCA (a journal it cannot read)

    @property
    def pnl(self) -> float:
        """Net P&L: realized plus unrealized, after commissions."""
        return self.realized + self.unrealized - self.commissions

    @property
    def win_rate(self) -> float:
        return float((self.trades["pnl"] > 0).mean()) if len(self.trades) else float("nan")

    @property
    def avg_trade(self) -> float:
        return float(self.trades["pnl"].mean()) if len(self.trades) else float("nan")

    @property
    def running(self) -> bool:
        return self.ended is None


def round_trips(fills: list[dict[str, Any]]) -> pd.DataFrame:
    """Round trips per (strategy, symbol) from fills in time order, booked by the engine's
    own trade booking (:func:`toolkit.engine._step.book_fill_nb`): a trade closes when the
    position returns to zero (a flip closes one and opens the next); its P&L is net of the
    commissions of every fill in it."""
    cols = [
        "strategy",
        "symbol",
        "direction",
        "entry_time",
        "exit_time",
        "quantity",
        "entry_price",
        "exit_price",
        "pnl",
        "commission",
    ]
    keys: dict[tuple[str, str], int] = {}
    for f in fills:
        keys.setdefault((str(f.get("strategy") or ""), str(f["symbol"])), len(keys))
    state = np.zeros((len(keys), step.STATE_COLS))
    pos = np.zeros(len(keys))
    trades = np.empty((len(fills), step.TRADE_COLS))  # a fill closes at most one trade
    n = 0
    for i, f in enumerate(fills):
        k = keys[(str(f.get("strategy") or ""), str(f["symbol"]))]
        qty = float(f["shares"]) * (1.0 if f["side"] == "BOT" else -1.0)
        fee = float(f["commission"] or 0.0)
        # the engine's booking: the fill's index stands for its bar
        new, n = step.book_fill_nb(
            state[k], float(pos[k]), qty, float(f["price"]), fee, i, k, trades, n
        )
        pos[k] = new
    names = list(keys)
    rows = [
        {
            "strategy": names[int(t[step.T_SYM])][0],
            "symbol": names[int(t[step.T_SYM])][1],
            "direction": "long" if t[step.T_DIR] > 0 else "short",
            "entry_time": fills[int(t[step.T_ENTRY_BAR])]["ts"],
            "exit_time": fills[int(t[step.T_EXIT_BAR])]["ts"],
            "quantity": float(t[step.T_QTY]),
            "entry_price": float(t[step.T_ENTRY_PX]),
            "exit_price": float(t[step.T_EXIT_PX]),
            "pnl": float(t[step.T_PNL]),
            "commission": float(t[step.T_COMM]),
        }
        for t in trades[: int(n)]
    ]
    return pd.DataFrame(rows, columns=cols)


def summarize(
    journal: Journal, session_id: str | None = None, marks: dict[str, float] | None = None
) -> SessionSummary:
    """Summary of ``session_id`` (default: the newest session). Open positions are marked at
    ``marks`` or else at the last decision price the session saw for the symbol."""
    sessions = journal.sessions()
    if not sessions:
        raise JournalError(f"{journal.path}: no sessions recorded yet.")
    if session_id is None:
        row = sessions[0]
    else:
        match = [s for s in sessions if s["session_id"] == session_id]
        if not match:
            known = ", ".join(s["session_id"] for s in sessions[:10])
            raise JournalError(f"{journal.path}: no session {session_id!r}; recent: {known}.")
        row = match[0]
    sid = str(row["session_id"])
    config = json.loads(row["config_json"])
    capital = float(sum(config.get("capital", {}).values()) or 0.0)
    fills = _per_contract(journal.session_fills(sid), journal.rows("combo_legs", sid))
    last_price: dict[str, float] = {}
    for d in journal.rows("decisions", sid):
        last_price[d["symbol"]] = float(d["price"])
    last_price.update(marks or {})
    positions: dict[str, float] = defaultdict(float)
    avg: dict[str, float] = defaultdict(float)
    realized = commissions = slippage = 0.0
    for f in fills:
        q = float(f["shares"]) * (1.0 if f["side"] == "BOT" else -1.0)
        price = float(f["price"])
        commissions += float(f["commission"] or 0.0)
        if f["signal_price"] is not None:
            slippage += (price - float(f["signal_price"])) * q  # > 0: paid more than signalled
        sym = f["symbol"]
        positions[sym], avg[sym], booked = book_fill(positions[sym], avg[sym], q, price)
        realized += booked
    unrealized = sum(q * (last_price.get(s, avg[s]) - avg[s]) for s, q in positions.items() if q)
    guards = journal.rows("guard_events", sid)
    kills = [g for g in guards if g["guard"] in KILL_NAMES.values()]
    tca, tca_error = None, None
    try:  # the P&L stands without the TCA: a journal TCA cannot read is said, not fatal
        tca = session_tca(journal, sid, last_price, realized + unrealized - commissions)
    except DataError as exc:
        tca_error = str(exc)
    return SessionSummary(
        session_id=sid,
        mode=str(row["mode"]),
        account=str(row["account"]),
        started=str(row["started_at"]),
        ended=row["ended_at"],
        capital=capital,
        realized=realized,
        unrealized=unrealized,
        commissions=commissions,
        trades=round_trips(fills),
        fills=len(fills),
        orders=len(journal.rows("orders", sid)),
        working_orders=len(journal.open_orders(sid)),
        slippage=slippage,
        positions={s: q for s, q in positions.items() if q},
        guards=len(guards),
        kill_switch=kills[0]["guard"] if kills else None,
        marks=last_price,
        tca=tca,
        tca_error=tca_error,
    )


def _per_contract(fills: list[dict[str, Any]], legs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An option leg's fills priced per contract (premium x multiplier), so positions count
    contracts and every P&L is in dollars; no slippage against a signal price (a combo's
    decision price is its net price, not the leg's)."""
    mult = {(x["order_ref"], x["symbol"]): float(x["multiplier"]) for x in legs}
    out = []
    for f in fills:
        m = mult.get((f["order_ref"], f["symbol"]))
        out.append(f if m is None else {**f, "price": float(f["price"]) * m, "signal_price": None})
    return out


def format_summary(s: SessionSummary) -> str:
    """The session summary as plain text (printed at shutdown and by ``status``)."""
    state = "running" if s.running else f"ended {s.ended}"
    lines = [
        f"Session {s.session_id} ({s.mode}, account {s.account}) -- started {s.started}, {state}",
        f"  capital          {s.capital:>14,.2f}",
        f"  net P&L          {s.pnl:>14,.2f}"
        + (f"  ({s.pnl / s.capital:+.2%})" if s.capital else ""),
        f"    realized       {s.realized:>14,.2f}",
        f"    unrealized     {s.unrealized:>14,.2f}",
        f"    commissions    {s.commissions:>14,.2f}",
        f"  round trips      {len(s.trades):>14d}",
        f"  win rate         {_pct(s.win_rate):>14}",
        f"  avg P&L / trade  {_num(s.avg_trade):>14}",
        f"  slippage vs signal price {s.slippage:>6,.2f} (cost > 0)",
        f"  orders {s.orders}, fills {s.fills}, working {s.working_orders}, "
        f"guard events {s.guards}",
    ]
    if s.tca is not None:
        lines += format_totals(s.tca)
    if s.tca_error:
        lines.append(f"  TCA not available: {s.tca_error}")
    if s.kill_switch:
        lines.append(f"  KILL SWITCH fired: {s.kill_switch}")
    if s.positions:
        held = ", ".join(f"{sym} {q:+,.0f}" for sym, q in sorted(s.positions.items()))
        lines.append(f"  open positions: {held}")
    return "\n".join(lines)


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:.1%}"


def _num(x: float) -> str:
    return "n/a" if x != x else f"{x:,.2f}"
