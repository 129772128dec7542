"""The parent orders of a live session (issue 17.3): a decision of a slot configured with one
of our schedules (``[strategies.execution] algo = "twap" | "vwap" | "pov"``) becomes a parent worked
child by child, on the session's clock and 1-minute bars.

* **decide**: the parent and its whole schedule (:mod:`toolkit.live._parent_plan`, i.e. the
  functions the execution backtest calls) are journaled in the decision's transaction (a
  VWAP decided before its symbol's minute history is in: its schedule at the next pass,
  before any child; a POV: minute by minute); the strategy's book acts on the target as for
  a single order;
* **minutes**: while a parent works in a symbol the session keeps its 1-minute bars
  (keepUpToDate, with the history a VWAP profile needs), so a rehearsal's clock stops at
  every minute then -- and only then (:meth:`ParentDesk.sync`);
* **work**: at every pass of the session (each new bar) the children whose time has come are
  journaled as orders -- ref ``<parent ref>/c<k>``, a DAY order of the schedule's type and
  limit -- and sent once the journal has them (intent before send); statuses and fills come
  back through the journal like any order's;
* **restart**: parents and schedules are read back from the journal. A child with an order
  row was sent, or -- unknown to the broker, no execution -- is sent again while its window
  lasts; a child without one is still to come (one whose time passed while the session was
  down goes at once, as after a pause). Nothing is sent twice, nothing is lost;
* **steer**: :meth:`ParentOrder.pause` / ``resume`` / ``cancel`` (dashboard, CLI) come here
  through the parent's listener: journaled, and a cancel cancels the working children.

A parent whose window ends before every child was sent (paused through its end) or that ends
with shares unfilled leaves its strategy free to order the rest at the next decision, as the
engine re-places an unfilled order. While it works, its unsent shares count as working, so a
new decision never orders them a second time.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from typing import cast

import pandas as pd
from ib_async.objects import BarDataList

from toolkit.errors import DataError
from toolkit.execution import ChildOrders
from toolkit.live import _parent_journal as pj
from toolkit.live import bars as livebars
from toolkit.live._broker import Broker
from toolkit.live._ledger import Ledger
from toolkit.live._parent import CANCELLED, DONE, Child, ParentOrder
from toolkit.live._parent_plan import check_supported, history_duration, plan, pov_so_far
from toolkit.live.config import LiveConfig, StrategySlot
from toolkit.live.orders import OrderRef, OrderSpec
from toolkit.live.sleeve import Outcome


class ParentDesk:
    """The session's parent orders (``parents``, shared with :attr:`LiveSession.parents`)."""

    def __init__(
        self,
        cfg: LiveConfig,
        ledger: Ledger,
        parents: dict[str, ParentOrder],
        log: Callable[[str], None],
        cancel: Callable[[list[str]], list[str]],
    ) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.parents = parents
        self.log = log
        self._cancel = cancel
        self.streams: dict[str, BarDataList] = {}  # symbol -> 1-minute bars (keepUpToDate)
        self._decisions: dict[str, tuple[int | None, float]] = {}  # parent -> (decision, target)
        self._ended: set[str] = set()  # parents journaled done or cancelled
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._broker: Broker | None = None
        self._on_update: Callable[[BarDataList, bool], None] | None = None
        check_supported((s.label, s.execution) for s in cfg.strategies)

    @staticmethod
    def worked(slot: StrategySlot) -> bool:
        """Whether the slot's orders are parents worked by one of our schedules."""
        return slot.execution.ours

    # -- start-up ------------------------------------------------------------------------
    def restore(self) -> list[str]:
        """The session's parents as journaled (a resumed session); returns those still
        working."""
        journal = self.ledger.journal
        working = []
        for p in pj.load_parents(journal, self.ledger.sid):
            p.listener = self._changed
            self.parents[p.parent_id] = p
            self._decisions[p.parent_id] = pj.decision_of(journal, p.parent_id)
            status = journal.query(
                "SELECT status FROM parents WHERE parent_ref = ?", (p.parent_id,)
            )[0]["status"]
            if status in (DONE, CANCELLED):
                self._ended.add(p.parent_id)
            else:
                # work() plans on from the bars: a POV minute by minute, a VWAP not planned yet
                p.planning = p.unplaced > 0 and (p.algo == "pov" or not p.children)
                working.append(p.parent_id)
        return working

    async def subscribe(
        self, broker: Broker, on_update: Callable[[BarDataList, bool], None]
    ) -> None:
        """After a (re)connect: the broker and the bar callback the minute streams use, and
        the streams of the parents that still work (:meth:`sync`)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._broker, self._on_update = broker, on_update
        self.streams.clear()
        await self.sync()

    async def sync(self) -> None:
        """1-minute bars (with the history the schedules need) of every symbol a parent works
        in -- the clock its children are sent on, the VWAP profile's past sessions -- only
        while one works: a rehearsal's clock stops at every minute then, and only then."""
        broker, on_update = self._broker, self._on_update
        if broker is None or on_update is None:
            return
        active = {p.symbol: p.strategy for p in self.parents.values()
                  if p.parent_id not in self._ended}  # fmt: skip
        for sym in [s for s in self.streams if s not in active]:
            broker.cancel_bars(self.streams.pop(sym))
        for sym, label in active.items():
            if sym in self.streams:
                continue
            spec = next(s for s in self.cfg.strategies if s.label == label).execution
            days = max(
                (history_duration(s.execution) for s in self.cfg.strategies
                 if self.worked(s) and sym in s.symbols),
                key=lambda x: int(x.split()[0]), default=history_duration(spec),
            )  # fmt: skip
            try:
                self.streams[sym] = await broker.bars(sym, "1 min", days, on_update)
            except (ConnectionError, OSError, TimeoutError) as exc:
                self.log(f"1-minute bars of {sym} not subscribed ({exc}); trying again next pass")
                continue
            if not self.streams[sym]:
                self.log(
                    f"WARNING: no 1-minute bars of {sym} from the broker: its parents' children "
                    "go out on the session's own passes, and a VWAP or POV cannot be planned"
                )

    def minutes(self, symbol: str, now: pd.Timestamp) -> pd.DataFrame | None:
        """The completed 1-minute bars of ``symbol`` at ``now`` (None: not subscribed)."""
        stream = self.streams.get(symbol)
        if stream is None or not stream:
            return None
        return livebars.completed(livebars.frame(stream), now, "1 min")

    def newest(self) -> list[pd.Timestamp]:
        """The label of each minute stream's newest bar (the lockstep's check)."""
        return [livebars.bar_label(st[-1].date) for st in self.streams.values() if len(st)]

    # -- a decision ----------------------------------------------------------------------
    def open_parent(
        self,
        slot: StrategySlot,
        o: Outcome,
        ref: OrderRef,
        decision_id: int,
        now: pd.Timestamp,
    ) -> ParentOrder | None:
        """Plan and journal the parent of an outcome's order (inside the decision's
        transaction); None when it cannot be worked (the window is over, too little
        history: said in the log, and the symbol is decided again at the next bar) or when
        the journal has it already."""
        intent = o.intent
        assert intent is not None
        q = round(abs(intent.quantity))
        spec = slot.execution
        first, _ = spec.window(now)
        start, end = spec.window(first.ceil("1min"))  # the execution backtest's bar grid
        pid = str(ref)
        try:
            if q < 1 or end <= start:
                raise DataError(
                    f"its window {spec.start or 'now'} .. {spec.end or 'close'} "
                    f"is over at {now:%Y-%m-%d %H:%M} UTC"
                )
            minutes = self.minutes(o.symbol, now)
            # a VWAP needs the minute history: planned once its stream is in (work())
            deferred = spec.algo == "vwap" and minutes is None
            children = plan(spec, q, start, end, minutes, deferred)
        except DataError as exc:
            self.log(f"{pid}: parent of {intent.quantity:+g} {o.symbol} not worked: {exc}")
            self.ledger.decide_again(slot.label, o.symbol)
            return None
        parent = ParentOrder(
            parent_id=pid,
            strategy=slot.label,
            symbol=o.symbol,
            action="BUY" if intent.quantity > 0 else "SELL",
            quantity=q,
            algo=spec.algo,
            decided=ref.bar,
            start=start,
            end=end,
            children=_children(ref, children, 0),
            planning=spec.algo == "pov" or deferred,  # work() plans on from the minutes
            listener=self._changed,
        )
        if not self.ledger.journal_parent(
            parent, decision_id, dict(spec.params), intent.price, intent.target
        ):
            self.log(f"{pid} is already in the journal; not planned again")
            return None
        self.parents[pid] = parent
        self._decisions[pid] = (decision_id, intent.target)
        self.log(
            f"parent {pid}: {parent.action} {q} {o.symbol} by {spec.algo} in "
            f"{len(children)} children, {start:%H:%M}-{end:%H:%M} UTC"
            + (f" ({children.remaining} unplaced by the cap)" if children.remaining else "")
        )
        return parent

    # -- each pass -----------------------------------------------------------------------
    def pending(self, label: str) -> dict[str, float]:
        """Signed shares per symbol of the strategy's parents still to be sent as children
        (working children count as working orders already)."""
        out: dict[str, float] = {}
        for p in self.parents.values():
            if p.strategy == label and p.parent_id not in self._ended and p.pending:
                out[p.symbol] = out.get(p.symbol, 0.0) + p.sign * p.pending
        return out

    def work(self, now: pd.Timestamp) -> list[OrderSpec]:
        """Journal the children due at ``now`` and return them to send (after the journal
        commit); end the parents that are over."""
        out: list[OrderSpec] = []
        for p in list(self.parents.values()):
            if p.parent_id in self._ended:
                continue
            self._refresh(p)
            if p.planning:
                self._plan_on(p, now)
            if not p.cancelled and now >= p.end and p.pending:
                # paused through the end of its window, or the session was down at its end:
                # what was not sent by then is not sent (the next decision may order it)
                self.log(f"parent {p.parent_id}: its window is over; {p.pending} shares not sent")
                p.cancelled = True
                self.ledger.journal_parent_status(p, CANCELLED)
            for c in p.due(now):
                spec = self._spec(p, c)
                decision_id, target = self._decisions.get(p.parent_id, (None, math.nan))
                # the child's order row carries its parent's decision (owner, bar on restart)
                if self.ledger.journal_orders(
                    OrderRef.parse(c.ref), [spec], cast(int, decision_id), target
                ):
                    out.append(spec)
                c.journaled, c.status = True, "PendingSubmit"
            self._end_if_over(p)
        return out

    def resend(self, now: pd.Timestamp, broker: Broker, broker_checked: bool) -> list[OrderSpec]:
        """After a (re)connect and the reconcile: children journaled but unknown to the broker
        and unexecuted, sent again while their parent's window lasts (else ended)."""
        out: list[OrderSpec] = []
        executed = self.ledger.executed()
        open_refs = {jo.order_ref: jo for jo in self.ledger.open_orders()}
        for p in self.parents.values():
            for c in p.children:
                jo = open_refs.get(c.ref)
                if jo is None or jo.status != "PendingSubmit" or broker.knows(c.ref):
                    continue
                if c.ref in executed:
                    continue
                if broker_checked and now < p.end and not p.cancelled:
                    out.append(self._spec(p, c))
                else:
                    why = (
                        "never sent; its parent's window has passed"
                        if broker_checked
                        else ("never sent; the broker could not be asked about it")
                    )
                    self.ledger.order_ended(jo, "Cancelled", 0.0, why)
        return out

    # -- internals -----------------------------------------------------------------------
    def _plan_on(self, p: ParentOrder, now: pd.Timestamp) -> None:
        """A parent planned one minute at a time (POV): its children up to ``now``, the new
        ones journaled before any is sent; planning ends with the window or the parent. A
        VWAP decided before its minute stream was in: its whole schedule, once it is."""
        spec = next(s for s in self.cfg.strategies if s.label == p.strategy).execution
        minutes = self.minutes(p.symbol, now)
        if spec.algo != "pov":
            if minutes is None:
                return  # the stream is on its way
            try:
                planned = plan(spec, p.quantity, p.start, p.end, minutes)
            except DataError as exc:
                self.log(f"parent {p.parent_id} not worked: {exc}")
                p.planning = False
                p.cancel()
                return
            new = _children(OrderRef.parse(p.parent_id), planned, 0)
            self.ledger.journal_children(p, new)
            p.children.extend(new)
            p.planning = False
            self.log(f"parent {p.parent_id}: planned in {len(new)} children")
            return
        so_far = pov_so_far(spec, p.quantity, p.start, p.end, minutes, now)
        new = _children(OrderRef.parse(p.parent_id), so_far, len(p.children))
        if new:
            self.ledger.journal_children(p, new)
            p.children.extend(new)
        if now >= p.end or p.unplaced <= 0:
            p.planning = False

    @staticmethod
    def _spec(p: ParentOrder, c: Child) -> OrderSpec:
        return OrderSpec(
            c.ref, p.symbol, p.action, float(c.quantity), c.order_type, "DAY",
            limit_price=c.limit,
        )  # fmt: skip

    def _refresh(self, p: ParentOrder) -> None:
        states = pj.child_states(self.ledger.journal, p.parent_id)
        for c in p.children:
            got = states.get(c.ref)
            if got is not None:
                c.journaled = True
                c.status, c.filled = got

    def _end_if_over(self, p: ParentOrder) -> None:
        if not p.done:
            return
        self._ended.add(p.parent_id)
        status = CANCELLED if p.cancelled else DONE
        self.ledger.journal_parent_status(p, status)
        filled = p.filled
        if filled < p.quantity - 1e-9:
            # shares the parent did not get: the next decision may order them again
            self.ledger.decide_again(p.strategy, p.symbol)
        self.log(f"parent {p.parent_id} {status}: {filled:g}/{p.quantity} {p.symbol}")

    def _changed(self, p: ParentOrder, what: str) -> None:
        """A parent was paused, resumed or cancelled (maybe from another thread)."""
        loop = self._loop
        if loop is not None and loop.is_running() and threading.get_ident() != self._thread:
            loop.call_soon_threadsafe(self._apply, p, what)
        else:
            self._apply(p, what)

    def _apply(self, p: ParentOrder, what: str) -> None:
        self.ledger.journal_parent_status(p, what)
        self.log(f"parent {p.parent_id}: {what}")
        if what == CANCELLED:
            refs = self._cancel(p.working_refs())
            if refs:
                self.log(f"parent {p.parent_id}: cancelling {len(refs)} working child(ren)")
            self._end_if_over(p)


def _children(ref: OrderRef, planned: ChildOrders, first: int) -> list[Child]:
    """The schedule's children from number ``first`` on, under ``ref``'s child refs."""
    return [
        Child(
            k=k,
            ref=str(ref.sliced(k)),
            time=pd.Timestamp(planned.time[k]).tz_localize("UTC"),
            quantity=int(planned.quantity[k]),
            order_type=str(planned.order_type[k]),
            limit=None if math.isnan(planned.limit[k]) else float(planned.limit[k]),
        )
        for k in range(first, len(planned))
    ]
