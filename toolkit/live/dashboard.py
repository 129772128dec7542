"""The terminal dashboard of a live session (rich): connection, P&L, positions, working
orders and schedule parents with their progress, last signals, risk state and recent events,
and a footer with the keys that manage orders (:mod:`toolkit.live._keys`, executed through
:mod:`toolkit.live.commands`). :func:`render_text` gives the same screen as plain text,
which is how the tests check it.

Given the terminal's height, the panels collapse in priority order (header, halted symbols,
keys, working orders, schedules, positions, events, order book -- fewer levels first --, P&L,
risk, signals, portfolio rules) and
the footer names the hidden ones; the events panel keeps fills, guard events, rejections and
commands in view and shows only the newest of the routine per-bar signal lines.
"""

from __future__ import annotations

import asyncio
import io
import math
import time
from types import TracebackType
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from toolkit.live._book_panel import book_panel, fit_book
from toolkit.live._keys import KEYS_HELP, KeyPad, TerminalKeys, items
from toolkit.live.orders import short_ref
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


def _signed(x: float, text: str) -> Text:
    """``text`` green for a gain, red for a loss."""
    return Text(text, style="green" if x > 0 else "red" if x < 0 else "")


_LEFT = ("", "strategy", "symbol", "ref", "status", "order", "schedule", "side", "algo")
_STATUS_STYLE = {
    "Submitted": "yellow",
    "PreSubmitted": "yellow",
    "PendingSubmit": "yellow",
    "PendingCancel": "magenta",
    "working": "yellow",
    "paused": "magenta",
    "armed": "green",
}


def _table(title: str, columns: list[str], rows: list[list[str | Text]], empty: str) -> Table:
    t = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        expand=True,
        show_edge=False,
        pad_edge=False,
    )
    for c in columns:
        t.add_column(
            c, justify="left" if c in _LEFT else "right", no_wrap=True, overflow="ellipsis"
        )
    for r in rows:
        t.add_row(*r)
    if not rows:
        t.add_row(empty, *[""] * (len(columns) - 1))
    return t


def _state(text: str) -> Text:
    return Text(text, style=_STATUS_STYLE.get(text, "bold red" if text != "-" else ""))


def _event_style(line: str) -> str:
    if any(w in line for w in ("GUARD", "REJECTED", "WARNING", "HALTED", "rejected", "expired")):
        return "bold red"
    if "] fill " in line or line.startswith("fill "):
        return "green"
    if "command #" in line:
        return "cyan"
    if "] sent " in line or line.startswith("sent "):
        return "yellow"
    return ""


def _routine(line: str) -> bool:
    """A per-bar signal line (one per strategy per bar): shown only as the newest one."""
    return ": signals " in line


EVENTS_MIN = 4  # lines of events kept on a short terminal before P&L, risk and signals


def _shown_events(lines: list[str], room: int) -> list[str]:
    """The newest events that fit ``room`` lines: notable lines (fills, guards, rejections,
    orders, commands) are never pushed out by routine ones; only the newest routine line is
    kept, last."""
    notable = [x for x in lines if not _routine(x)]
    routine = [x for x in lines if _routine(x)][-1:]
    keep = max(room - len(routine), 1)
    return notable[-keep:] + routine


def _events(lines: list[str], room: int) -> Text:
    """The events panel's text (see :func:`_shown_events`), styled by kind."""
    shown = _shown_events(lines, room)
    if not shown:
        return Text("no events yet")
    out = Text(no_wrap=True, overflow="ellipsis")  # one screen line each: room is exact
    for i, line in enumerate(shown):
        out.append(line, style="dim" if _routine(line) else _event_style(line))
        if i < len(shown) - 1:
            out.append("\n")
    return out


def render(
    v: SessionView,
    width: int | None = None,
    height: int | None = None,
    pad: KeyPad | None = None,
) -> RenderableType:
    """The dashboard for one snapshot; with ``height`` (the terminal's), only the panels that
    fit, in priority order; with ``pad``, the selection and the keys' footer."""
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
                _signed(s["pnl"], _money(s["pnl"])),
                _signed(s["realized"], _money(s["realized"])),
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
                _signed(p["unrealized"], _money(p["unrealized"])),
                _share(p.get("weight", math.nan)),
                _share(p.get("risk_share", math.nan)),
            ]
            for p in v.positions
            if p["quantity"]
        ],
        "flat",
    )
    selected = None if pad is None else pad.selection(v)

    def mark(key: str) -> str:
        return "▶" if selected is not None and selected.key == key else " "

    orders = _table(
        "Working orders",
        ["", "ref", "side", "qty", "type", "limit", "status"],
        [
            [
                mark(o["ref"]),
                short_ref(o["ref"]),
                o["action"],
                f"{o['quantity']:,.0f}",
                o["type"],
                "-" if o.get("limit") is None else f"{o['limit']:,.2f}",
                _state(o["status"]),
            ]
            for o in v.orders
        ],
        "none",
    )
    parents = _table(
        "Schedules",
        ["", "schedule", "side", "algo", "filled", "progress", "status"],
        [
            [
                mark(p["id"]),
                short_ref(p["id"]),
                f"{p['action']} {p['symbol']}",
                p["algo"],
                f"{p['filled']:,.0f}/{p['quantity']:,.0f}",
                _bar(p["filled"] / p["quantity"] if p["quantity"] else 0.0),
                _state(p["status"]),
            ]
            for p in v.parents
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
                _state(str(r["kill_switch"])),
                _signed(r["drawdown"], f"{r['drawdown']:.2%}"),
                _signed(r["day_pnl"], _money(r["day_pnl"])),
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
    halted = None
    if v.halted:
        halted = Panel(
            Text("\n".join(f"{sym}: {why}" for sym, why in sorted(v.halted.items()))),
            title="HALTED: no new orders",
            title_align="left",
            style="bold red",
        )
    # (name, renderable), in display order; None: not shown at all
    sections: list[tuple[str, RenderableType | None]] = [
        ("header", head),
        ("halted", halted),
        ("P&L", pnl),
        ("positions", positions),
        ("book", book_panel(v.books) if v.books else None),  # [session] depth_levels
        ("orders", orders),
        ("schedules", parents if v.parents else None),
        ("signals", signals),
        ("risk", risk),
        ("portfolio", book if any(r.get("portfolio") for r in v.risk) else None),
    ]
    # what stays when the terminal is short: the events panel (fills, guards) comes right
    # after the orders and positions, with at least EVENTS_MIN lines
    priority = ["header", "halted", "orders", "schedules", "positions", "events", "book",
                "P&L", "risk", "signals", "portfolio"]  # fmt: skip
    shown = {name: r for name, r in sections if r is not None}
    hidden: list[str] = []
    events_room = 8
    if height is not None:
        console = Console(width=width or 80, file=io.StringIO(), color_system=None)
        opts = console.options.update(width=width or 80)
        # the footer: the keys and their prompt, or the line naming the hidden panels
        left = height - (2 if pad is not None else 1)
        wanted = min(EVENTS_MIN, max(len(_shown_events(v.events, EVENTS_MIN)), 1))
        for name in priority:
            if name == "events":
                left -= wanted + 2  # its lines and its border
                continue
            r = shown.get(name)
            if r is None:
                continue
            need = _height(console, opts, r)
            if need > left and name == "book":  # fewer levels before none
                r, need = fit_book(v.books, left, lambda x: _height(console, opts, x))
                shown[name] = r
            if need <= left:
                left -= need
            else:
                hidden.append(name)
                del shown[name]
        events_room = max(1, wanted + left)
    parts: list[RenderableType] = [shown[name] for name, _ in sections if name in shown]
    parts.append(Panel(_events(v.events, events_room), title="Events", title_align="left"))
    if pad is not None:
        keys, line = pad.footer()
        if hidden:
            line = line or f"hidden (small terminal): {', '.join(hidden)}"
        parts.append(Text(keys, style="reverse", no_wrap=True, overflow="ellipsis"))
        parts.append(Text(line, style="bold yellow" if pad.mode != "normal" else "",
                          no_wrap=True, overflow="ellipsis"))  # fmt: skip
    elif hidden:
        parts.append(Text(f"hidden (small terminal): {', '.join(hidden)}", style="dim"))
    return Group(*parts)


def _height(console: Console, opts: ConsoleOptions, r: RenderableType) -> int:
    return len(console.render_lines(r, opts, pad=False))


def _bar(share: float, cells: int = 10) -> Text:
    """A progress bar of ``cells`` characters for a share in [0, 1]."""
    share = min(max(share, 0.0), 1.0)
    full = round(share * cells)
    return Text("█" * full + "░" * (cells - full) + f" {share:4.0%}", style="cyan")


def render_text(
    v: SessionView, width: int = 140, height: int | None = None, pad: KeyPad | None = None
) -> str:
    """The dashboard as plain text (no colour codes)."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(render(v, width, height, pad))
    return console.export_text()


class Dashboard:
    """A live-updating dashboard on the terminal while the session runs; with ``keys`` (and a
    terminal on stdin) its keys manage orders through the session's command channel."""

    def __init__(self, keys: bool = False) -> None:
        self._keys = keys
        self._live = Live(Text("starting..."), refresh_per_second=4, screen=keys, auto_refresh=True)
        self._pad: KeyPad | None = None
        self._reader: TerminalKeys | None = None
        self._session: Any = None
        self._attached = False
        self._drawn = 0.0

    def __enter__(self) -> Dashboard:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.stop()
        self._live.__exit__(exc_type, exc, tb)

    def _attach(self, session: Any) -> None:
        """The keys, once the session's command desk exists (on the session's loop)."""
        desk = getattr(session, "command_desk", None)
        if desk is None:
            return
        self._attached = True
        pad = KeyPad(lambda a, t, x: int(desk.submit(a, t, x)), session.stop)
        desk.listeners.append(pad.outcome)
        self._reader = TerminalKeys(self._typed)
        if self._reader.start(asyncio.get_running_loop()):
            self._pad = pad

    def _typed(self, text: str) -> None:
        if self._pad is not None and self._session is not None:
            self._pad.feed(text, self._session.view())
            self._draw(self._session)

    def update(self, session: Any) -> None:
        self._session = session
        if self._keys and not self._attached:
            self._attach(session)
        if time.monotonic() - self._drawn >= 0.2:
            self._draw(session)

    def _draw(self, session: Any) -> None:
        self._drawn = time.monotonic()
        size = self._live.console.size
        self._live.update(render(session.view(), size.width, size.height, self._pad))


__all__ = ["KEYS_HELP", "Dashboard", "items", "render", "render_text"]
