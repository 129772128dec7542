"""A parent order worked by one of our schedules in a live session (issue 17.3): the decision's
order, split into child orders by the very function the execution backtest calls
(:mod:`toolkit.execution`), each child sent at its time as an order of its own whose orderRef
names the parent (``<parent ref>/c<k>``, :class:`toolkit.live.orders.OrderRef`).

:class:`ParentOrder` is the state the dashboard and the CLI read and steer: ``progress``,
``paused``, :meth:`ParentOrder.pause` / :meth:`ParentOrder.resume` / :meth:`ParentOrder.cancel`.
It holds no broker and no journal: a change is handed to its ``listener`` (the session's
:class:`toolkit.live._parent_desk.ParentDesk`), which journals it and cancels children at the
broker, on the session's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

# ParentOrder.status values (the journal's parents.status)
WORKING, PAUSED, CANCELLED, DONE = "working", "paused", "cancelled", "done"
STATUSES = (WORKING, PAUSED, CANCELLED, DONE)
_FINAL = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


@dataclass
class Child:
    """One child of a parent's schedule: what the schedule said (``time``, ``quantity``,
    ``order_type``, ``limit``) and what became of it. ``journaled``: its order is in the
    journal (sent, or about to be -- the journal's intent-before-send rule); ``status`` the
    broker's last word on it (``"planned"`` before it is journaled); ``filled`` its shares
    executed."""

    k: int
    ref: str
    time: pd.Timestamp
    quantity: int
    order_type: str
    limit: float | None = None
    journaled: bool = False
    status: str = "planned"
    filled: float = 0.0

    @property
    def final(self) -> bool:
        """Nothing more will happen to it: filled, or ended at the broker, or never to be sent."""
        return self.status in _FINAL or self.filled >= self.quantity - 1e-9


Listener = Callable[["ParentOrder", str], None]


@dataclass(eq=False)
class ParentOrder:
    """A parent order and its children (see the module docstring).

    ``parent_id``: the parent's orderRef (its children's refs extend it); ``quantity``: the
    parent's shares (unsigned; ``action`` BUY or SELL); ``algo``: the schedule
    (``twap``, ``vwap``, ...); ``decided``: the decision bar; ``start``/``end``: the working
    window (UTC); ``children``: the schedule's children in time order (their quantities may
    add up to less than the parent: ``unplaced``, e.g. a VWAP participation cap);
    ``planning``: more children may still come (a POV sizes each from the last bar's
    volume, so its children are known one bar at a time)."""

    parent_id: str
    strategy: str
    symbol: str
    action: str
    quantity: int
    algo: str
    decided: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp
    children: list[Child] = field(default_factory=list)
    paused: bool = False
    cancelled: bool = False
    planning: bool = False
    listener: Listener | None = field(default=None, repr=False)

    # -- what the dashboard reads ----------------------------------------------------------
    @property
    def filled(self) -> float:
        """Shares executed over all children."""
        return float(sum(c.filled for c in self.children))

    @property
    def progress(self) -> tuple[float, int]:
        """(shares filled, parent shares)."""
        return self.filled, self.quantity

    @property
    def sent(self) -> int:
        """Shares of the children journaled (sent or about to be)."""
        return sum(c.quantity for c in self.children if c.journaled)

    @property
    def unplaced(self) -> int:
        """Shares the schedule did not place in any child."""
        return self.quantity - sum(c.quantity for c in self.children)

    @property
    def pending(self) -> int:
        """Shares of children still to be sent (0 once cancelled)."""
        if self.cancelled:
            return 0
        if self.planning:
            return self.quantity - self.sent
        return sum(c.quantity for c in self.children if not c.journaled)

    @property
    def done(self) -> bool:
        """Cancelled, or every child sent and final."""
        if self.cancelled:
            return all(c.final or not c.journaled for c in self.children)
        return not self.planning and all(c.journaled and c.final for c in self.children)

    @property
    def status(self) -> str:
        """``working``, ``paused``, ``cancelled`` or ``done``."""
        if self.cancelled:
            return CANCELLED
        if self.done:
            return DONE
        return PAUSED if self.paused else WORKING

    @property
    def sign(self) -> float:
        return 1.0 if self.action == "BUY" else -1.0

    def due(self, now: pd.Timestamp) -> list[Child]:
        """Children whose time has come and that are not journaled yet (none while paused or
        cancelled)."""
        if self.paused or self.cancelled:
            return []
        return [c for c in self.children if not c.journaled and c.time <= now]

    def child(self, ref: str) -> Child | None:
        return next((c for c in self.children if c.ref == ref), None)

    def working_refs(self) -> list[str]:
        """Children sent and not final (what a cancel must reach at the broker)."""
        return [c.ref for c in self.children if c.journaled and not c.final]

    # -- what the dashboard and the CLI do ---------------------------------------------------
    def pause(self) -> None:
        """Stop sending children (the ones already sent keep working); journaled."""
        if self.cancelled or self.paused or self.done:
            return
        self.paused = True
        self._changed(PAUSED)

    def resume(self) -> None:
        """Send children again; those whose time passed while paused go at once."""
        if self.cancelled or not self.paused:
            return
        self.paused = False
        self._changed(WORKING)

    def cancel(self) -> None:
        """Send no more children and cancel the working ones at the broker; journaled."""
        if self.cancelled or self.done:
            return
        self.cancelled = True
        self._changed(CANCELLED)

    def _changed(self, what: str) -> None:
        if self.listener is not None:
            self.listener(self, what)
