"""The ledger of an option session: the journal and the option book behind named methods.
It is the only writer of journal rows and of the book. A combo order is one ``orders`` row
(net quantity in combo units, net limit price) plus its legs in ``combo_legs``; IB reports
one execution per leg (booked here, per leg, in contracts) and one for the combo itself (its
net price: not a position, so not booked as a fill)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from toolkit.live._broker_events import FINAL, Executed, StatusChanged
from toolkit.live._fault import Faults
from toolkit.live._option_book import OptionBook, OptionContract
from toolkit.live._option_plan import Spread
from toolkit.live._order_status import journal_ended, journal_refused, journal_status
from toolkit.live.journal import FillConflict, Journal, JournalOrder
from toolkit.live.orders import OrderSpec
from toolkit.risk.rules import KILL_NAMES

# decisions.outcome codes of an option session (stored: never renamed)
OPEN, CLOSE, BLOCKED, TRIMMED, NO_TRADE = (
    "spread_open",
    "spread_close",
    "spread_blocked",
    "spread_trimmed",
    "no_trade",
)
ORDERS = (OPEN, CLOSE, TRIMMED)


class OptionLedger:
    """Journal + option book of one session (``sid``) and one strategy (``book.label``)."""

    def __init__(self, journal: Journal, sid: str, book: OptionBook, fault: Faults) -> None:
        self.journal = journal
        self.sid = sid
        self.book = book
        self._fault = fault
        self._orders: set[str] = set()  # journaled orderRefs of this session
        self._legs: dict[str, dict[int, OptionContract]] = {}  # ref -> conId -> contract
        self._statuses: dict[str, tuple[str, float]] = {}
        self.decided: set[pd.Timestamp] = set()  # entry slots decided
        self.closing: set[str] = set()  # orderRefs of combos that close the book's spread

    # -- reads ---------------------------------------------------------------------------
    def ours(self, ref: str) -> bool:
        return ref in self._orders

    def open_orders(self) -> list[JournalOrder]:
        return self.journal.open_orders(self.sid)

    def executed_units(self) -> dict[str, float]:
        """Combo units executed per orderRef (the first leg's contracts over its ratio)."""
        out: dict[str, float] = {}
        firsts = {ref: min(legs) for ref, legs in self._legs.items() if legs}
        ratio = {ref: self._ratio(ref, c) for ref, c in firsts.items()}
        for f in self.journal.session_fills(self.sid):
            ref = f["order_ref"]
            leg = self._leg_of(ref, f["symbol"])
            if leg is not None and leg.con_id == firsts.get(ref):
                out[ref] = out.get(ref, 0.0) + float(f["shares"]) / ratio[ref]
        return out

    def _ratio(self, ref: str, con_id: int) -> float:
        for leg in self.journal.combo_legs(ref):
            if int(leg["con_id"]) == con_id:
                return float(leg["ratio"])
        return 1.0

    def _leg_of(self, ref: str, symbol: str) -> OptionContract | None:
        return next((c for c in self._legs.get(ref, {}).values() if c.symbol == symbol), None)

    # -- session -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.journal.transaction():
            yield

    def start(self, mode: str, account: str, config: Mapping[str, Any]) -> None:
        self.journal.start_session(self.sid, mode=mode, account=account, config=config)

    def end(self) -> None:
        self.journal.end_session(self.sid)

    def restore(self) -> int:
        """Rebuild the book from the journal of a resumed session; returns the number of
        journaled orders."""
        orders = self.journal.rows("orders", self.sid)
        for o in orders:
            self._remember(o["order_ref"], self.journal.combo_legs(o["order_ref"]))
        for f in self.journal.session_fills(self.sid):
            leg = self._leg_of(f["order_ref"], f["symbol"])
            if leg is None:
                continue
            sign = 1.0 if f["side"] == "BOT" else -1.0
            self.book.apply_fill(leg.con_id, sign * float(f["shares"]), float(f["price"]))
            if f["commission"] is not None:
                self.book.apply_commission(float(f["commission"]))
        closes = {
            d["decision_id"]
            for d in self.journal.rows("decisions", self.sid)
            if d["outcome"] == CLOSE
        }
        self.closing |= {o["order_ref"] for o in orders if o["decision_id"] in closes}
        for d in self.journal.rows("decisions", self.sid):
            if d["strategy"] == self.book.label and d["outcome"] in (OPEN, BLOCKED, TRIMMED):
                self.decided.add(pd.Timestamp(d["bar_time"]))
            if d["strategy"] == self.book.label and d["outcome"] == NO_TRADE:
                self.decided.add(pd.Timestamp(d["bar_time"]))
        for g in self.journal.rows("guard_events", self.sid):
            if g["strategy"] == self.book.label and g["guard"] in KILL_NAMES.values():
                self.book.killed = g["guard"]
        for e in self.journal.rows("equity", self.sid):
            if e["strategy"] == self.book.label:
                self.book.peak = max(self.book.peak, float(e["net_liquidation"]))
        return len(orders)

    def kill_switch(self, now: pd.Timestamp, risk: np.ndarray) -> str | None:
        """The book's kill switch at ``now`` (:meth:`OptionBook.check_kill_switch`)."""
        return self.book.check_kill_switch(now, risk)

    def _remember(self, ref: str, legs: list[dict[str, Any]]) -> None:
        self._orders.add(ref)
        got = self._legs.setdefault(ref, {})
        for leg in legs:
            c = OptionContract(
                int(leg["con_id"]),
                str(leg["symbol"]),
                str(leg["underlying"]),
                str(leg["opt_right"] if "opt_right" in leg else leg["right"]),
                float(leg["strike"]),
                str(leg["expiry"]),
                float(leg["multiplier"]),
            )
            got[c.con_id] = c
            self.book.know(c)

    # -- decisions and orders ------------------------------------------------------------
    def journal_decision(
        self,
        slot: pd.Timestamp,
        outcome: str,
        *,
        price: float,
        wanted: float,
        held: float,
        note: str,
        guards: tuple[str, ...] = (),
    ) -> int:
        """Journal one decision of the strategy (``slot``: its decision instant; ``wanted``:
        combo units asked, ``held``: units held; ``price``: the combo's net mid)."""
        did = self.journal.record_decision(
            self.sid,
            strategy=self.book.label,
            symbol=self._underlying(),
            bar_time=slot.isoformat(),
            signal=wanted,
            price=price,
            target_qty=wanted,
            current_qty=held,
            note=note,
            outcome=outcome,
            guards=guards,
        )
        if outcome in (OPEN, BLOCKED, TRIMMED, NO_TRADE):
            self.decided.add(slot)
        return did

    def _underlying(self) -> str:
        return next(iter(self.book.contracts.values())).underlying if self.book.contracts else ""

    def journal_combo(
        self, spec: OrderSpec, spread: Spread, decision_id: int, closing: bool = False
    ) -> bool:
        """Journal a combo order and its legs before it is sent (``closing``: it closes the
        book's spread); False when its orderRef is journaled already (not to be sent
        again)."""
        legs = [
            {
                "con_id": x.quote.con_id,
                "symbol": x.quote.symbol,
                "underlying": x.quote.underlying,
                "right": x.quote.right,
                "strike": x.quote.strike,
                "expiry": x.quote.expiry,
                "multiplier": x.quote.multiplier,
                "ratio": x.ratio,
                "action": x.action,
            }
            for x in spread.legs
        ]
        with self.journal.transaction():
            fresh = self.journal.record_order(
                self.sid,
                order_ref=spec.ref,
                symbol=spec.symbol,
                action=spec.action,
                quantity=spec.quantity,
                order_type=spec.order_type,
                limit_price=spec.limit_price,
                decision_id=decision_id,
            )
            if fresh:
                self.journal.record_combo_legs(spec.ref, legs)
        if fresh:
            self._remember(spec.ref, self.journal.combo_legs(spec.ref))
            if closing:
                self.closing.add(spec.ref)
        return fresh

    def legs_of(self, ref: str) -> list[OptionContract]:
        return list(self._legs.get(ref, {}).values())

    def journal_reprice(self, ref: str, price: float, step: int) -> None:
        self.journal.record_limit_price(ref, price, f"limit moved to {price:g} (step {step})")

    def journal_guard(self, guard: str, detail: str, symbol: str | None) -> None:
        self.journal.record_guard(
            self.sid, guard=guard, detail=detail, symbol=symbol, strategy=self.book.label
        )

    def journal_snapshot(self, ts: pd.Timestamp) -> float:
        """Journal the book's equity and positions; returns the equity."""
        b = self.book
        eq = b.equity()
        with self.journal.transaction():
            self.journal.record_equity(
                self.sid,
                net_liquidation=eq,
                cash=b.cash,
                realized_pnl=b.realized,
                unrealized_pnl=b.unrealized(),
                strategy=b.label,
                ts=ts.isoformat(),
            )
            for k, n in b.held().items():
                self.journal.record_position(
                    self.sid, symbol=b.contracts[k].symbol, quantity=n, avg_cost=b.avg_price[k]
                )
        return eq

    # -- what the broker says happened ---------------------------------------------------
    def book_execution(self, ex: Executed) -> OptionContract | None:
        """Journal and book one leg's execution of a combo of ours; None for the combo's own
        execution, an order not ours, or one booked before. A leg the order does not have
        raises FillConflict (a real execution the journal cannot hold)."""
        if ex.ref not in self._orders or ex.sec_type == "BAG":
            return None
        leg = self._legs.get(ex.ref, {}).get(ex.con_id)
        if leg is None:
            raise FillConflict(
                f"{self.journal.path}: execution {ex.exec_id!r} of combo {ex.ref!r} is for "
                f"contract {ex.con_id} ({ex.sec_type or 'no type'}), which is none of its "
                "journaled legs; refused -- check the account's executions"
            )
        fresh = self.journal.record_fill(
            exec_id=ex.exec_id,
            order_ref=ex.ref,
            symbol=leg.symbol,
            side=ex.side,
            shares=ex.shares,
            price=ex.price,
            ts=ex.time.isoformat(),
        )
        if not fresh:
            return None
        self._fault("after-fill")
        sign = 1.0 if ex.side == "BOT" else -1.0
        self.book.apply_fill(leg.con_id, sign * ex.shares, ex.price)
        if ex.commission is not None:
            self.book_commission(ex.ref, ex.exec_id, ex.commission)
        return leg

    def has_fill(self, exec_id: str, ref: str) -> bool:
        return self.journal.has_fill(exec_id, ref)

    def book_commission(self, ref: str, exec_id: str, commission: float) -> None:
        """Journal and book IB's commission of a leg execution already journaled (once)."""
        if ref not in self._orders or not self.journal.has_fill(exec_id, ref):
            return
        if self.journal.fill_commission(exec_id, ref) is not None:
            return
        self.journal.record_commission(exec_id, commission, order_ref=ref)
        self.book.apply_commission(commission)

    def order_status(self, st: StatusChanged) -> bool:
        """Journal a combo's new status; False: not ours, or no change."""
        return st.ref in self._orders and journal_status(self.journal, self._statuses, st)

    def order_ended(self, jo: JournalOrder, status: str, filled: float, message: str) -> None:
        """A combo ended while the session did not see it end (reconcile)."""
        journal_ended(self.journal, jo, status, filled, message)

    def order_rejected(self, ref: str, message: str) -> float:
        """IB refused a combo: Inactive, unless units of it executed (returned)."""
        got = self.executed_units().get(ref, 0.0)
        if got > 0.0:
            return got
        journal_refused(self.journal, ref, message)
        return 0.0


def final(status: str) -> bool:
    return status in FINAL
