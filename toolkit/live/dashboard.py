"""The terminal dashboard of a live session (rich): connection, P&L, positions, working
orders, last signals, risk state and recent events. :func:`render_text` gives the same
screen as plain text, which is how the tests check it."""

from __future__ import annotations

import io
import math
from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from toolkit.live.session_view import SessionView


def _money(x: float) -> str:
    return "-" if x != x else f"{x:,.2f}"


def _share(x: float) -> str:
    """A fraction of equity as a percentage ("-" when unknown)."""
    return "-" if x != x else f"{x:+.1%}"


def _top_sector(sectors: dict[str, float]) -> str:
    """The sector with the largest gross exposure, e.g. "Energy 42%" ("-" when flat)."""
    if not sectors:
        return "-"
    name = max(sectors, key=lambda k: sectors[k])
    return f"{name} {sectors[name]:.0%}"


def _table(title: str, columns: list[str], rows: list[list[str]], empty: str) -> Table:
    t = Table(title=title, title_justify="left", expand=True, show_edge=False, pad_edge=False)
    for c in columns:
        t.add_column(c, justify="left" if c in ("strategy", "symbol", "ref", "status") else "right")
    for r in rows:
        t.add_row(*r)
    if not rows:
        t.add_row(empty, *[""] * (len(columns) - 1))
    return t


def render(v: SessionView) -> RenderableType:
    """The dashboard for one snapshot."""
    state = (
        Text("CONNECTED", style="bold green")
        if v.connected
        else Text("DISCONNECTED - reconnecting", style="bold red")
    )
    clock = v.broker_time.strftime("%Y-%m-%d %H:%M:%S UTC") if v.broker_time is not None else "-"
    head = Text.assemble(
        ("ibkr-toolkit live  ", "bold"),
        f"session {v.session_id}  mode {v.mode.upper()}  account {v.account}  {v.endpoint}  ",
        state,
        f"  broker time {clock}",
    )
    pnl = _table(
        "P&L",
        ["strategy", "equity", "P&L", "realized", "commissions"],
        [
            [
                s["strategy"],
                _money(s["equity"]),
                _money(s["pnl"]),
                _money(s["realized"]),
                _money(s["commissions"]),
            ]
            for s in v.sleeves
        ],
        "no strategies",
    )
    positions = _table(
        "Positions",
        ["strategy", "symbol", "qty", "avg cost", "last", "unrealized", "weight", "risk"],
        [
            [
                p["strategy"],
                p["symbol"],
                f"{p['quantity']:+,.0f}",
                _money(p["avg_cost"]),
                _money(p["last"]),
                _money(p["unrealized"]),
                _share(p.get("weight", math.nan)),
                _share(p.get("risk_share", math.nan)),
            ]
            for p in v.positions
            if p["quantity"]
        ],
        "flat",
    )
    orders = _table(
        "Working orders",
        ["ref", "symbol", "side", "qty", "type", "status"],
        [
            [o["ref"], o["symbol"], o["action"], f"{o['quantity']:,.0f}", o["type"], o["status"]]
            for o in v.orders
        ],
        "none",
    )
    signals = _table(
        "Last signals",
        ["strategy", "symbol", "signal", "bar"],
        [
            [
                s["strategy"],
                s["symbol"],
                "-" if math.isnan(s["signal"]) else f"{s['signal']:+.2f}",
                "-" if s["bar"] is None else f"{s['bar']:%Y-%m-%d %H:%M}",
            ]
            for s in v.signals
        ],
        "no signal yet",
    )
    risk = _table(
        "Risk",
        ["strategy", "kill switch", "drawdown", "day P&L", "gross"],
        [
            [
                r["strategy"],
                str(r["kill_switch"]),
                f"{r['drawdown']:.2%}",
                _money(r["day_pnl"]),
                _money(r["gross"]),
            ]
            for r in v.risk
        ],
        "-",
    )
    # the book as the portfolio rules see it, for the strategies that set them
    book = _table(
        "Portfolio rules",
        ["strategy", "net", "beta", "VaR 1d", "CVaR 1d", "top sector"],
        [
            [
                r["strategy"],
                _share(r.get("net", math.nan)),
                "-" if math.isnan(r.get("beta", math.nan)) else f"{r['beta']:+.2f}",
                _share(r.get("var", math.nan)),
                _share(r.get("cvar", math.nan)),
                _top_sector(r.get("sectors", {})),
            ]
            for r in v.risk
            if r.get("portfolio")
        ],
        "-",
    )
    events = Text("\n".join(v.events[-8:]) or "no events yet")
    parts: list[RenderableType] = [Panel(head)]
    if v.halted:
        halted = Text("\n".join(f"{sym}: {why}" for sym, why in sorted(v.halted.items())))
        parts.append(
            Panel(halted, title="HALTED: no new orders", title_align="left", style="bold red")
        )
    return Group(
        *parts,
        pnl,
        positions,
        orders,
        signals,
        risk,
        *([book] if any(r.get("portfolio") for r in v.risk) else []),
        Panel(events, title="Events", title_align="left"),
    )


def render_text(v: SessionView, width: int = 140) -> str:
    """The dashboard as plain text (no colour codes)."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(render(v))
    return console.export_text()


class Dashboard:
    """A live-updating dashboard on the terminal while the session runs."""

    def __init__(self) -> None:
        self._live = Live(Text("starting..."), refresh_per_second=4, screen=False)

    def __enter__(self) -> Dashboard:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def update(self, session: Any) -> None:
        self._live.update(render(session.view()))
