"""A snapshot of a live session for the dashboard and notebooks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from toolkit.live._book_panel import BookView
    from toolkit.live.journal import JournalOrder
    from toolkit.live.sleeve import Sleeve


@dataclass
class SessionView:
    """A snapshot of the session for the dashboard and notebooks."""

    session_id: str
    mode: str
    account: str
    endpoint: str
    connected: bool
    broker_time: pd.Timestamp | None
    sleeves: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    risk: list[dict[str, Any]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    halted: dict[str, str] = field(default_factory=dict)  # symbol -> why (position mismatch)
    parents: list[dict[str, Any]] = field(default_factory=list)  # schedule parents, progress
    books: list[BookView] = field(default_factory=list)  # depth, when subscribed (_book_panel)


def parent_rows(parents: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The schedule parents (:class:`toolkit.live._parent.ParentOrder`) as dashboard rows."""
    rows = []
    for pid, p in parents.items():
        filled, total = p.progress
        rows.append(
            {
                "id": pid,
                "symbol": p.symbol,
                "action": p.action,
                "algo": p.algo,
                "filled": float(filled),
                "quantity": float(total),
                "status": p.status,
                "working": len(p.working_refs()),
            }
        )
    return rows


def add_books(
    view: SessionView,
    sleeves: Mapping[str, Sleeve],
    last_decided: Mapping[str, pd.Timestamp],
    open_orders: list[JournalOrder],
) -> SessionView:
    """Fill ``view`` with each strategy's book, signals and risk and the working orders."""
    for label, s in sleeves.items():
        eq = s.equity()
        book = s.book_risk()
        view.sleeves.append(
            {
                "strategy": label,
                "equity": eq,
                "pnl": eq - s.capital,
                "realized": s.realized,
                "commissions": s.commissions,
            }
        )
        for sym, q in s.positions.items():
            view.positions.append(
                {
                    "strategy": label,
                    "symbol": sym,
                    "quantity": q,
                    "avg_cost": s.avg_cost[sym],
                    "last": s.closes.get(sym, math.nan),
                    "unrealized": q * (s.closes.get(sym, s.avg_cost[sym]) - s.avg_cost[sym]),
                    "weight": book["weight"].get(sym, math.nan),
                    "risk_share": book["risk_share"].get(sym, math.nan),
                }
            )
            view.signals.append(
                {
                    "strategy": label,
                    "symbol": sym,
                    "signal": s.signals.get(sym, math.nan),
                    "bar": last_decided.get(label),
                }
            )
        view.risk.append(
            {
                "strategy": label,
                "kill_switch": s.killed or "armed",
                "drawdown": eq / s.peak - 1.0 if s.peak else 0.0,
                "day_pnl": eq - s.day_start,
                "gross": s.gross(),
                "portfolio": s.risk.portfolio,
                "net": book["net"],
                "beta": book["beta"],
                "var": book["var"],
                "cvar": book["cvar"],
                "sectors": book["sectors"],
            }
        )
    for jo in open_orders:
        view.orders.append(
            {
                "ref": jo.order_ref,
                "symbol": jo.symbol,
                "action": jo.action,
                "quantity": jo.quantity,
                "type": jo.order_type,
                "status": jo.status,
                "limit": jo.limit_price,
                "order_id": jo.broker_order_id,
            }
        )
    return view
