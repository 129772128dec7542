"""Exits of a parent worked by one of our schedules (``[strategies.execution] algo = "twap"``
and friends, :mod:`toolkit.live._parent_desk`) when its slot asks for a bracket.

A parent is many child orders, so there is no single order to attach IB bracket children to;
its exits go out once the parent is done (every child final, or the parent cancelled), as
stand-alone orders in one OCA group (``<parent ref>/oca``, ocaType 1: the first exit to fill
cancels the others at the broker), sized to the whole position the parent left and priced
from the parent's average fill -- the engine's exits are fractions of the average entry
price. A parent that closed or reduced a position gets none, as with attached brackets.

Restart-safe like every order: the exits are journaled (refs ``<parent ref>/sl|tp|trail``,
``parent_ref`` the parent's ref, with the OCA group) before they are sent; the journal's
refs make a second start find them instead of sending them again, and exits journaled but
never sent (a crash in between) are sent once the reconcile has asked the broker. A new
decision of the symbol cancels them, as it cancels any bracket leg of the old position.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from typing import cast

from toolkit.live._broker import Broker
from toolkit.live._ledger import Ledger
from toolkit.live._parent import ParentOrder
from toolkit.live.brackets import OCA_CANCEL, exit_orders
from toolkit.live.config import StrategySlot
from toolkit.live.orders import OrderRef, OrderSpec


def due_exits(
    parents: Iterable[ParentOrder],
    slots: Iterable[StrategySlot],
    ledger: Ledger,
    broker: Broker,
    broker_checked: bool,
) -> list[OrderSpec]:
    """The exits to send now: those of parents that just became done (journaled here, in
    one transaction), and those journaled before but unknown to the broker (after a crash;
    only once ``broker_checked``)."""
    by_label = {s.label: s for s in slots}
    journaled = {jo.order_ref: jo for jo in ledger.open_orders()}
    out: list[OrderSpec] = []
    for p in parents:
        slot = by_label.get(p.strategy)
        if slot is None or slot.exits is None or not p.done or p.filled <= 0:
            continue
        legs = _exits(p, slot, ledger)
        if not legs:
            continue
        if ledger.journal.order(legs[0].ref) is None:
            ref = OrderRef.parse(legs[0].ref)
            decision = _decision_id(ledger, p)
            target = ledger.sleeves[p.strategy].acted.get(p.symbol, math.nan)
            if ledger.journal_orders(ref, legs, cast(int, decision), target):
                out += legs
            continue
        for leg in legs:  # journaled earlier: sent unless the broker never got it
            jo = journaled.get(leg.ref)
            unsent = jo is not None and jo.status == "PendingSubmit" and not broker.knows(leg.ref)
            if unsent and broker_checked:
                out.append(leg)
    return out


def _exits(p: ParentOrder, slot: StrategySlot, ledger: Ledger) -> list[OrderSpec]:
    """The parent's OCA exits for the position it left (none when it did not add to one)."""
    assert slot.exits is not None
    after = ledger.sleeves[p.strategy].positions.get(p.symbol, 0.0)
    before = after - p.sign * p.filled
    if not (abs(after) > abs(before) or after * before < 0):
        return []
    shares, price = _fills(ledger, p)
    if abs(shares - p.filled) > 1e-9 or not price > 0:
        return []  # a fill not booked yet: the next call sees it
    entry = OrderSpec(p.parent_id, p.symbol, p.action, float(p.filled), "MKT", "DAY")
    spec = replace(slot.exits, oca=True)  # stand-alone exits always share one group
    legs = exit_orders(entry, spec, after, price, slot.run.engine)
    return [replace(x, oca_type=OCA_CANCEL) for x in legs]


def _fills(ledger: Ledger, p: ParentOrder) -> tuple[float, float]:
    """(shares, average price) of the parent's children's journaled fills."""
    refs = [c.ref for c in p.children]
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


def _decision_id(ledger: Ledger, p: ParentOrder) -> int | None:
    """The parent's decision (its children's order rows carry it)."""
    for c in p.children:
        rows = ledger.journal.query("SELECT decision_id FROM orders WHERE order_ref = ?", (c.ref,))
        if rows and rows[0]["decision_id"] is not None:
            return int(rows[0]["decision_id"])
    return None
