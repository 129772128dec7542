"""The journal's record of parent orders (:mod:`toolkit.live._parent`): the parent and its
schedule (every child's time, quantity, type and limit) written in the decision's transaction,
before any child is sent; each child's order then goes through the journal's ``orders`` table
like any order (intent before send, status, fills), under the ref ``<parent ref>/c<k>``.
A restart rebuilds every parent from these rows and the child orders journaled: a child with
an order row was sent (or is resent by the reconcile's rules), one without is still to come.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from toolkit.live._parent import CANCELLED, PAUSED, STATUSES, Child, ParentOrder
from toolkit.live.journal import Journal


def record_parent(
    journal: Journal,
    sid: str,
    parent: ParentOrder,
    *,
    decision_id: int | None,
    params: Mapping[str, Any],
    arrival_price: float,
    target: float,
) -> bool:
    """Journal a parent and its schedule together; False when the parent is journaled already
    (a restart deciding the same bar again: nothing is planned twice)."""
    with journal.transaction():
        fresh = journal.execute(
            "INSERT OR IGNORE INTO parents (parent_ref, session_id, decision_id, ts, strategy, "
            "symbol, action, quantity, algo, params_json, decision_bar, arrival_price, target, "
            "window_start, window_end, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)",
            (
                parent.parent_id, sid, decision_id, pd.Timestamp.now(tz="UTC").isoformat(),
                parent.strategy, parent.symbol, parent.action, float(parent.quantity),
                parent.algo, json.dumps(dict(params), sort_keys=True, default=str),
                parent.decided.isoformat(), arrival_price, target, parent.start.isoformat(),
                parent.end.isoformat(), parent.status,
            ),
        )  # fmt: skip
        if not fresh:
            return False
        for c in parent.children:
            journal.execute(
                "INSERT INTO parent_children (parent_ref, k, order_ref, ts, quantity, "
                "order_type, limit_price) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (parent.parent_id, c.k, c.ref, c.time.isoformat(), float(c.quantity),
                 c.order_type, c.limit),
            )  # fmt: skip
    return True


def record_children(journal: Journal, parent: ParentOrder, children: list[Child]) -> None:
    """More children of a parent planned one bar at a time (a POV), journaled before any of
    them is sent; a child journaled before is left as it is."""
    with journal.transaction():
        for c in children:
            journal.execute(
                "INSERT OR IGNORE INTO parent_children (parent_ref, k, order_ref, ts, quantity, "
                "order_type, limit_price) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (parent.parent_id, c.k, c.ref, c.time.isoformat(), float(c.quantity),
                 c.order_type, c.limit),
            )  # fmt: skip


def record_status(journal: Journal, parent_ref: str, status: str) -> None:
    """A parent's new status (paused, resumed = working, cancelled, done)."""
    if status not in STATUSES:
        raise ValueError(f"parent status {status!r} is not one of {', '.join(STATUSES)}")
    journal.execute("UPDATE parents SET status = ? WHERE parent_ref = ?", (status, parent_ref))


def decision_of(journal: Journal, parent_ref: str) -> tuple[int | None, float]:
    """The decision id and target exposure a parent was journaled with."""
    rows = journal.query(
        "SELECT decision_id, target FROM parents WHERE parent_ref = ?", (parent_ref,)
    )
    if not rows:
        return None, math.nan
    t = rows[0]["target"]
    return rows[0]["decision_id"], math.nan if t is None else float(t)


def load_parents(journal: Journal, sid: str) -> list[ParentOrder]:
    """Every parent of session ``sid`` as journaled, its children marked journaled (their
    order is in the journal), with their broker status and shares filled."""
    parents = journal.query(
        "SELECT * FROM parents WHERE session_id = ? ORDER BY ts, parent_ref", (sid,)
    )
    out = []
    for p in parents:
        rows = journal.query(
            "SELECT c.k, c.order_ref, c.ts, c.quantity, c.order_type, c.limit_price, "
            "o.status AS order_status, "
            "(SELECT COALESCE(SUM(f.shares), 0) FROM fills f WHERE f.order_ref = c.order_ref) "
            "AS filled FROM parent_children c LEFT JOIN orders o ON o.order_ref = c.order_ref "
            "WHERE c.parent_ref = ? ORDER BY c.k",
            (p["parent_ref"],),
        )
        children = [
            Child(
                k=int(r["k"]),
                ref=r["order_ref"],
                time=pd.Timestamp(r["ts"]),
                quantity=int(r["quantity"]),
                order_type=r["order_type"],
                limit=r["limit_price"],
                journaled=r["order_status"] is not None,
                status=r["order_status"] or "planned",
                filled=float(r["filled"]),
            )
            for r in rows
        ]
        out.append(
            ParentOrder(
                parent_id=p["parent_ref"],
                strategy=p["strategy"],
                symbol=p["symbol"],
                action=p["action"],
                quantity=int(p["quantity"]),
                algo=p["algo"],
                decided=pd.Timestamp(p["decision_bar"]),
                start=pd.Timestamp(p["window_start"]),
                end=pd.Timestamp(p["window_end"]),
                children=children,
                paused=p["status"] == PAUSED,
                cancelled=p["status"] == CANCELLED,
            )
        )
    return out


def child_states(journal: Journal, parent_ref: str) -> dict[str, tuple[str, float]]:
    """Each journaled child order of a parent: (its status, shares filled)."""
    rows = journal.query(
        "SELECT o.order_ref, o.status, "
        "(SELECT COALESCE(SUM(f.shares), 0) FROM fills f WHERE f.order_ref = o.order_ref) "
        "AS filled FROM parent_children c JOIN orders o ON o.order_ref = c.order_ref "
        "WHERE c.parent_ref = ?",
        (parent_ref,),
    )
    return {r["order_ref"]: (r["status"], float(r["filled"])) for r in rows}
