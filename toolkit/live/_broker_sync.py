"""Keeping the journal and the strategies' books in line with the broker: its events
(executions, commissions, order statuses, errors, disconnects), the restore from the journal
and the reconcile after every (re)connect, and the order primitives (place, cancel).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from ib_async import Order, Trade
from ib_async.objects import CommissionReport, Fill

from toolkit.data import calendar
from toolkit.live import bars as livebars
from toolkit.live._broker import (
    BrokerError,
    CommissionReported,
    Executed,
    StatusChanged,
    commission_of,
    execution_of,
    status_of,
)
from toolkit.live._state import _FINAL, SessionState
from toolkit.live.journal import FillConflict
from toolkit.live.orders import OrderSpec
from toolkit.live.sleeve import Decision
from toolkit.risk.rules import KILL_NAMES


class BrokerSync(SessionState):
    """Broker events, restore, reconcile and order placement of a live session."""

    def _restore(self) -> None:
        """Rebuild every sleeve from the journal of a resumed session."""
        orders = {o["order_ref"]: o for o in self.j.rows("orders", self.sid)}
        decisions = {d["decision_id"]: d for d in self.j.rows("decisions", self.sid)}
        for ref, o in orders.items():
            d = decisions.get(o["decision_id"])
            if d is not None:
                self.ref_owner[ref] = (d["strategy"], o["symbol"])
                self.ref_bar[ref] = pd.Timestamp(d["bar_time"])
        fills = self.j.session_fills(self.sid)
        for f in fills:
            owner = self.ref_owner.get(f["order_ref"])
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
                dead = ref not in filled and orders[ref]["status"] in _FINAL
                if dead:
                    book.retry(d["symbol"])
                else:
                    book.act_on(d["symbol"], book.exposure(target))
            elif outcome in (Decision.AT_TARGET, Decision.BLOCKED):
                book.act_on(d["symbol"], book.exposure(target))
            # decided-ness is per strategy x symbol x bar
            key, bar = (d["strategy"], d["symbol"]), pd.Timestamp(d["bar_time"])
            if self.decided.get(key) is None or bar > self.decided[key]:
                self.decided[key] = bar
        for slot in self.cfg.strategies:  # a strategy's bar is decided once all its symbols are
            bars = [self.decided.get((slot.label, s)) for s in slot.symbols]
            if bars and all(b is not None for b in bars):
                self.last_decided[slot.label] = min(b for b in bars if b is not None)
        for e in self.j.rows("equity", self.sid):
            book = self.sleeves.get(e["strategy"] or "")
            if book is not None:
                book.peak = max(book.peak, float(e["net_liquidation"]))
                book.last_equity = float(e["net_liquidation"])
                book.day = calendar.trading_date(pd.Timestamp(e["ts"]))
        for g in self.j.rows("guard_events", self.sid):
            book = self.sleeves.get(g["strategy"] or "")
            if book is not None and g["guard"] in KILL_NAMES.values():
                book.killed = g["guard"]
        if orders:
            held = {k: v for s in self.sleeves.values() for k, v in s.positions.items() if v}
            self.log(
                f"resumed session {self.sid}: {len(orders)} journaled orders, "
                f"positions {held or 'flat'}"
            )

    def _install_handlers(self) -> None:
        if self._handlers_installed:
            return
        self._handlers_installed = True
        self.ib.execDetailsEvent += self._on_exec
        self.ib.commissionReportEvent += self._on_commission
        self.ib.orderStatusEvent += self._on_status
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnect
        self.ib.positionEvent += self._on_position

    def _on_exec(self, trade: Trade | None, fill: Fill) -> None:
        self._executed(execution_of(trade, fill))

    def _on_commission(self, trade: Trade | None, fill: Fill, report: CommissionReport) -> None:
        self._commission_reported(commission_of(trade, fill, report))

    def _executed(self, ex: Executed) -> None:
        ref = ex.ref
        owner = self.ref_owner.get(ref)
        if owner is None:
            return  # not this session's order
        try:
            fresh = self.j.record_fill(
                exec_id=ex.exec_id,
                order_ref=ref,
                symbol=owner[1],
                side=ex.side,
                shares=ex.shares,
                price=ex.price,
                ts=ex.time.isoformat(),
            )
        except FillConflict as exc:
            # a real execution the journal cannot hold: never silent (log, guard, mail)
            self._guard("fill_refused", str(exc), owner[0], owner[1])
            return
        if not fresh:
            return
        self.fault("after-fill")
        sign = 1.0 if ex.side == "BOT" else -1.0
        sleeve = self.sleeves[owner[0]]
        sleeve.apply_fill(owner[1], sign * ex.shares, ex.price)
        self.log(f"fill {ref}: {ex.side} {ex.shares:g} {owner[1]} @ {ex.price:.2f}")
        if ex.commission is not None:
            self._book_commission(ref, ex.exec_id, ex.commission)

    def _commission_reported(self, report: CommissionReported) -> None:
        ref = report.execution.ref
        if ref not in self.ref_owner:
            return
        if not self.j.has_fill(report.exec_id, ref):
            self._executed(report.execution)  # a commission can only follow its execution
            if not self.j.has_fill(report.exec_id, ref):
                return  # refused (and said so)
        self._book_commission(ref, report.exec_id, report.commission)

    def _book_commission(self, ref: str, exec_id: str, commission: float) -> None:
        if self.j.fill_commission(exec_id, ref) is not None:
            return
        self.j.record_commission(exec_id, commission, order_ref=ref)
        self.sleeves[self.ref_owner[ref][0]].apply_commission(commission)

    def _on_status(self, trade: Trade) -> None:
        self._status_changed(status_of(trade))

    def _status_changed(self, st: StatusChanged) -> None:
        ref = st.ref
        owner = self.ref_owner.get(ref)
        if owner is None:
            return
        self.trades[ref] = st.trade
        self.order_ids[st.order_id] = ref
        key = (st.status, st.filled)
        if self._statuses.get(ref) == key:
            return
        self._statuses[ref] = key
        self.j.record_order_status(
            ref,
            status=st.status,
            filled=st.filled,
            remaining=st.remaining,
            avg_fill_price=st.avg_fill_price,
            broker_order_id=st.order_id,
            message=st.message,
        )
        if st.status in _FINAL and st.filled == 0.0 and not st.child:
            # an entry that died unfilled (expired, cancelled, rejected): try again next bar,
            # as the engine re-places an unfilled order at the next close
            self.sleeves[owner[0]].retry(owner[1])
        if st.status != "Filled" or st.filled > 0:
            self.log(f"order {ref}: {st.status} ({st.filled:g}/{st.quantity:g})")

    def _on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        self._broker_error(BrokerError(req_id, code, text))

    def _broker_error(self, err: BrokerError) -> None:
        code, text = err.code, err.text
        ref = self.order_ids.get(err.req_id)
        if ref is not None and err.cancel_failed:
            # the cancel lost a race (the order filled or ended first): not a rejection; the
            # order's executions and status decide its outcome
            self.log(f"cancel of {ref} not done: IB error {code}: {text}")
            return
        if ref is not None and err.rejects:
            got = _shares_by_ref(self.j.session_fills(self.sid)).get(ref, 0.0)
            trade = self.trades.get(ref)
            if trade is not None:
                got = max(got, float(trade.orderStatus.filled))
            if got > 0.0:
                # executed (partly): the executions stand; the error is only logged
                self.log(f"{ref}: IB error {code} after {got:g} shares executed: {text}")
                return
            self.log(f"REJECTED {ref}: IB error {code}: {text}")
            self.j.record_order_status(
                ref,
                status="Inactive",
                filled=0.0,
                remaining=0.0,
                avg_fill_price=0.0,
                message=f"{code}: {text}",
            )
            owner = self.ref_owner[ref]
            self.sleeves[owner[0]].retry(owner[1])
            self._alert(f"reject/{ref}", f"order rejected: {ref}", f"IB error {code}: {text}\n")
        elif err.connectivity:
            self.log(f"broker connectivity: {code} {text}")

    def _on_disconnect(self) -> None:
        if self.connected:
            self.connected = False
            if not self.stopping:
                self.log("connection lost; reconnecting with backoff")

    # -- reconcile -----------------------------------------------------------------------
    async def _reconcile(self) -> None:
        """Bring the journal and the books in line with what the broker says happened: its
        executions, open orders and completed orders (how the orders it no longer works
        ended), matched to the journal by orderRef."""
        for fill in await self.ib.reqExecutionsAsync():
            trade = next(
                (
                    t
                    for t in self.ib.trades()
                    if t.order.orderId == fill.execution.orderId
                    and t.order.clientId == fill.execution.clientId
                ),
                None,
            )
            ex = execution_of(trade, fill)
            self._executed(ex)
            report = fill.commissionReport
            if report is not None and report.execId and report.commission:
                ref = ex.ref
                if ref in self.ref_owner and self.j.has_fill(report.execId, ref):
                    self._book_commission(ref, report.execId, float(report.commission))
        working = {str(t.order.orderRef): t for t in await self.ib.reqAllOpenOrdersAsync()}
        for t in self.ib.openTrades():
            working.setdefault(str(t.order.orderRef), t)
        completed = await self._completed_orders()
        executed = _shares_by_ref(self.j.session_fills(self.sid))
        for jo in self.j.open_orders(self.sid):
            found = working.get(jo.order_ref)
            if found is not None:
                self.trades[jo.order_ref] = found
                self._on_status(found)
                continue
            got = executed.get(jo.order_ref, 0.0)
            ended = (completed or {}).get(jo.order_ref)
            if got >= jo.quantity - 1e-9:
                self.j.record_order_status(
                    jo.order_ref,
                    status="Filled",
                    filled=got,
                    remaining=0.0,
                    avg_fill_price=0.0,
                    message="reconciled from executions",
                )
            elif ended is not None:
                # it reached the broker and ended there while we were away (expired,
                # cancelled, rejected): never send it again
                status = ended.orderStatus.status
                status = status if status in _FINAL else "Cancelled"
                self.j.record_order_status(
                    jo.order_ref,
                    status=status,
                    filled=got,
                    remaining=jo.quantity - got,
                    avg_fill_price=0.0,
                    message=f"ended at the broker: {status} (completed orders, reconcile)",
                )
                owner = self.ref_owner.get(jo.order_ref)
                if owner is not None and got == 0 and jo.parent_ref is None:
                    self.sleeves[owner[0]].retry(owner[1])
            elif jo.status == "PendingSubmit" and got == 0:
                pass  # journaled, unknown to the broker: settled once the bars are loaded
            else:
                self.j.record_order_status(
                    jo.order_ref,
                    status="Cancelled",
                    filled=got,
                    remaining=jo.quantity - got,
                    avg_fill_price=0.0,
                    message="no longer working at the broker (reconcile)",
                )
                owner = self.ref_owner.get(jo.order_ref)
                if owner is not None and got == 0 and jo.parent_ref is None:
                    self.sleeves[owner[0]].retry(owner[1])
        self._check_positions()

    def _ours(self) -> dict[str, float]:
        """Net shares per symbol over every strategy of the session."""
        ours: dict[str, float] = {}
        for s in self.sleeves.values():
            for sym, q in s.positions.items():
                ours[sym] = ours.get(sym, 0.0) + q
        return ours

    def _check_positions(self) -> None:
        """Compare the books with the broker's positions after a (re)connect. A symbol that
        disagrees is halted (no new order until they agree) or, with ``[risk] on_mismatch =
        "adopt"``, booked at the broker's quantity; either way journaled, shown and mailed."""
        positions = [
            p for p in self.ib.positions() if not self.account or p.account == self.account
        ]
        broker = {p.contract.symbol: float(p.position) for p in positions}
        cost = {p.contract.symbol: float(p.avgCost) for p in positions}
        ours = self._ours()
        for sym in sorted(ours):
            theirs = broker.get(sym, 0.0)
            if abs(ours[sym] - theirs) <= 1e-6:
                if self.halted.pop(sym, None) is not None:
                    self.log(f"{sym}: positions agree again ({theirs:+g}); trading it resumes")
                continue
            said = f"{sym}: journal says {ours[sym]:+g} shares, broker says {theirs:+g}"
            holders = [s for s in self.sleeves.values() if sym in s.positions]
            if self.cfg.on_mismatch == "adopt" and len(holders) == 1:
                book = holders[0]
                price = book.closes.get(sym, math.nan)
                if math.isnan(price) or price <= 0.0:  # no bar yet: the broker's cost
                    price = cost.get(sym, 0.0)
                book.apply_fill(sym, theirs - ours[sym], price)
                self.halted.pop(sym, None)
                self._guard(
                    "position_mismatch",
                    f"{said}; adopted the broker's {theirs:+g} (booked at {price:.2f}) "
                    "([risk] on_mismatch = adopt)",
                    book.label,
                    sym,
                )
                continue
            why = f"{said}; no new orders for {sym} until they agree" + (
                " (it is shared by several strategies, so it cannot be adopted)"
                if self.cfg.on_mismatch == "adopt"
                else ' (or restart with [risk] on_mismatch = "adopt")'
            )
            self.halted[sym] = why
            self._guard("position_mismatch", why, None, sym)

    def _on_position(self, position: Any) -> None:
        """A halted symbol resumes once the broker's position agrees with the books."""
        sym = position.contract.symbol
        if sym not in self.halted or (self.account and position.account != self.account):
            return
        ours = self._ours().get(sym, 0.0)
        if abs(ours - float(position.position)) <= 1e-6:
            del self.halted[sym]
            self.log(f"{sym}: positions agree again ({ours:+g}); trading it resumes")

    async def _completed_orders(self) -> dict[str, Trade] | None:
        """The broker's completed orders by orderRef (None: it did not answer in time)."""
        try:
            done = await asyncio.wait_for(
                self.ib.reqCompletedOrdersAsync(apiOnly=True), self.cfg.connection.timeout
            )
        except TimeoutError:
            self.log("the broker did not answer reqCompletedOrders; no order will be resent")
            self.broker_checked = False
            return None
        self.broker_checked = True
        return {str(t.order.orderRef): t for t in done if t.order.orderRef}

    def _latest_bar(self, label: str, now: pd.Timestamp) -> pd.Timestamp | None:
        """The strategy's latest complete bar (all its symbols) in the subscribed streams."""
        slot = next(x for x in self.cfg.strategies if x.label == label)
        ends = []
        for sym in slot.symbols:
            stream = self.streams.get((label, sym))
            if stream is None:
                return None
            f = livebars.completed(livebars.frame(stream), now, slot.bar_size)
            if f.empty:
                return None
            ends.append(pd.Timestamp(f.index[-1]))
        return min(ends)

    def _working(self, label: str) -> dict[str, float]:
        """Signed shares per symbol of the strategy's entry orders the broker may still fill
        (working, or journaled and not yet acknowledged): a new decision is sized against
        filled plus this."""
        executed = _shares_by_ref(self.j.session_fills(self.sid))
        out: dict[str, float] = {}
        for jo in self.j.open_orders(self.sid):
            owner = self.ref_owner.get(jo.order_ref)
            if owner is None or owner[0] != label or jo.parent_ref is not None:
                continue
            if jo.status == "PendingCancel":
                continue  # being cancelled (kill switch): it will not fill, as in the engine
            left = jo.quantity - executed.get(jo.order_ref, 0.0)
            if left > 1e-9:
                sign = 1.0 if jo.action == "BUY" else -1.0
                out[owner[1]] = out.get(owner[1], 0.0) + sign * left
        return out

    async def _resend_unsent(self, now: pd.Timestamp) -> None:
        """Orders journaled but unknown to the broker -- reconcile asked its open orders,
        executions and completed orders for their refs (a crash between the journal commit
        and placeOrder). One is sent again only while its decision bar is still the
        strategy's latest complete bar at the broker; an older one is dropped, and the next
        decision is sized from what the account holds."""
        pending = self.j.open_orders(self.sid)
        executed = _shares_by_ref(self.j.session_fills(self.sid))
        for jo in pending:
            if jo.status != "PendingSubmit" or jo.order_ref in self.trades:
                continue
            owner = self.ref_owner.get(jo.order_ref)
            if owner is None or jo.parent_ref is not None or jo.order_ref not in self.ref_bar:
                continue
            if jo.order_ref in executed:
                continue  # it reached the broker: executions say so
            bar = self.ref_bar[jo.order_ref]
            latest = self._latest_bar(owner[0], now)
            legs = [o for o in pending if o.parent_ref == jo.order_ref]
            if self.broker_checked and latest is not None and bar >= latest:
                spec = OrderSpec(
                    jo.order_ref,
                    jo.symbol,
                    jo.action,
                    jo.quantity,
                    jo.order_type,
                    self._tif_of(owner[0], jo.order_type),
                    jo.limit_price,
                    jo.aux_price,
                )
                self.log(f"resending {jo.order_ref}: journaled, never reached the broker")
                self._place(spec, [self._leg_spec(o) for o in legs])
            else:
                for o in [jo, *legs]:
                    self.j.record_order_status(
                        o.order_ref,
                        status="Cancelled",
                        filled=0.0,
                        remaining=o.quantity,
                        avg_fill_price=0.0,
                        message=(
                            "never sent; its bar has passed"
                            if self.broker_checked
                            else "never sent; the broker could not be asked about it"
                        ),
                    )
                self.sleeves[owner[0]].retry(owner[1])

    def _tif_of(self, label: str, order_type: str) -> str:
        slot = next(x for x in self.cfg.strategies if x.label == label)
        daily = slot.bar_size == "1 day"
        return (
            "OPG"
            if order_type == "MKT" and slot.run.engine.fill == "next_open" and daily
            else "DAY"
        )

    def _leg_spec(self, o: Any) -> OrderSpec:
        pct = None
        if o.order_type == "TRAIL":
            owner = self.ref_owner[o.order_ref][0]
            ts = next(x for x in self.cfg.strategies if x.label == owner).run.engine.trailing_stop
            pct = round(100.0 * float(ts or 0.0), 4)
        return OrderSpec(
            o.order_ref,
            o.symbol,
            o.action,
            o.quantity,
            o.order_type,
            "GTC",
            o.limit_price,
            o.aux_price,
            pct,
            o.parent_ref,
        )

    def _place(self, spec: OrderSpec, legs: list[OrderSpec]) -> None:
        """placeOrder for an entry and its bracket legs (transmitted with the last leg) --
        never after a stop request."""
        if self.stop_requested:
            self.log(f"not sent {spec.ref}: the session is stopping")
            return
        if spec.symbol in self.halted:  # e.g. a resend after a reconnect found a mismatch
            for x in (spec, *legs):
                self.j.record_order_status(
                    x.ref,
                    status="Cancelled",
                    filled=0.0,
                    remaining=x.quantity,
                    avg_fill_price=0.0,
                    message=f"not sent: {spec.symbol} is halted (position mismatch)",
                )
            owner = self.ref_owner.get(spec.ref)
            if owner is not None:
                self.sleeves[owner[0]].retry(owner[1])
            self.log(f"not sent {spec.ref}: {self.halted[spec.symbol]}")
            return
        contract = self.contracts[spec.symbol]
        parent = self._ib_order(spec, transmit=not legs)
        trade = self.ib.placeOrder(contract, parent)
        self.fault("after-send")
        self.trades[spec.ref] = trade
        self.order_ids[parent.orderId] = spec.ref
        self.sent_times.append(time.monotonic())
        for i, leg in enumerate(legs):
            child = self._ib_order(leg, transmit=i == len(legs) - 1)
            child.parentId = parent.orderId
            t = self.ib.placeOrder(contract, child)
            self.trades[leg.ref] = t
            self.order_ids[child.orderId] = leg.ref
        kind = spec.order_type + ("" if spec.tif == "DAY" else f" {spec.tif}")
        self.log(
            f"sent {spec.ref}: {spec.action} {spec.quantity:g} {spec.symbol} {kind}"
            + (f" + {len(legs)} bracket legs" if legs else "")
        )

    def _ib_order(self, spec: OrderSpec, transmit: bool) -> Order:
        o = Order(
            action=spec.action,
            totalQuantity=spec.quantity,
            orderType=spec.order_type,
            tif=spec.tif,
            orderRef=spec.ref,
            transmit=transmit,
            account=self.account,
        )
        if spec.limit_price is not None:
            o.lmtPrice = spec.limit_price
        if spec.aux_price is not None:
            o.auxPrice = spec.aux_price
        if spec.trailing_percent is not None:
            o.trailingPercent = spec.trailing_percent
        return o

    def _cancel_working(self, which: Callable[[str], bool]) -> list[Trade]:
        """Cancel this session's working orders whose ref ``which`` selects; returns them."""
        cancelled = []
        for jo in self.j.open_orders(self.sid):
            if not which(jo.order_ref):
                continue
            trade = self.trades.get(jo.order_ref)
            if trade is not None and trade.orderStatus.status not in _FINAL and self.connected:
                self.ib.cancelOrder(trade.order)
                cancelled.append(trade)
        return cancelled


def _shares_by_ref(fills: list[dict[str, Any]]) -> dict[str, float]:
    """Shares executed per orderRef."""
    out: dict[str, float] = {}
    for f in fills:
        out[f["order_ref"]] = out.get(f["order_ref"], 0.0) + float(f["shares"])
    return out
