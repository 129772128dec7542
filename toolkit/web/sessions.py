"""Live sessions as the web app shows them, read from their journals (``live/state/*.sqlite``).

The list reads each journal once with one query (no summary: a page of 100 sessions stays
fast); a session's page reads what ``python -m toolkit.live status`` and report notebook 12
read, through the same functions (:func:`toolkit.live.summary.summarize`,
:func:`toolkit.live.tca_history.order_history`), so the numbers are theirs. The list and the
live updates read through read-only connections; a journal an older toolkit wrote is first
brought to the current schema by opening it, as ``status`` does.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.errors import ToolkitError
from toolkit.live.commands import session_running
from toolkit.live.journal import SCHEMA_VERSION, Journal
from toolkit.live.summary import SessionSummary, summarize
from toolkit.live.tca_history import order_history


def find_journals(sources: Iterable[Path]) -> dict[str, Path]:
    """Journal files by a short name for URLs: each source is a journal file or a folder of
    ``*.sqlite`` files; the name is the file's stem, prefixed by its folder when two share it."""
    files: list[Path] = []
    for src in sources:
        if src.is_dir():
            files += sorted(p for p in src.glob("*.sqlite") if p.is_file())
        elif src.is_file():
            files.append(src)
    stems = [p.stem for p in files]
    out: dict[str, Path] = {}
    for p in files:
        name = p.stem if stems.count(p.stem) == 1 else f"{p.parent.name}-{p.stem}"
        out.setdefault(name, p.resolve())
    return out


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a journal (WAL: it sees what the session committed)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    db.row_factory = sqlite3.Row
    try:
        if int(db.execute("PRAGMA user_version").fetchone()[0]) < SCHEMA_VERSION:
            db.close()
            Journal(path).close()  # migrates an older journal, as every toolkit command does
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
            db.row_factory = sqlite3.Row
        yield db
    finally:
        db.close()


@dataclass(frozen=True)
class SessionRow:
    """One line of the session list."""

    journal: str  # the journal's short name (find_journals)
    session_id: str
    mode: str
    account: str
    started: str
    ended: str | None
    running: bool
    capital: float
    orders: int
    fills: int
    guards: int
    equity: float | None  # the latest per-strategy marks summed (journal table equity)

    @property
    def state(self) -> str:
        if self.running:
            return "running"
        return "stopped (not ended)" if self.ended is None else "ended"


_LIST_SQL = (
    "SELECT session_id, mode, account, started_at, ended_at, config_json FROM sessions",
    "SELECT session_id, COUNT(*) FROM orders GROUP BY session_id",
    "SELECT o.session_id, COUNT(*) FROM fills f JOIN orders o ON o.order_ref = f.order_ref "
    "GROUP BY o.session_id",
    "SELECT session_id, COUNT(*) FROM guard_events GROUP BY session_id",
    # each strategy's latest mark, summed per session
    "SELECT session_id, SUM(net_liquidation) FROM equity WHERE snapshot_id IN ("
    "SELECT MAX(snapshot_id) FROM equity WHERE strategy IS NOT NULL "
    "GROUP BY session_id, strategy) GROUP BY session_id",
)


def _stamp(path: Path) -> tuple[tuple[int, int], ...]:
    """What changes whenever a journal does: its file's and its WAL's size and mtime."""
    out = []
    for p in (path, Path(f"{path}-wal")):
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append((0, 0))
    return tuple(out)


class SessionIndex:
    """The session list, each journal's part read again only when the journal changed (a
    finished journal is read once); whether a session runs is looked up every time."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, Path], tuple[tuple[tuple[int, int], ...], list[SessionRow]]]
        self._parts = {}

    def rows(self, journals: dict[str, Path]) -> list[SessionRow]:
        rows: list[SessionRow] = []
        for name, path in journals.items():
            stamp = _stamp(path)
            cached = self._parts.get((name, path))
            if cached is None or cached[0] != stamp:
                cached = (stamp, _journal_rows(name, path))
                self._parts[(name, path)] = cached
            for r in cached[1]:
                running = r.ended is None and session_running(path, r.session_id)
                rows.append(r if running == r.running else replace(r, running=running))
        rows.sort(key=lambda r: r.started, reverse=True)
        return rows


def list_sessions(journals: dict[str, Path]) -> list[SessionRow]:
    """Every session of every journal, newest first."""
    return SessionIndex().rows(journals)


def _journal_rows(name: str, path: Path) -> list[SessionRow]:
    rows: list[SessionRow] = []
    try:  # one scan of each table per journal, not one query per session
        with read_only(path) as db:
            found, *counts = [db.execute(sql).fetchall() for sql in _LIST_SQL]
    except sqlite3.Error:
        return rows  # not a journal (yet): an empty file a session is about to create
    orders, fills, guards, equity = ({r[0]: r[1] for r in c} for c in counts)
    for r in found:
        sid = str(r["session_id"])
        capital = json.loads(r["config_json"]).get("capital", {})
        rows.append(
            SessionRow(
                journal=name,
                session_id=sid,
                mode=str(r["mode"]),
                account=str(r["account"]),
                started=str(r["started_at"]),
                ended=r["ended_at"],
                running=r["ended_at"] is None and session_running(path, sid),
                capital=float(sum(capital.values()) or 0.0),
                orders=int(orders.get(sid, 0)),
                fills=int(fills.get(sid, 0)),
                guards=int(guards.get(sid, 0)),
                equity=None if equity.get(sid) is None else float(equity[sid]),
            )
        )
    return rows


_VERSION_SQL = """
SELECT (SELECT COUNT(*) FROM decisions WHERE session_id = :sid),
  (SELECT MAX(event_id) FROM order_events),
  (SELECT MAX(rowid) FROM fills),
  (SELECT MAX(snapshot_id) FROM equity WHERE session_id = :sid),
  (SELECT COUNT(*) FROM guard_events WHERE session_id = :sid),
  (SELECT MAX(rowid) || ':' || COUNT(*) || ':' || MAX(IFNULL(done_at, ''))
     FROM commands WHERE session_id = :sid),
  (SELECT ended_at FROM sessions WHERE session_id = :sid)
"""


def version(path: Path, session_id: str) -> str:
    """A cheap fingerprint of what a session journaled: it changes when anything shown does
    (a decision, an order event, a fill, an equity mark, a guard event, a command, the end)."""
    with read_only(path) as db:
        row = db.execute(_VERSION_SQL, {"sid": session_id}).fetchone()
    return "|".join("" if v is None else str(v) for v in row) + (
        "|run" if session_running(path, session_id) else ""
    )


@dataclass(frozen=True)
class SessionPage:
    """What a session's page shows; every table is a list of plain rows."""

    journal: str
    path: Path
    summary: SessionSummary
    running: bool
    strategies: list[str]
    positions: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    fill_line: str  # report 12's sentence on the fills' slippage against the signal price
    orders: pd.DataFrame  # order_history: parent orders with their TCA
    guards: list[dict[str, Any]]
    commands: list[dict[str, Any]]
    equity_rows: list[dict[str, Any]]
    version: str
    notes: list[str] = field(default_factory=list)


class SessionNotFound(ToolkitError):
    """A journal or session the URL names is not there."""


def check_session(path: Path, session_id: str) -> None:
    """Raise :class:`SessionNotFound` unless the journal at ``path`` has ``session_id``."""
    try:
        with read_only(path) as db:
            found = db.execute(
                "SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
    except sqlite3.Error as exc:
        raise SessionNotFound(f"{path}: not a readable journal ({exc})") from None
    if found is None:
        raise SessionNotFound(f"{path}: no session {session_id!r}")


def session_page(journals: dict[str, Path], journal: str, session_id: str) -> SessionPage:
    """Everything the session's page shows, read in one go (the version first, so an update
    journaled while reading is announced again, never lost)."""
    path = journals.get(journal)
    if path is None:
        raise SessionNotFound(f"no journal {journal!r}; journals: {', '.join(journals) or 'none'}")
    check_session(path, session_id)
    ver = version(path, session_id)
    with Journal(path) as j:  # the Journal API the CLI and notebook 12 use
        summary = summarize(j, session_id)
        notes: list[str] = []
        if summary.tca_error is None:
            orders = order_history(j, session_id)
        else:
            orders = pd.DataFrame()
            notes.append(f"TCA not available: {summary.tca_error}")
        fills = j.session_fills(session_id)
        guards = j.rows("guard_events", session_id)
        commands = j.rows("commands", session_id)
        equity_rows = j.rows("equity", session_id)
        config = json.loads(
            next(s for s in j.sessions() if s["session_id"] == session_id)["config_json"]
        )
    positions = [
        {
            "symbol": sym,
            "quantity": q,
            "mark": summary.marks.get(sym, math.nan),
            "value": q * summary.marks.get(sym, math.nan),
        }
        for sym, q in sorted(summary.positions.items())
    ]
    with_slippage, line = fills_against_signal(fills)
    return SessionPage(
        journal=journal,
        path=path,
        summary=summary,
        running=summary.running and session_running(path, session_id),
        strategies=sorted(config.get("capital", {})),
        positions=positions,
        fills=with_slippage,
        fill_line=line,
        orders=orders,
        guards=guards,
        commands=commands,
        equity_rows=equity_rows,
        version=ver,
        notes=notes,
    )


def fills_against_signal(fills: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Each fill's slippage against its decision's signal price (bp and currency, > 0 a cost)
    and report notebook 12's one-line summary of them, computed as it computes them."""
    if not fills:
        return [], "no fills in this session"
    frame = pd.DataFrame(fills)
    side = np.where(frame["side"] == "BOT", 1.0, -1.0)
    signal = pd.to_numeric(frame["signal_price"], errors="coerce")
    frame["slippage_bps"] = side * (frame["price"] / signal - 1.0) * 1e4
    frame["slippage_usd"] = side * (frame["price"] - signal) * frame["shares"]
    line = (
        f"{len(frame)} fills; slippage against the signal price: "
        f"median {frame['slippage_bps'].median():+.1f} bp, total "
        f"{frame['slippage_usd'].sum():,.2f} USD (> 0 is a cost); commissions "
        f"{frame['commission'].sum():,.2f} USD"
    )
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")], line
