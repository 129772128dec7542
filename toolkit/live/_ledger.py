"""The ledger of a live session: the journal and the strategies' books (sleeves) behind
named methods. It is the only writer of journal rows, positions, cash and the targets acted
on; the session and the reconcile tell it what happened, it books and journals it."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd

from toolkit.data import calendar
from toolkit.live import _parent_journal
from toolkit.live._broker_events import FINAL, Executed, StatusChanged
from toolkit.live._fault import Faults
from toolkit.live._order_status import journal_ended, journal_refused, journal_status
from toolkit.live._parent import Child, ParentOrder
from toolkit.live.config import StrategySlot
from toolkit.live.journal import Journal, JournalOrder
from toolkit.live.orders import OrderRef, OrderSpec
from toolkit.live.sleeve import Decision, Outcome, Sleeve
from toolkit.risk import RiskLimits
from toolkit.risk.portfolio import RiskContext
from toolkit.risk.rules import KILL_NAMES

Owner = tuple[str, str]  # (strategy, symbol) of one of the session's orders
_OHLCV = ("open", "high", "low", "close", "volume")


class Ledger:
    """Journal + books of one session (``sid``)."""

    def __init__(
        self, journal: Journal, sid: str, sleeves: dict[str, Sleeve], fault: Faults
    ) -> None:
        self.journal = journal
        self.sid = sid
        self.sleeves = sleeves
        self._fault = fault
        self._owners: dict[str, Owner] = {}  # journaled orderRef -> (strategy, symbol)
        self._bars: dict[str, pd.Timestamp] = {}  # journaled entry orderRef -> decision bar
        self._statuses: dict[str, tuple[str, float]] = {}
        self.last_decided: dict[str, pd.Timestamp] = {}  # bar decided for all its symbols
        self.decided: dict[Owner, pd.Timestamp] = {}  # per strategy x symbol
        self._held_at_close: set[str] = set()  # strategies holding shares at their last bar

    # -- reads ---------------------------------------------------------------------------
    def owner(self, ref: str) -> Owner | None:
        """(strategy, symbol) of a journaled order of this session (None: not ours)."""
        return self._owners.get(ref)

    def bar_of(self, ref: str) -> pd.Timestamp | None:
        return self._bars.get(ref)

    def open_orders(self) -> list[JournalOrder]:
        return self.journal.open_orders(self.sid)

    def open_refs(
        self, strategy: str | None = None, symbol: str | None = None, legs: bool = False
    ) -> list[str]:
        """The session's open orders (of ``strategy`` / ``symbol``; bracket legs only)."""
        out = []
        for jo in self.journal.open_orders(self.sid):
            owner = self._owners.get(jo.order_ref, ("", ""))
            if strategy is not None and owner[0] != strategy:
                continue
            if symbol is not None and owner[1] != symbol:
                continue
            if legs and jo.parent_ref is None:
                continue
            out.append(jo.order_ref)
        return out

    def executed(self) -> dict[str, float]:
        """Shares executed per orderRef."""
        out: dict[str, float] = {}
        for f in self.journal.session_fills(self.sid):
            out[f["order_ref"]] = out.get(f["order_ref"], 0.0) + float(f["shares"])
        return out

    def working(self, label: str) -> dict[str, float]:
        """Signed shares per symbol of the strategy's entry orders the broker may still fill
        (working, or journaled and not yet acknowledged): a new decision is sized against
        filled plus this."""
        executed = self.executed()
        out: dict[str, float] = {}
        for jo in self.journal.open_orders(self.sid):
            owner = self._owners.get(jo.order_ref)
            if owner is None or owner[0] != label or jo.parent_ref is not None:
                continue
            if jo.status == "PendingCancel":
                continue  # being cancelled (kill switch): it will not fill, as in the engine
            left = jo.quantity - executed.get(jo.order_ref, 0.0)
            if left > 1e-9:
                sign = 1.0 if jo.action == "BUY" else -1.0
                out[owner[1]] = out.get(owner[1], 0.0) + sign * left
        return out

    def net(self) -> dict[str, float]:
        """Net shares per symbol over every strategy of the session."""
        ours: dict[str, float] = {}
        for s in self.sleeves.values():
            for sym, q in s.positions.items():
                ours[sym] = ours.get(sym, 0.0) + q
        return ours

    def halted_and_flat(self) -> bool:
        """Whether every strategy is halted by its kill switch and flat, its book marked flat
        at a bar's close: one flattened since its last bar stops at the next bar's close, as
        the engine's flattening shows on the bar it fills on. (Stopping at the fill instead
        made a rehearsal's last decided bar -- and the journal's equity curve -- depend on
        whether the session's loop looked before or after the simulator's next bar.)"""
        return bool(self.sleeves) and all(
            s.killed and not any(s.positions.values()) and label not in self._held_at_close
            for label, s in self.sleeves.items()
        )

    def holders(self, symbol: str) -> list[Sleeve]:
        return [s for s in self.sleeves.values() if symbol in s.positions]

    # -- session -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.journal.transaction():
            yield

    def start(self, mode: str, account: str, config: Mapping[str, Any]) -> None:
        self.journal.start_session(self.sid, mode=mode, account=account, config=config)

    def end(self) -> None:
        self.journal.end_session(self.sid)

    def restore(self, slots: tuple[StrategySlot, ...] | list[StrategySlot]) -> int:
        """Rebuild every book from the journal of a resumed session; returns the number of
        journaled orders."""
        orders = {o["order_ref"]: o for o in self.journal.rows("orders", self.sid)}
        decisions = {d["decision_id"]: d for d in self.journal.rows("decisions", self.sid)}
        for ref, o in orders.items():
            d = decisions.get(o["decision_id"])
            if d is not None:
                self._owners[ref] = (d["strategy"], o["symbol"])
                self._bars[ref] = pd.Timestamp(d["bar_time"])
        fills = self.journal.session_fills(self.sid)
        for f in fills:
            owner = self._owners.get(f["order_ref"])
            if owner is None or owner[0] not in self.sleeves:
                continue
            sleeve = self.sleeves[owner[0]]
            signed = float(f["shares"]) * (1.0 if f["side"] == "BOT" else -1.0)
            sleeve.apply_fill(f["symbol"], signed, float(f["price"]))
            if f["commission"] is not None:
                sleeve.apply_commission(float(f["commission"]))
        filled = {f["order_ref"] for f in fills}
        entry_of = {o["decision_id"]: r for r, o in orders.items() if o["parent_ref"] is None}
        for d in decisions.values():
            book = self.sleeves.get(d["strategy"])
            if book is None:
                continue
            book.closes[d["symbol"]] = float(d["price"])
            outcome = None if d["outcome"] is None else Decision(d["outcome"])
            target = d["target"] if d["target"] is not None else d["signal"]
            if outcome is not None and outcome.orders:
                ref = entry_of.get(d["decision_id"])
                if ref is None:
                    # its order was never journaled (withheld by a guard or a stop, or a crash
                    # of an older toolkit between the two): not acted on, and not decided --
                    # decided again if its bar is still the latest
                    book.retry(d["symbol"])
                    continue
                if ref not in filled and orders[ref]["status"] in FINAL:
                    book.retry(d["symbol"])
                else:
                    book.act_on(d["symbol"], book.exposure(target))
            elif outcome in (Decision.AT_TARGET, Decision.BLOCKED):
                book.act_on(d["symbol"], book.exposure(target))
            key, bar = (d["strategy"], d["symbol"]), pd.Timestamp(d["bar_time"])
            if self.decided.get(key) is None or bar > self.decided[key]:
                self.decided[key] = bar
        for slot in slots:  # a strategy's bar is decided once all its symbols are
            bars = [self.decided.get((slot.label, s)) for s in slot.symbols]
            if bars and all(b is not None for b in bars):
                self.last_decided[slot.label] = min(b for b in bars if b is not None)
        for e in self.journal.rows("equity", self.sid):
            book = self.sleeves.get(e["strategy"] or "")
            if book is not None:
                book.peak = max(book.peak, float(e["net_liquidation"]))
                book.last_equity = float(e["net_liquidation"])
                book.day = calendar.trading_date(pd.Timestamp(e["ts"]))
        for g in self.journal.rows("guard_events", self.sid):
            book = self.sleeves.get(g["strategy"] or "")
            if book is not None and g["guard"] in (*KILL_NAMES.values(), "manual_kill"):
                book.killed = g["guard"]
        return len(orders)

    # -- a bar's decision ----------------------------------------------------------------
    def plan_orders(
        self,
        label: str,
        bar: pd.Timestamp,
        closes: dict[str, float],
        signals: dict[str, float],
        context: RiskContext | None = None,
        pending: Mapping[str, float] | None = None,
    ) -> tuple[str | None, list[Outcome]]:
        """Mark the strategy's book at the bar's closes, apply its kill switch, and plan its
        orders (the engine's close-of-bar step, through the sleeve) against filled plus
        still-working shares: returns the kill rule that fired now (or None) and the
        outcomes, orders first. ``context``: the portfolio rules' history (see Sleeve.plan);
        ``pending``: signed shares per symbol of parent orders not sent as children yet
        (:mod:`toolkit.live._parent_desk`), working too."""
        sleeve = self.sleeves[label]
        sleeve.closes.update(closes)
        fired = sleeve.check_kill_switch(bar)
        working = self.working(label)
        for sym, q in (pending or {}).items():
            working[sym] = working.get(sym, 0.0) + q
        return fired, sleeve.plan(signals, working, context)

    def journal_decision(self, label: str, o: Outcome, bar: pd.Timestamp, late: bool) -> int:
        """Journal one symbol's decision (outcome, guards and the target it acts on)."""
        return self.journal.record_decision(
            self.sid,
            strategy=label,
            symbol=o.symbol,
            bar_time=bar.isoformat(),
            signal=o.signal if not math.isnan(o.signal) else 0.0,
            price=o.price,
            target_qty=o.target_qty,
            current_qty=o.current_qty,
            note=o.note + (" (late)" if late and o.intent is not None else ""),
            outcome=o.decision.value,
            guards=o.guards,
            target=self.sleeves[label].exposure(o.signal),
        )

    def journal_orders(
        self, ref: OrderRef, specs: list[OrderSpec], decision_id: int, target: float
    ) -> bool:
        """Journal an entry order and its bracket legs before they are sent; the book then
        acts on ``target``. False: the entry was journaled before (not to be sent again)."""
        with self.journal.transaction():
            fresh = [
                self.journal.record_order(
                    self.sid,
                    order_ref=x.ref,
                    symbol=x.symbol,
                    action=x.action,
                    quantity=x.quantity,
                    order_type=x.order_type,
                    limit_price=x.limit_price,
                    aux_price=x.aux_price,
                    parent_ref=x.parent_ref,
                    decision_id=decision_id,
                    algo=x.algo_strategy,
                    algo_params=x.algo_params,
                    display_size=x.display_size,
                    oca_group=x.oca_group,
                    oca_type=x.oca_type,
                )
                for x in specs
            ]
        for x in specs:
            self._owners[x.ref] = (ref.strategy, ref.symbol)
            self._bars[x.ref] = ref.bar  # its decision's bar, as restore() reads it back
        if not fresh[0]:
            return False
        self.sleeves[ref.strategy].act_on(ref.symbol, target)
        return True

    # -- parent orders worked by a schedule (toolkit.live._parent_desk) ---------------------
    def journal_parent(
        self, parent: ParentOrder, decision_id: int, params: Mapping[str, Any], arrival: float,
        target: float,
    ) -> bool:  # fmt: skip
        """Journal a parent and its schedule (in the decision's transaction); its book then
        acts on ``target``. False: journaled before (not planned again)."""
        if not _parent_journal.record_parent(
            self.journal, self.sid, parent, decision_id=decision_id, params=params,
            arrival_price=arrival, target=target,
        ):  # fmt: skip
            return False
        self.sleeves[parent.strategy].act_on(parent.symbol, target)
        return True

    def journal_children(self, parent: ParentOrder, children: list[Child]) -> None:
        """Children of a parent planned after it (a POV's, a late VWAP's), before any is sent."""
        _parent_journal.record_children(self.journal, parent, children)

    def journal_parent_status(self, parent: ParentOrder, status: str) -> None:
        """A parent paused, resumed (working), cancelled or done."""
        _parent_journal.record_status(self.journal, parent.parent_id, status)

    def decide_again(self, label: str, symbol: str) -> None:
        """A parent that will not get (all) its shares, or could not be worked: the strategy's
        next bar decides ``symbol`` again, as the engine re-places an unfilled order."""
        self.sleeves[label].retry(symbol)

    # -- manual commands (toolkit.live.commands) -------------------------------------------
    def journal_modification(
        self, ref: str, limit_price: float | None, quantity: float | None, message: str
    ) -> None:
        """A working order's new limit and/or quantity (a modify command), journaled before
        the broker is told (nothing lost)."""
        self.journal.record_modification(ref, limit_price, quantity, message)

    def modification_refused(
        self, ref: str, limit_price: float | None, quantity: float | None, status: str,
        old_quantity: float, acted: float, message: str, still_working: str,
    ) -> None:  # fmt: skip
        """IB refused a modification of ``ref``: the order works unchanged, so its journal row
        gets back ``limit_price`` / ``quantity`` (None: not modified) and ``status`` of its
        ``old_quantity`` shares (when the client took the refusal for the order's end), and
        its strategy gets back its acted-on target ``acted``."""
        self.journal.record_modification(ref, limit_price, quantity, message)
        jo = self.journal.order(ref)
        if jo is not None and jo.status in FINAL and status not in FINAL:
            # the client took the refusal for the order's end; the broker works it still
            filled = self.executed().get(ref, 0.0)
            self.journal.record_order_status(
                ref, status=status, filled=filled, remaining=old_quantity - filled,
                avg_fill_price=0.0, message=still_working,
            )  # fmt: skip
        owner = self._owners.get(ref)
        if owner is not None:
            self.sleeves[owner[0]].act_on(owner[1], acted)

    def journal_snapshot(self, label: str, bar: pd.Timestamp) -> float:
        """Journal the strategy's equity and positions at the bar; returns the equity."""
        sleeve = self.sleeves[label]
        eq = sleeve.equity()
        self.journal.record_equity(
            self.sid,
            net_liquidation=eq,
            cash=sleeve.cash,
            realized_pnl=sleeve.realized,
            unrealized_pnl=sleeve.unrealized(),
            strategy=label,
            ts=bar.isoformat(),
        )
        for sym, q in sleeve.positions.items():
            self.journal.record_position(
                self.sid, symbol=sym, quantity=q, avg_cost=sleeve.avg_cost[sym]
            )
        return eq

    def journal_bars(self, bar_size: str, windows: Mapping[str, pd.DataFrame]) -> None:
        """Journal the completed bars a decision saw that the journal lacks (the TCA's
        market path: :mod:`toolkit.live.tca_history`)."""
        for sym, w in windows.items():
            tail = w.iloc[-64:]  # a decision follows the last by a bar or a few
            rows = zip(
                (pd.Timestamp(t).isoformat() for t in tail.index),
                *(tail[c].to_numpy(dtype=float).tolist() for c in _OHLCV),
                strict=True,
            )
            self.journal.record_bars(self.sid, sym, bar_size, list(rows))

    def mark_decided(self, label: str, symbols: tuple[str, ...], bar: pd.Timestamp) -> None:
        self.last_decided[label] = bar
        if any(self.sleeves[label].positions.values()):
            self._held_at_close.add(label)
        else:
            self._held_at_close.discard(label)
        for sym in symbols:
            self.decided[(label, sym)] = bar

    def journal_guard(
        self, guard: str, detail: str, strategy: str | None = None, symbol: str | None = None
    ) -> None:
        self.journal.record_guard(
            self.sid, guard=guard, detail=detail, symbol=symbol, strategy=strategy
        )

    def set_risk(self, label: str, risk: RiskLimits) -> None:
        """New ``[risk]`` limits for a strategy's book (a reload, toolkit.live._reload)."""
        self.sleeves[label].risk = risk

    def journal_risk_change(self, **row: Any) -> None:
        """A reload of the ``[risk]`` limits, journaled with its values."""
        self.journal.record_risk_change(self.sid, **row)

    # -- what the broker says happened ---------------------------------------------------
    def book_execution(self, ex: Executed) -> Owner | None:
        """Journal and book an execution of one of our orders; returns its (strategy, symbol),
        None if it is not ours or was booked before. A fill the journal cannot hold raises
        FillConflict."""
        owner = self._owners.get(ex.ref)
        if owner is None:
            return None
        fresh = self.journal.record_fill(
            exec_id=ex.exec_id,
            order_ref=ex.ref,
            symbol=owner[1],
            side=ex.side,
            shares=ex.shares,
            price=ex.price,
            ts=ex.time.isoformat(),
        )
        if not fresh:
            return None
        self._fault("after-fill")
        sign = 1.0 if ex.side == "BOT" else -1.0
        self.sleeves[owner[0]].apply_fill(owner[1], sign * ex.shares, ex.price)
        if ex.commission is not None:
            self.book_commission(ex.ref, ex.exec_id, ex.commission)
        return owner

    def has_fill(self, exec_id: str, ref: str) -> bool:
        return self.journal.has_fill(exec_id, ref)

    def book_commission(self, ref: str, exec_id: str, commission: float) -> None:
        """Journal and book IB's commission of an execution already journaled (once)."""
        owner = self._owners.get(ref)
        if owner is None or self.journal.fill_commission(exec_id, ref) is not None:
            return
        self.journal.record_commission(exec_id, commission, order_ref=ref)
        self.sleeves[owner[0]].apply_commission(commission)

    def order_status(self, st: StatusChanged) -> bool:
        """Journal an order's new status; an entry that died unfilled is decided again
        next bar, as the engine re-places an unfilled order. False: not ours, or no change."""
        owner = self._owners.get(st.ref)
        if owner is None or not journal_status(self.journal, self._statuses, st):
            return False
        if st.status in FINAL and st.filled == 0.0 and not st.child:
            self.sleeves[owner[0]].retry(owner[1])
        return True

    def order_rejected(self, ref: str, message: str, filled_at_broker: float) -> float:
        """IB refused an order: journaled as Inactive and decided again next bar -- unless
        shares of it executed (returned: then the executions stand)."""
        got = max(self.executed().get(ref, 0.0), filled_at_broker)
        if got > 0.0:
            return got
        journal_refused(self.journal, ref, message)
        owner = self._owners[ref]
        self.sleeves[owner[0]].retry(owner[1])
        return 0.0

    def order_ended(self, jo: JournalOrder, status: str, filled: float, message: str) -> None:
        """An order ended while the session did not see it end (reconcile, a resend that is
        dropped): its final status; an entry with nothing filled is decided again."""
        journal_ended(self.journal, jo, status, filled, message)
        owner = self._owners.get(jo.order_ref)
        if owner is not None and filled == 0 and jo.parent_ref is None:
            self.sleeves[owner[0]].retry(owner[1])

    def withdraw(self, specs: list[OrderSpec], message: str) -> None:
        """Journaled orders that will not be sent (their symbol is halted): cancelled, and
        their decision is taken again next bar."""
        for x in specs:
            self.journal.record_order_status(
                x.ref, status="Cancelled", filled=0.0, remaining=x.quantity, avg_fill_price=0.0,
                message=message,
            )  # fmt: skip
        owner = self._owners.get(specs[0].ref)
        if owner is not None:
            self.sleeves[owner[0]].retry(owner[1])

    def adopt(self, book: Sleeve, symbol: str, shares: float, price: float) -> None:
        """Book the broker's position for ``symbol`` ([risk] on_mismatch = "adopt")."""
        book.apply_fill(symbol, shares, price)


def queue_command(
    journal: Journal, session_id: str, source: str, action: str, target: str,
    args: Mapping[str, Any],
) -> int:  # fmt: skip
    """A manual command queued for session ``session_id`` by another process (the CLI, the
    web app) or the dashboard; its session claims and settles it. Returns its id."""
    return journal.record_command(
        session_id, source=source, action=action, target=target, args=args
    )
