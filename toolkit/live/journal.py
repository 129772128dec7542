"""SQLite journal of a live or paper session: the record that survives kill -9.

Every decision, order, status change, fill, commission, position and equity snapshot is one
row, written in its own transaction (or a caller's :meth:`Journal.transaction`) with
``synchronous=FULL`` in WAL mode, so a row the caller saw committed is on disk when the
process dies. Orders are keyed by the ``orderRef`` the bridge gives IBKR; fills by
``(orderRef, execId)`` -- the order pins the session, so one journal can hold many sessions
(and a simulator that reuses execution ids) without one real fill ever looking like the
replay of another. Both keys make re-recording idempotent, which is how a restart that
replays the broker's executions avoids duplicate rows, and how the bridge knows an intended
order was already sent; an execution that comes back under a journaled key with different
content is refused with :class:`FillConflict`, never dropped in silence. The schema is
versioned with ``PRAGMA user_version`` and upgraded by the ordered migrations below; a file
written by a newer toolkit is refused, not guessed at. The file (and SQLite's -wal/-shm,
which inherit its mode) is created readable by its owner only: it holds the account id and
every trade.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.live import _parent_schema


class JournalError(ToolkitError):
    """The journal file cannot be opened, upgraded or written."""


class FillConflict(JournalError):
    """An execution arrived under a journaled (orderRef, execId) with different content:
    the broker reused an id, or the journal is wrong. Refused, and the caller must say so."""


# Each entry upgrades the schema from version i to i + 1. Never edit a shipped entry: append.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        mode TEXT NOT NULL CHECK (mode IN ('paper', 'live', 'simulated')),
        account TEXT NOT NULL,
        config_json TEXT NOT NULL
    );
    CREATE TABLE decisions (
        decision_id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        ts TEXT NOT NULL,
        strategy TEXT NOT NULL,
        symbol TEXT NOT NULL,
        bar_time TEXT NOT NULL,
        signal REAL NOT NULL,
        price REAL NOT NULL,
        target_qty REAL NOT NULL,
        current_qty REAL NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE orders (
        order_ref TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        decision_id INTEGER REFERENCES decisions(decision_id),
        ts TEXT NOT NULL,
        symbol TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
        quantity REAL NOT NULL CHECK (quantity > 0),
        order_type TEXT NOT NULL,
        limit_price REAL,
        aux_price REAL,
        parent_ref TEXT,
        broker_order_id INTEGER,
        status TEXT NOT NULL DEFAULT 'PendingSubmit'
    );
    CREATE TABLE order_events (
        event_id INTEGER PRIMARY KEY,
        order_ref TEXT NOT NULL REFERENCES orders(order_ref),
        ts TEXT NOT NULL,
        status TEXT NOT NULL,
        filled REAL NOT NULL,
        remaining REAL NOT NULL,
        avg_fill_price REAL NOT NULL,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE fills (
        exec_id TEXT PRIMARY KEY,
        order_ref TEXT NOT NULL REFERENCES orders(order_ref),
        ts TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('BOT', 'SLD')),
        shares REAL NOT NULL CHECK (shares > 0),
        price REAL NOT NULL,
        commission REAL
    );
    CREATE TABLE positions (
        snapshot_id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        ts TEXT NOT NULL,
        symbol TEXT NOT NULL,
        quantity REAL NOT NULL,
        avg_cost REAL NOT NULL
    );
    CREATE TABLE equity (
        snapshot_id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        ts TEXT NOT NULL,
        net_liquidation REAL NOT NULL,
        cash REAL NOT NULL,
        realized_pnl REAL NOT NULL,
        unrealized_pnl REAL NOT NULL
    );
    CREATE TABLE guard_events (
        event_id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        ts TEXT NOT NULL,
        guard TEXT NOT NULL,
        symbol TEXT,
        detail TEXT NOT NULL
    );
    CREATE INDEX orders_by_session ON orders(session_id, status);
    CREATE INDEX fills_by_order ON fills(order_ref);
    CREATE INDEX decisions_by_session ON decisions(session_id, ts);
    """,
    # 2: per-strategy equity snapshots and guard events (a restart restores each
    # strategy's drawdown peak and kill-switch state from them)
    """
    ALTER TABLE equity ADD COLUMN strategy TEXT;
    ALTER TABLE guard_events ADD COLUMN strategy TEXT;
    """,
    # 3: fills keyed by (order_ref, exec_id), not exec_id alone: a second session on the same
    # journal whose broker (a restarted simulator) reused execution ids lost every fill
    """
    CREATE TABLE fills_v3 (
        fill_id INTEGER PRIMARY KEY,
        exec_id TEXT NOT NULL,
        order_ref TEXT NOT NULL REFERENCES orders(order_ref),
        ts TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('BOT', 'SLD')),
        shares REAL NOT NULL CHECK (shares > 0),
        price REAL NOT NULL,
        commission REAL,
        UNIQUE (order_ref, exec_id)
    );
    INSERT INTO fills_v3 (exec_id, order_ref, ts, symbol, side, shares, price, commission)
        SELECT exec_id, order_ref, ts, symbol, side, shares, price, commission FROM fills
        ORDER BY rowid;
    DROP TABLE fills;
    ALTER TABLE fills_v3 RENAME TO fills;
    CREATE INDEX fills_by_order ON fills(order_ref);
    CREATE INDEX fills_by_exec ON fills(exec_id);
    CREATE INDEX decisions_by_bar ON decisions(session_id, strategy, symbol, bar_time);
    """,
    # 4: a decision's outcome as structured fields, so a restart never parses the note: the
    # outcome code (toolkit.live.sleeve.Decision's values), the risk rules that trimmed or
    # blocked it (comma-separated names) and the target exposure it acted on. The notes of
    # older rows are read once, here; their target stays NULL (the restore uses the signal).
    """
    ALTER TABLE decisions ADD COLUMN outcome TEXT;
    ALTER TABLE decisions ADD COLUMN guards TEXT NOT NULL DEFAULT '';
    ALTER TABLE decisions ADD COLUMN target REAL;
    UPDATE decisions SET outcome = CASE
        WHEN note LIKE 'order trimmed:%' THEN 'order_trimmed'
        WHEN note LIKE 'order%' THEN 'order'
        WHEN note LIKE 'blocked%' THEN 'blocked'
        WHEN note = 'at target' THEN 'at_target'
        WHEN note = 'inside band' THEN 'inside_band'
        WHEN note = 'unchanged' THEN 'unchanged'
        WHEN note = 'no signal' THEN 'no_signal'
    END;
    UPDATE decisions SET guards = replace(
        replace(substr(note, instr(note, ': ') + 2), ' (late)', ''), ', ', ',')
        WHERE instr(note, ': ') > 0 AND (note LIKE 'order trimmed:%' OR note LIKE 'blocked:%')
    """,
    # 5: the legs of a combo (BAG) order, one row each (the order's row holds the net
    # quantity and net limit price): what a restart needs to book each leg's executions and
    # to recognise the open combo at the broker. symbol is the option's local (OCC) symbol.
    """
    CREATE TABLE combo_legs (
        order_ref TEXT NOT NULL REFERENCES orders(order_ref),
        leg INTEGER NOT NULL,
        con_id INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        underlying TEXT NOT NULL,
        opt_right TEXT NOT NULL CHECK (opt_right IN ('C', 'P')),
        strike REAL NOT NULL,
        expiry TEXT NOT NULL,
        multiplier REAL NOT NULL CHECK (multiplier > 0),
        ratio INTEGER NOT NULL CHECK (ratio > 0),
        action TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
        PRIMARY KEY (order_ref, leg)
    )
    """,
    # 6: manual commands to a running session (dashboard keys, `toolkit.live cancel|modify|
    # pause|resume|kill`): queued by any process, claimed and executed once by the session,
    # their outcome and reason kept (toolkit.live.commands)
    """
    CREATE TABLE commands (
        command_id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        ts TEXT NOT NULL,
        source TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        args_json TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'running', 'done', 'rejected', 'expired')),
        outcome TEXT NOT NULL DEFAULT '',
        done_at TEXT
    );
    CREATE INDEX commands_by_session ON commands(session_id, status)
    """,
    # 7: the market bars the session decided on, one row per (symbol, bar size, bar start),
    # so the transaction-cost analysis of its orders (interval VWAP/TWAP/close, participation,
    # the horizon's end price; toolkit.live.tca_history) reads the journal alone
    """
    CREATE TABLE bars (
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        symbol TEXT NOT NULL,
        bar_size TEXT NOT NULL,
        bar_time TEXT NOT NULL,
        open REAL NOT NULL,
        high REAL NOT NULL,
        low REAL NOT NULL,
        close REAL NOT NULL,
        volume REAL NOT NULL,
        PRIMARY KEY (session_id, symbol, bar_size, bar_time)
    )
    """,
    # 8: parent orders worked by our schedules and their children (toolkit.live._parent_schema)
    _parent_schema.MIGRATION,
    # 9: what an order carried beyond its type and prices, as sent: IB's algo (algoStrategy
    # and its algoParams as a JSON object), an iceberg's displaySize, an OCA group and type
    # (toolkit.live.ib_algos, toolkit.live.brackets)
    """
    ALTER TABLE orders ADD COLUMN algo TEXT;
    ALTER TABLE orders ADD COLUMN algo_params_json TEXT;
    ALTER TABLE orders ADD COLUMN display_size INTEGER;
    ALTER TABLE orders ADD COLUMN oca_group TEXT;
    ALTER TABLE orders ADD COLUMN oca_type INTEGER
    """,
    # 10: every reload of a running session's [risk] limits (SIGHUP, `toolkit.live reload`):
    # applied per strategy with the limits before and after, unchanged, or rejected with the
    # file's error while the old limits stay in force (toolkit.live._reload)
    """
    CREATE TABLE risk_changes (
        change_id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        ts TEXT NOT NULL,
        source TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('applied', 'unchanged', 'rejected')),
        strategy TEXT,
        limits_json TEXT NOT NULL DEFAULT '{}',
        previous_json TEXT NOT NULL DEFAULT '{}',
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX risk_changes_by_session ON risk_changes(session_id, change_id)
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)
# How long opening a journal waits for another process that holds its write lock (sqlite's
# busy timeout for ordinary statements; see Journal._prepare for the ones it does not cover).
LOCK_WAIT = 30.0

# orderStatus values after which IB sends nothing more for the order.
_FINAL_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class JournalOrder:
    """An order as the journal last saw it."""

    order_ref: str
    session_id: str
    symbol: str
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    parent_ref: str | None
    broker_order_id: int | None
    status: str


class Journal:
    """One SQLite file holding every session's record; safe to reopen after a crash."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _private(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=LOCK_WAIT)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(
                f"{self.path}: cannot open the journal ({exc}); check the directory exists "
                "and is writable"
            ) from exc
        self._db.row_factory = sqlite3.Row
        self._depth = 0
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if isinstance(exc, sqlite3.OperationalError) and _locked(exc):
                raise JournalError(
                    f"{self.path}: another process has held the journal's lock for "
                    f"{LOCK_WAIT:g} s ({exc}); the journal itself is fine -- find that process "
                    "(another session or a tool writing to it) and retry once it is done"
                ) from exc
            raise JournalError(
                f"{self.path}: not a readable journal ({exc}); move it aside and start a new one"
            ) from exc

    def _prepare(self) -> None:
        """WAL mode and the current schema. Two processes opening a new journal at once (two
        sessions started together on one config's journal) race here: sqlite answers the
        switch to WAL "database is locked" at once rather than waiting out its busy timeout,
        so that switch is retried until ``LOCK_WAIT`` has passed."""
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path}: journal schema version {version} is newer than this toolkit "
                f"understands ({SCHEMA_VERSION}); upgrade the toolkit to read it"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                # read again under the write lock: another process opening this journal at
                # the same moment (two sessions started together) may have migrated it since
                if self.schema_version >= target:
                    continue
                # executescript would commit our transaction; run statements one by one.
                for statement in _MIGRATIONS[target - 1].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={target}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes so they land together or not at all; nests (inner blocks join)."""
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._db.execute("COMMIT")

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self.transaction():
            try:
                return self._db.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                raise JournalError(f"{self.path}: refused to record a row: {exc}") from exc

    # -- writes --------------------------------------------------------------------------

    def start_session(
        self, session_id: str, *, mode: str, account: str, config: Mapping[str, Any]
    ) -> None:
        """Open a session, or resume it after a restart (the config must then match)."""
        row = self._db.execute(
            "SELECT config_json FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        config_json = json.dumps(config, sort_keys=True, default=str)
        if row is not None:
            # keys the session's first run did not record (an older toolkit) are not compared
            old = json.loads(row["config_json"])
            new = json.loads(config_json)
            differ = sorted(k for k in set(old) | set(new) if k in old and old[k] != new.get(k))
            if differ:
                raise JournalError(
                    f"{self.path}: session {session_id!r} was started with a different config "
                    f"({', '.join(differ)} changed); resume it with the same config or start a "
                    "new session id"
                )
            self._write("UPDATE sessions SET ended_at = NULL WHERE session_id = ?", (session_id,))
            return
        self._write(
            "INSERT INTO sessions (session_id, started_at, mode, account, config_json) "
            "VALUES (?, ?, ?, ?, ?)",
            (session_id, _now(), mode, account, config_json),
        )

    def end_session(self, session_id: str) -> None:
        self._write("UPDATE sessions SET ended_at = ? WHERE session_id = ?", (_now(), session_id))

    def record_decision(
        self,
        session_id: str,
        *,
        strategy: str,
        symbol: str,
        bar_time: str,
        signal: float,
        price: float,
        target_qty: float,
        current_qty: float,
        note: str = "",
        outcome: str | None = None,
        guards: tuple[str, ...] = (),
        target: float | None = None,
    ) -> int:
        """Store what the signal function asked for at a bar; returns the decision id.
        ``outcome`` (a :class:`toolkit.live.sleeve.Decision` value), ``guards`` and
        ``target`` (the exposure acted on) are what a restart reads; ``note`` is for people."""
        if any("," in g for g in guards):
            raise JournalError(f"guard names cannot hold a comma: {guards!r}")
        cur = self._write(
            "INSERT INTO decisions (session_id, ts, strategy, symbol, bar_time, signal, price, "
            "target_qty, current_qty, note, outcome, guards, target) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                _now(),
                strategy,
                symbol,
                bar_time,
                signal,
                price,
                target_qty,
                current_qty,
                note,
                outcome,
                ",".join(guards),
                target,
            ),
        )
        return int(cur.lastrowid or 0)

    def record_order(
        self,
        session_id: str,
        *,
        order_ref: str,
        symbol: str,
        action: str,
        quantity: float,
        order_type: str,
        limit_price: float | None = None,
        aux_price: float | None = None,
        parent_ref: str | None = None,
        decision_id: int | None = None,
        algo: str | None = None,
        algo_params: Sequence[tuple[str, str]] = (),
        display_size: int | None = None,
        oca_group: str | None = None,
        oca_type: int | None = None,
    ) -> bool:
        """Record an order before it is sent; False when ``order_ref`` is already journaled.
        ``algo``/``algo_params``: IB's algoStrategy and its tag/value pairs; ``display_size``
        an iceberg's; ``oca_group``/``oca_type`` its one-cancels-all group.

        Call this first and send only on True: after a crash between the two steps the
        restart finds the ref here and reconciles with the broker instead of sending again.
        """
        cur = self._write(
            "INSERT OR IGNORE INTO orders (order_ref, session_id, decision_id, ts, symbol, "
            "action, quantity, order_type, limit_price, aux_price, parent_ref, algo, "
            "algo_params_json, display_size, oca_group, oca_type) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order_ref,
                session_id,
                decision_id,
                _now(),
                symbol,
                action,
                quantity,
                order_type,
                limit_price,
                aux_price,
                parent_ref,
                algo,
                json.dumps(dict(algo_params)) if algo is not None else None,
                display_size,
                oca_group,
                oca_type,
            ),
        )
        return cur.rowcount == 1

    def record_order_status(
        self,
        order_ref: str,
        *,
        status: str,
        filled: float,
        remaining: float,
        avg_fill_price: float,
        broker_order_id: int | None = None,
        message: str = "",
    ) -> None:
        """Append a status event and update the order's current status together."""
        with self.transaction():
            self._write(
                "INSERT INTO order_events (order_ref, ts, status, filled, remaining, "
                "avg_fill_price, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (order_ref, _now(), status, filled, remaining, avg_fill_price, message),
            )
            self._write(
                "UPDATE orders SET status = ?, broker_order_id = COALESCE(?, broker_order_id) "
                "WHERE order_ref = ?",
                (status, broker_order_id, order_ref),
            )

    def record_fill(
        self,
        *,
        exec_id: str,
        order_ref: str,
        symbol: str,
        side: str,
        shares: float,
        price: float,
        ts: str | None = None,
        commission: float | None = None,
    ) -> bool:
        """Store an execution once; False when it is already journaled (a replay).

        Raises :class:`FillConflict` when ``(order_ref, exec_id)`` is journaled with another
        symbol, side, size or price: the caller must make that loud (it is a real execution
        the journal cannot hold), never drop it in silence."""
        with self.transaction():
            row = self._db.execute(
                "SELECT symbol, side, shares, price FROM fills WHERE order_ref = ? AND exec_id = ?",
                (order_ref, exec_id),
            ).fetchone()
            if row is not None:
                same = (
                    row["symbol"] == symbol
                    and row["side"] == side
                    and math.isclose(row["shares"], shares, rel_tol=1e-12, abs_tol=1e-9)
                    and math.isclose(row["price"], price, rel_tol=1e-12, abs_tol=1e-9)
                )
                if same:
                    return False
                raise FillConflict(
                    f"{self.path}: execution {exec_id!r} of order {order_ref!r} is journaled as "
                    f"{row['side']} {row['shares']:g} {row['symbol']} @ {row['price']:g} but the "
                    f"broker now reports {side} {shares:g} {symbol} @ {price:g}; refused -- "
                    "check the account's executions and reconcile by hand"
                )
            self._write(
                "INSERT INTO fills (exec_id, order_ref, ts, symbol, side, shares, price, "
                "commission) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (exec_id, order_ref, ts or _now(), symbol, side, shares, price, commission),
            )
        return True

    def record_commission(
        self, exec_id: str, commission: float, *, order_ref: str | None = None
    ) -> None:
        """Attach IB's commission report to its execution (they arrive separately); give
        ``order_ref`` when known (an execId alone may match fills of several sessions)."""
        sql, params = _fill_key(exec_id, order_ref)
        cur = self._write(f"UPDATE fills SET commission = ? WHERE {sql}", (commission, *params))
        if cur.rowcount != 1:
            what = "unknown" if cur.rowcount == 0 else "ambiguous"
            raise JournalError(
                f"{self.path}: commission report for {what} execution {exec_id!r}"
                + (f" of order {order_ref!r}" if order_ref else "")
                + "; record the fill first"
                + ("" if cur.rowcount == 0 else " and give its order_ref")
            )

    def record_position(
        self, session_id: str, *, symbol: str, quantity: float, avg_cost: float
    ) -> None:
        self._write(
            "INSERT INTO positions (session_id, ts, symbol, quantity, avg_cost) "
            "VALUES (?, ?, ?, ?, ?)",
            (session_id, _now(), symbol, quantity, avg_cost),
        )

    def record_equity(
        self,
        session_id: str,
        *,
        net_liquidation: float,
        cash: float,
        realized_pnl: float,
        unrealized_pnl: float,
        strategy: str | None = None,
        ts: str | None = None,
    ) -> None:
        """Equity snapshot of one strategy, or of the whole session when ``strategy`` is None;
        ``ts`` is the bar it was marked at (default: now)."""
        self._write(
            "INSERT INTO equity (session_id, ts, net_liquidation, cash, realized_pnl, "
            "unrealized_pnl, strategy) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                ts or _now(),
                net_liquidation,
                cash,
                realized_pnl,
                unrealized_pnl,
                strategy,
            ),
        )

    def record_guard(
        self,
        session_id: str,
        *,
        guard: str,
        detail: str,
        symbol: str | None = None,
        strategy: str | None = None,
    ) -> None:
        """Store a risk guard that fired, with what it saw."""
        self._write(
            "INSERT INTO guard_events (session_id, ts, guard, symbol, detail, strategy) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, _now(), guard, symbol, detail, strategy),
        )

    def record_bars(
        self,
        session_id: str,
        symbol: str,
        bar_size: str,
        bars: Sequence[tuple[str, float, float, float, float, float]],
    ) -> int:
        """Store the completed bars a decision saw: ``bars`` are (bar start as UTC ISO text,
        open, high, low, close, volume) in time order; those after the newest journaled bar of
        the symbol are written (none journaled yet: the last one only, the bar decided on).
        Returns how many were written."""
        row = self._db.execute(
            "SELECT MAX(bar_time) FROM bars WHERE session_id = ? AND symbol = ? AND bar_size = ?",
            (session_id, symbol, bar_size),
        ).fetchone()
        newest = row[0]
        fresh = list(bars[-1:]) if newest is None else [b for b in bars if b[0] > newest]
        with self.transaction():
            for b in fresh:
                self._write(
                    "INSERT OR IGNORE INTO bars (session_id, symbol, bar_size, bar_time, open, "
                    "high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (session_id, symbol, bar_size, *b),
                )
        return len(fresh)

    def record_combo_legs(self, order_ref: str, legs: Sequence[Mapping[str, Any]]) -> None:
        """Store the legs of a combo order journaled under ``order_ref`` (keys: con_id,
        symbol, underlying, right, strike, expiry, multiplier, ratio, action); a leg already
        stored is left as it is."""
        for i, leg in enumerate(legs):
            self._write(
                "INSERT OR IGNORE INTO combo_legs (order_ref, leg, con_id, symbol, underlying, "
                "opt_right, strike, expiry, multiplier, ratio, action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_ref,
                    i,
                    int(leg["con_id"]),
                    str(leg["symbol"]),
                    str(leg["underlying"]),
                    str(leg["right"]),
                    float(leg["strike"]),
                    str(leg["expiry"]),
                    float(leg["multiplier"]),
                    int(leg["ratio"]),
                    str(leg["action"]),
                ),
            )

    def record_limit_price(self, order_ref: str, limit_price: float, message: str) -> None:
        """A working order's limit price moved (IB modify): the order row and an event."""
        with self.transaction():
            row = self._db.execute(
                "SELECT status FROM orders WHERE order_ref = ?", (order_ref,)
            ).fetchone()
            if row is None:
                raise JournalError(f"{self.path}: no order {order_ref!r} to reprice")
            self._write(
                "UPDATE orders SET limit_price = ? WHERE order_ref = ?", (limit_price, order_ref)
            )
            self._write(
                "INSERT INTO order_events (order_ref, ts, status, filled, remaining, "
                "avg_fill_price, message) VALUES (?, ?, ?, 0, 0, 0, ?)",
                (order_ref, _now(), row["status"], message),
            )

    def record_command(
        self, session_id: str, *, source: str, action: str, target: str, args: Mapping[str, Any]
    ) -> int:
        """Queue a manual command for a running session; returns its id."""
        cur = self._write(
            "INSERT INTO commands (session_id, ts, source, action, target, args_json) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, _now(), source, action, target, json.dumps(dict(args), sort_keys=True)),
        )
        return int(cur.lastrowid or 0)

    def settle_command(self, command_id: int, status: str, outcome: str, *, was: str) -> bool:
        """Move a command from status ``was`` to ``status`` with its outcome; False when it is
        no longer ``was`` (another process claimed or expired it first: it never runs twice)."""
        cur = self._write(
            "UPDATE commands SET status = ?, outcome = ?, done_at = ? "
            "WHERE command_id = ? AND status = ?",
            (status, outcome, None if status == "running" else _now(), command_id, was),
        )
        return cur.rowcount == 1

    def command(self, command_id: int) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT * FROM commands WHERE command_id = ?", (command_id,)
        ).fetchone()
        return None if row is None else dict(row)

    def commands(self, session_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """A session's commands (with ``status``), oldest first."""
        sql, params = "SELECT * FROM commands WHERE session_id = ?", [session_id]
        if status is not None:
            sql, params = sql + " AND status = ?", [session_id, status]
        return [dict(r) for r in self._db.execute(sql + " ORDER BY command_id", params)]

    def record_risk_change(
        self,
        session_id: str,
        *,
        source: str,
        config: str,
        status: str,
        strategy: str | None,
        limits: Mapping[str, Any],
        previous: Mapping[str, Any],
        message: str,
    ) -> None:
        """A reload of the session's ``[risk]`` limits: what was read, what it changed."""
        self._write(
            "INSERT INTO risk_changes (session_id, ts, source, config, status, strategy, "
            "limits_json, previous_json, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, _now(), source, config, status, strategy,
             json.dumps(dict(limits), sort_keys=True, default=str),
             json.dumps(dict(previous), sort_keys=True, default=str), message),
        )  # fmt: skip

    def record_modification(
        self, order_ref: str, limit_price: float | None, quantity: float | None, message: str
    ) -> None:
        """A working order modified (IB: placeOrder again with its id): the order row's limit
        price and/or total quantity, and an order event saying what changed."""
        with self.transaction():
            row = self._db.execute(
                "SELECT status FROM orders WHERE order_ref = ?", (order_ref,)
            ).fetchone()
            if row is None:
                raise JournalError(f"{self.path}: no order {order_ref!r} to modify")
            if limit_price is not None:
                self._write(
                    "UPDATE orders SET limit_price = ? WHERE order_ref = ?",
                    (limit_price, order_ref),
                )
            if quantity is not None:
                self._write(
                    "UPDATE orders SET quantity = ? WHERE order_ref = ?", (quantity, order_ref)
                )
            self._write(
                "INSERT INTO order_events (order_ref, ts, status, filled, remaining, "
                "avg_fill_price, message) VALUES (?, ?, ?, 0, 0, 0, ?)",
                (order_ref, _now(), row["status"], message),
            )

    def execute(self, sql: str, params: tuple[Any, ...]) -> bool:
        """One write of a companion module's tables (:mod:`toolkit.live._parent_journal`),
        in its own transaction or the caller's; whether it changed a row."""
        return self._write(sql, params).rowcount > 0

    def query(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        """Rows of a companion module's read (:mod:`toolkit.live._parent_journal`)."""
        return [dict(r) for r in self._db.execute(sql, params).fetchall()]

    # -- reads ---------------------------------------------------------------------------

    def combo_legs(self, order_ref: str) -> list[dict[str, Any]]:
        """The legs of a combo order, in leg order (empty: not a combo)."""
        rows = self._db.execute(
            "SELECT * FROM combo_legs WHERE order_ref = ? ORDER BY leg", (order_ref,)
        ).fetchall()
        return [dict(r) for r in rows]

    def order(self, order_ref: str) -> JournalOrder | None:
        row = self._db.execute(
            "SELECT order_ref, session_id, symbol, action, quantity, order_type, limit_price, "
            "aux_price, parent_ref, broker_order_id, status FROM orders WHERE order_ref = ?",
            (order_ref,),
        ).fetchone()
        return None if row is None else JournalOrder(*tuple(row))

    def order_extras(self, order_ref: str) -> dict[str, Any]:
        """What ``order_ref`` carried beyond its type and prices, as journaled: ``algo`` and
        ``algo_params`` ((tag, value) pairs), ``display_size``, ``oca_group``, ``oca_type``
        (None / empty when it had none), so a resend sends the same order."""
        row = self._db.execute(
            "SELECT algo, algo_params_json, display_size, oca_group, oca_type FROM orders "
            "WHERE order_ref = ?",
            (order_ref,),
        ).fetchone()
        if row is None:
            return {}
        params = json.loads(row[1]) if row[1] else {}
        return {
            "algo": row[0],
            "algo_params": tuple((str(k), str(v)) for k, v in params.items()),
            "display_size": row[2],
            "oca_group": row[3],
            "oca_type": row[4],
        }

    def open_orders(self, session_id: str) -> list[JournalOrder]:
        """Orders the journal does not yet know to be final: the set to reconcile on restart."""
        marks = ",".join("?" * len(_FINAL_STATUSES))
        rows = self._db.execute(
            "SELECT order_ref, session_id, symbol, action, quantity, order_type, limit_price, "
            "aux_price, parent_ref, broker_order_id, status FROM orders "
            f"WHERE session_id = ? AND status NOT IN ({marks}) ORDER BY ts, order_ref",
            (session_id, *sorted(_FINAL_STATUSES)),
        ).fetchall()
        return [JournalOrder(*tuple(r)) for r in rows]

    def fill_commission(self, exec_id: str, order_ref: str | None = None) -> float | None:
        """The commission journaled for an execution (None: unknown or not yet reported)."""
        sql, params = _fill_key(exec_id, order_ref)
        row = self._db.execute(f"SELECT commission FROM fills WHERE {sql}", params).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def has_fill(self, exec_id: str, order_ref: str) -> bool:
        """Whether this order's execution is journaled."""
        row = self._db.execute(
            "SELECT 1 FROM fills WHERE order_ref = ? AND exec_id = ?", (order_ref, exec_id)
        ).fetchone()
        return row is not None

    def sessions(self) -> list[dict[str, Any]]:
        """Every session, newest first."""
        rows = self._db.execute("SELECT * FROM sessions ORDER BY started_at DESC").fetchall()
        return [dict(r) for r in rows]

    def session_fills(self, session_id: str) -> list[dict[str, Any]]:
        """Fills of a session with their order and the decision behind it (strategy, signal
        price), in execution order."""
        rows = self._db.execute(
            "SELECT f.exec_id, f.order_ref, f.ts, f.symbol, f.side, f.shares, f.price, "
            "f.commission, o.order_type, o.parent_ref, d.strategy, d.price AS signal_price, "
            "d.bar_time FROM fills f JOIN orders o ON o.order_ref = f.order_ref "
            "LEFT JOIN decisions d ON d.decision_id = o.decision_id "
            "WHERE o.session_id = ? ORDER BY f.ts, f.rowid",
            (session_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def net_position(self, session_id: str, symbol: str) -> float:
        """Shares held from this session's journaled fills (BOT minus SLD)."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(CASE f.side WHEN 'BOT' THEN f.shares ELSE -f.shares END), 0) "
            "FROM fills f JOIN orders o ON o.order_ref = f.order_ref "
            "WHERE o.session_id = ? AND f.symbol = ?",
            (session_id, symbol),
        ).fetchone()
        return float(row[0])

    def rows(self, table: str, session_id: str | None = None) -> list[dict[str, Any]]:
        """All rows of a journal table (optionally one session's), oldest first."""
        if table not in _TABLES:
            raise JournalError(f"unknown journal table {table!r}; one of {sorted(_TABLES)}")
        if session_id is None or table in ("order_events", "fills", "combo_legs"):
            sql = f"SELECT * FROM {table}"
            params: tuple[str, ...] = ()
            if session_id is not None:
                sql += " WHERE order_ref IN (SELECT order_ref FROM orders WHERE session_id = ?)"
                params = (session_id,)
        else:
            sql, params = f"SELECT * FROM {table} WHERE session_id = ?", (session_id,)
        return [dict(r) for r in self._db.execute(sql + " ORDER BY rowid", params).fetchall()]


def _fill_key(exec_id: str, order_ref: str | None) -> tuple[str, tuple[str, ...]]:
    if order_ref is None:
        return "exec_id = ?", (exec_id,)
    return "exec_id = ? AND order_ref = ?", (exec_id, order_ref)


def _private(path: Path) -> None:
    """Create the journal file owner-only (0600) before SQLite opens it, and take group and
    other access away from one an older toolkit created; SQLite gives -wal/-shm its mode."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            try:
                mode = stat.S_IMODE(p.stat().st_mode)
                if mode & 0o077:
                    os.chmod(p, mode & 0o700)
            except OSError:
                pass  # gone, or not ours to change: left as it is


_TABLES = frozenset(
    {
        "sessions",
        "decisions",
        "orders",
        "order_events",
        "fills",
        "positions",
        "equity",
        "guard_events",
        "combo_legs",
        "commands",
        "bars",
        "risk_changes",
        *_parent_schema.TABLES,
    }
)


def _locked(exc: sqlite3.OperationalError) -> bool:
    """sqlite's SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock, the file is
    fine."""
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
