"""Whether a live session is ready to trade (``/readyz``), from its real state: the broker
connected and synced (reconciled and resubscribed after the last connect), each strategy's
last decided bar not older than two bar periods at the broker's clock, the journal writable,
no kill switch on. Every failing check is named, so a supervisor's log says why.

"Two bar periods" are counted in trading time (:func:`following`): a daily strategy whose last
decided bar is Friday's is still ready on Sunday, and no longer once Tuesday's bar has closed
without Monday's decided.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from toolkit.data import calendar
from toolkit.live import bars as livebars
from toolkit.live.config import LiveConfig
from toolkit.live.sleeve import Sleeve


class SessionState(Protocol):
    """What readiness and the metrics read of a running session (:class:`LiveSession`)."""

    cfg: LiveConfig
    sid: str
    synced: bool

    @property
    def connected(self) -> bool: ...

    @property
    def reconnects(self) -> int: ...

    @property
    def broker_now(self) -> pd.Timestamp | None: ...

    @property
    def sleeves(self) -> dict[str, Sleeve]: ...

    @property
    def last_decided(self) -> dict[str, pd.Timestamp]: ...


@dataclass(frozen=True)
class Readiness:
    """The answer of ``/readyz``: ready, or the reasons it is not."""

    reasons: tuple[str, ...]
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.reasons

    def as_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "reasons": list(self.reasons), **self.detail}


def following(label: pd.Timestamp, bar_size: str) -> pd.Timestamp:
    """The label of the bar after ``label`` in trading time (the next session's for a daily
    bar or the last intraday bar of a session)."""
    if bar_size == "1 day":
        return livebars.bar_label(calendar.next_trading_day(label.date()))
    end = livebars.bar_end(label, bar_size)
    day = calendar.local_date(label)
    if calendar.is_trading_day(day) and end < calendar.session_close(day):
        return end
    return calendar.session_open(calendar.next_trading_day(day))


def stale_since(last: pd.Timestamp, bar_size: str) -> pd.Timestamp:
    """From when a strategy whose last decided bar is ``last`` is two bar periods behind: the
    end of the bar after the next one."""
    return livebars.bar_end(following(following(last, bar_size), bar_size), bar_size)


def journal_writable(path: Path, timeout: float = 2.0) -> str | None:
    """None when the journal file opens for writing and its write lock can be taken (then
    released at once: nothing is written); otherwise why not. A session's own transactions
    are short, so ``timeout`` only waits them out."""
    if not path.is_file():
        return f"journal {path} is missing"
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        return f"journal {path} cannot be opened for writing: {exc}"
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return f"journal {path} is not writable: {exc}"
    finally:
        db.close()
    return None


def check(session: SessionState) -> Readiness:
    """Every readiness check on ``session`` as it is now (read from another thread: plain
    attribute reads and dict copies, never a call into the session's loop)."""
    reasons: list[str] = []
    connected = session.connected
    if not connected:
        reasons.append("broker not connected")
    elif not session.synced:
        reasons.append("broker connected, not yet synced (reconciling and resubscribing)")
    now = session.broker_now
    decided = dict(session.last_decided)
    bars: dict[str, str | None] = {}
    for slot in session.cfg.strategies:
        last = decided.get(slot.label)
        bars[slot.label] = None if last is None else last.isoformat()
        if last is None:
            reasons.append(f"{slot.label}: no bar decided yet")
        elif now is not None and now > stale_since(last, slot.bar_size):
            reasons.append(
                f"{slot.label}: last decided bar {last:%Y-%m-%d %H:%M} is more than two "
                f"{slot.bar_size} bars old at broker time {now:%Y-%m-%d %H:%M} UTC"
            )
    problem = journal_writable(session.cfg.session.journal)
    if problem is not None:
        reasons.append(problem)
    for label, sleeve in list(session.sleeves.items()):
        if sleeve.killed is not None:
            reasons.append(f"{label}: kill switch on ({sleeve.killed})")
    detail = {
        "session": session.sid,
        "connected": connected,
        "synced": session.synced,
        "broker_time": None if now is None else now.isoformat(),
        "last_decided": bars,
        "reconnects": session.reconnects,
    }
    return Readiness(tuple(reasons), detail)
