"""After every (re)connect: bring the ledger in line with what the broker says happened --
the orders it works or has completed, its positions (the session replays its executions
first) -- and find the orders journaled but never sent (a crash between the journal commit
and placeOrder)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from toolkit.live._broker import Broker
from toolkit.live._broker_events import FINAL
from toolkit.live._guards import Guards
from toolkit.live._ledger import Ledger
from toolkit.live.config import LiveConfig, StrategySlot
from toolkit.live.ib_algos import as_journaled
from toolkit.live.journal import JournalOrder
from toolkit.live.orders import OrderRef, OrderSpec

Placement = tuple[OrderSpec, list[OrderSpec]]  # an entry order and its bracket legs


async def settle_orders(
    broker: Broker,
    ledger: Ledger,
    guards: Guards,
    log: Callable[[str], None],
    cfg: LiveConfig,
    account: str,
) -> bool:
    """With the broker's executions already replayed: the journal's open orders matched to
    the broker's working ones by orderRef, those it no longer works settled from its
    executions and completed orders, positions compared. Returns whether the broker
    answered about every order (else nothing is resent)."""
    working = await broker.working_orders()
    completed = await broker.completed_orders(cfg.connection.timeout)
    if completed is None:
        log("the broker did not answer reqCompletedOrders; no order will be resent")
    executed = ledger.executed()
    for jo in ledger.open_orders():
        found = working.get(jo.order_ref)
        if found is not None:
            if ledger.order_status(found) and found.line is not None:
                log(found.line)
            continue
        got = executed.get(jo.order_ref, 0.0)
        ended = (completed or {}).get(jo.order_ref)
        if got >= jo.quantity - 1e-9:
            ledger.order_ended(jo, "Filled", got, "reconciled from executions")
        elif ended is not None:
            # it reached the broker and ended there while we were away (expired,
            # cancelled, rejected): never send it again
            status = ended if ended in FINAL else "Cancelled"
            ledger.order_ended(
                jo, status, got, f"ended at the broker: {status} (completed orders, reconcile)"
            )
        elif jo.status == "PendingSubmit" and got == 0:
            pass  # journaled, unknown to the broker: settled once the bars are loaded
        else:
            ledger.order_ended(jo, "Cancelled", got, "no longer working at the broker (reconcile)")
    check_positions(broker, ledger, guards, cfg.on_mismatch, account)
    return completed is not None


def check_positions(
    broker: Broker, ledger: Ledger, guards: Guards, on_mismatch: str, account: str
) -> None:
    """Compare the books with the broker's positions. A symbol that disagrees is halted (no
    new order until they agree) or, with ``[risk] on_mismatch = "adopt"``, booked at the
    broker's quantity; either way journaled, shown and mailed."""
    broker_has = broker.positions(account)
    ours = ledger.net()
    for sym in sorted(ours):
        theirs, cost = broker_has.get(sym, (0.0, 0.0))
        if abs(ours[sym] - theirs) <= 1e-6:
            guards.lift(sym, theirs)
            continue
        said = f"{sym}: journal says {ours[sym]:+g} shares, broker says {theirs:+g}"
        holders = ledger.holders(sym)
        if on_mismatch == "adopt" and len(holders) == 1:
            book = holders[0]
            price = book.closes.get(sym, math.nan)
            if math.isnan(price) or price <= 0.0:  # no bar yet: the broker's cost
                price = cost
            ledger.adopt(book, sym, theirs - ours[sym], price)
            guards.forget(sym)
            guards.fire(
                "position_mismatch",
                f"{said}; adopted the broker's {theirs:+g} (booked at {price:.2f}) "
                "([risk] on_mismatch = adopt)",
                book.label,
                sym,
            )
            continue
        why = f"{said}; no new orders for {sym} until they agree" + (
            " (it is shared by several strategies, so it cannot be adopted)"
            if on_mismatch == "adopt"
            else ' (or restart with [risk] on_mismatch = "adopt")'
        )
        guards.halt(sym, why)


def unsent(
    broker: Broker,
    ledger: Ledger,
    cfg: LiveConfig,
    broker_checked: bool,
    latest_bar: Callable[[str], pd.Timestamp | None],
) -> list[Placement]:
    """Orders journaled but unknown to the broker -- the reconcile asked its open orders,
    executions and completed orders for their refs. One is sent again (returned) only while
    its decision bar is still the strategy's latest complete bar at the broker
    (``latest_bar``); an older one is dropped, and the next decision is sized from what the
    account holds."""
    pending = ledger.open_orders()
    executed = ledger.executed()
    again: list[Placement] = []
    for jo in pending:
        if jo.status != "PendingSubmit" or broker.knows(jo.order_ref):
            continue
        owner, bar = ledger.owner(jo.order_ref), ledger.bar_of(jo.order_ref)
        if owner is None or jo.parent_ref is not None or bar is None:
            continue
        if OrderRef.parse(jo.order_ref).slice is not None:
            continue  # a parent's child: resent by its parent (toolkit.live._parent_desk)
        if jo.order_ref in executed:
            continue  # it reached the broker: executions say so
        slot = _slot(cfg, owner[0])
        latest = latest_bar(owner[0])
        legs = [o for o in pending if o.parent_ref == jo.order_ref]
        if broker_checked and latest is not None and bar >= latest:
            spec = OrderSpec(
                jo.order_ref, jo.symbol, jo.action, jo.quantity, jo.order_type,
                _tif(slot, jo.order_type), jo.limit_price, jo.aux_price,
            )  # fmt: skip
            # the algo, iceberg size and OCA group it was journaled with (toolkit.live.ib_algos)
            spec = as_journaled(spec, ledger.journal.order_extras(jo.order_ref))
            if spec.algo_strategy is not None or spec.display_size is not None:
                spec = replace(spec, tif="DAY" if spec.tif == "OPG" else spec.tif)
            kids = [_leg(slot, o) for o in legs]
            kids = [as_journaled(x, ledger.journal.order_extras(x.ref)) for x in kids]
            again.append((spec, kids))
        else:
            why = (
                "never sent; its bar has passed"
                if broker_checked
                else "never sent; the broker could not be asked about it"
            )
            for o in (jo, *legs):
                ledger.order_ended(o, "Cancelled", 0.0, why)
    return again


def _slot(cfg: LiveConfig, label: str) -> StrategySlot:
    return next(x for x in cfg.strategies if x.label == label)


def _tif(slot: StrategySlot, order_type: str) -> str:
    daily = slot.bar_size == "1 day"
    return "OPG" if order_type == "MKT" and slot.run.engine.fill == "next_open" and daily else "DAY"


def _leg(slot: StrategySlot, o: JournalOrder) -> OrderSpec:
    pct = None
    exits = slot.exits.exits(slot.run.engine) if slot.exits is not None else slot.run.engine
    if o.order_type == "TRAIL":
        pct = round(100.0 * float(exits.trailing_stop or 0.0), 4)
    tif = slot.exits.tif if slot.exits is not None else "GTC"
    return OrderSpec(
        o.order_ref, o.symbol, o.action, o.quantity, o.order_type, tif, o.limit_price,
        o.aux_price, pct, o.parent_ref,
    )  # fmt: skip
