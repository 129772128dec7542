"""Exits of an entry worked over time, when its slot asks for a bracket: a parent worked by
one of our schedules (``[strategies.execution] algo = "twap"`` and friends,
:mod:`toolkit.live._parent_desk`), and an IB algo or iceberg order (``algo = "ib_*"``).

Such an entry may end short of its quantity (a participation cap, the algo's endTime, a
paused or cancelled parent), and a parent is many orders with no single one to attach IB
bracket children to -- children attached to an IB algo that ends part-filled are cancelled
with it, leaving the part unprotected. So their exits go out once the entry is done (every
child final, or the IB order final), as stand-alone orders in one OCA group
(``<entry ref>/oca``, ocaType 1: the first exit to fill cancels the others at the broker),
sized to the whole position the entry left and priced from its average fill -- the engine's
exits are fractions of the average entry price. An entry that closed or reduced a position
gets none, as with attached brackets, nor one the next decision of its symbol superseded.

Restart-safe like every order: the exits are journaled (refs ``<entry ref>/sl|tp|trail``,
``parent_ref`` the entry's ref, with the OCA group) before they are sent; the journal's refs
make a second start find them instead of sending them again, and exits journaled but never
sent (a crash in between) are sent, as journaled, once the reconcile has asked the broker. A
new decision of the symbol cancels them, as it cancels any bracket leg of the old position.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import cast

from toolkit.live._broker import Broker
from toolkit.live._broker_events import FINAL
from toolkit.live._ledger import Ledger
from toolkit.live._parent import ParentOrder
from toolkit.live.brackets import OCA_CANCEL, exit_orders
from toolkit.live.config import StrategySlot
from toolkit.live.ib_algos import as_journaled
from toolkit.live.orders import OrderRef, OrderSpec


@dataclass(frozen=True)
class Worked:
    """An entry worked over time: its ref, owner, side, the refs its fills are booked under,
    the shares they executed and whether it is over."""

    ref: str
    strategy: str
    symbol: str
    sign: float
    fill_refs: tuple[str, ...]
    filled: float
    done: bool


def due_exits(
    parents: Iterable[ParentOrder],
    slots: Iterable[StrategySlot],
    ledger: Ledger,
    broker: Broker,
    broker_checked: bool,
) -> list[OrderSpec]:
    """The exits to send now: those of worked entries that just became done (journaled here
    before they are returned), and those journaled before but unknown to the broker (after
    a crash; only once ``broker_checked``)."""
    by_label = {s.label: s for s in slots if s.exits is not None}
    if not by_label:
        return []
    newest = _newest_entries(ledger)
    pending = {jo.order_ref: jo for jo in ledger.open_orders() if jo.status == "PendingSubmit"}
    out: list[OrderSpec] = []
    for w in [*map(_of_parent, parents), *_ib_entries(ledger)]:
        slot = by_label.get(w.strategy)
        if slot is None or not w.done or w.filled <= 0:
            continue
        if newest.get((w.strategy, w.symbol)) != w.ref:
            continue  # a later decision of the symbol took over (and cancelled old exits)
        mine = [r for r in pending if r.startswith(w.ref + "/") and _is_exit(r, w.ref)]
        if any(_is_exit(r, w.ref) for r in _journaled_refs(ledger, w.ref)):
            for ref in mine:  # journaled earlier: sent unless the broker never got it
                if broker_checked and not broker.knows(ref):
                    jo = pending[ref]
                    spec = OrderSpec(
                        jo.order_ref, jo.symbol, jo.action, jo.quantity, jo.order_type,
                        slot.exits.tif if slot.exits else "GTC", jo.limit_price, jo.aux_price,
                        parent_ref=jo.parent_ref,
                    )  # fmt: skip
                    out.append(as_journaled(spec, ledger.journal.order_extras(ref)))
            continue
        legs = _exits(w, slot, ledger)
        if legs:
            decision = _decision_id(ledger, w)
            target = ledger.sleeves[w.strategy].acted.get(w.symbol, math.nan)
            if ledger.journal_orders(OrderRef.parse(legs[0].ref), legs, cast(int, decision),
                                     target):  # fmt: skip
                out += legs
    return out


def _of_parent(p: ParentOrder) -> Worked:
    refs = tuple(c.ref for c in p.children)
    return Worked(p.parent_id, p.strategy, p.symbol, p.sign, refs, p.filled, p.done)


def _ib_entries(ledger: Ledger) -> list[Worked]:
    """The session's IB algo and iceberg entries, as journaled."""
    executed = ledger.executed()
    rows = ledger.journal.query(
        "SELECT order_ref, symbol, action, status FROM orders WHERE session_id = ? AND "
        "parent_ref IS NULL AND (algo IS NOT NULL OR display_size IS NOT NULL)",
        (ledger.sid,),
    )
    out = []
    for r in rows:
        owner = ledger.owner(r["order_ref"])
        if owner is None:
            continue
        sign = 1.0 if r["action"] == "BUY" else -1.0
        filled = executed.get(r["order_ref"], 0.0)
        done = r["status"] in FINAL
        out.append(Worked(r["order_ref"], owner[0], owner[1], sign, (r["order_ref"],), filled,
                          done))  # fmt: skip
    return out


def _newest_entries(ledger: Ledger) -> dict[tuple[str, str], str]:
    """The ref of the newest entry (an order, or a parent: its children's ref) per strategy
    and symbol, from the decisions journaled."""
    rows = ledger.journal.query(
        "SELECT order_ref FROM orders WHERE session_id = ? AND parent_ref IS NULL "
        "ORDER BY decision_id, ts",
        (ledger.sid,),
    )
    out: dict[tuple[str, str], str] = {}
    for r in rows:
        try:
            ref = OrderRef.parse(r["order_ref"])
        except ValueError:
            continue
        out[(ref.strategy, ref.symbol)] = str(ref.parent)  # a child names its parent
    return out


def _journaled_refs(ledger: Ledger, entry: str) -> list[str]:
    rows = ledger.journal.query("SELECT order_ref FROM orders WHERE parent_ref = ?", (entry,))
    return [str(r["order_ref"]) for r in rows]


def _is_exit(ref: str, entry: str) -> bool:
    try:
        r = OrderRef.parse(ref)
    except ValueError:
        return False
    return r.leg is not None and str(r.entry) == entry


def _exits(w: Worked, slot: StrategySlot, ledger: Ledger) -> list[OrderSpec]:
    """The OCA exits for the position ``w`` left (none when it did not add to one)."""
    assert slot.exits is not None
    after = ledger.sleeves[w.strategy].positions.get(w.symbol, 0.0)
    before = after - w.sign * w.filled
    if not (abs(after) > abs(before) or after * before < 0):
        return []
    shares, price = _fills(ledger, w.fill_refs)
    if abs(shares - w.filled) > 1e-9 or not price > 0:
        return []  # a fill not booked yet: the next call sees it
    action = "BUY" if w.sign > 0 else "SELL"
    entry = OrderSpec(w.ref, w.symbol, action, float(w.filled), "MKT", "DAY")
    spec = replace(slot.exits, oca=True)  # stand-alone exits always share one group
    legs = exit_orders(entry, spec, after, price, slot.run.engine)
    return [replace(x, oca_type=OCA_CANCEL) for x in legs]


def _fills(ledger: Ledger, refs: tuple[str, ...]) -> tuple[float, float]:
    """(shares, average price) of the journaled fills of ``refs``."""
    if not refs:
        return 0.0, math.nan
    marks = ",".join("?" * len(refs))
    rows = ledger.journal.query(
        f"SELECT shares, price FROM fills WHERE order_ref IN ({marks})", tuple(refs)
    )
    shares = sum(float(r["shares"]) for r in rows)
    if shares <= 0:
        return 0.0, math.nan
    return shares, sum(float(r["shares"]) * float(r["price"]) for r in rows) / shares


def _decision_id(ledger: Ledger, w: Worked) -> int | None:
    """The entry's decision (its order rows carry it: the order's, or its children's)."""
    for ref in w.fill_refs:
        rows = ledger.journal.query("SELECT decision_id FROM orders WHERE order_ref = ?", (ref,))
        if rows and rows[0]["decision_id"] is not None:
            return int(rows[0]["decision_id"])
    return None
