"""What the broker reports, booked: the listener of the broker adapter's typed events. Fills
and commissions go to the ledger (a fill the journal cannot hold is a guard event), statuses
and rejections settle orders (a refused entry is decided again, and mailed), positions lift a
halt once they agree with the books; connection news is logged."""

from __future__ import annotations

from collections.abc import Callable

from toolkit.live._alerts import Alerts
from toolkit.live._broker_events import (
    BrokerEvent,
    CancelNotDone,
    CommissionReported,
    ConnectivityNotice,
    Disconnected,
    Executed,
    PositionReported,
    Reconnected,
    Rejected,
    StatusChanged,
)
from toolkit.live._guards import Guards
from toolkit.live._ledger import Ledger
from toolkit.live.journal import FillConflict


class Booking:
    """Books the broker's events into the ledger for one session (``account``: the traded
    account, whose positions count)."""

    def __init__(
        self,
        ledger: Ledger,
        guards: Guards,
        log: Callable[[str], None],
        alert: Alerts,
        account: str,
    ) -> None:
        self._ledger = ledger
        self._guards = guards
        self._log = log
        self._alert = alert
        self._account = account
        self.stopping = False  # a lost connection is then expected, not news
        # (ref, code, text) -> True when the refusal is of a modification, not of the order
        # (toolkit.live.commands.CommandDesk.refused): the order then works on unchanged
        self.modify_refused: Callable[[str, int, str], bool] | None = None

    def __call__(self, event: BrokerEvent) -> None:
        match event:
            case Executed():
                self.executed(event)
            case CommissionReported():
                self._commission_reported(event)
            case StatusChanged():
                if self._ledger.order_status(event) and event.line is not None:
                    self._log(event.line)
            case Rejected():
                self._rejected(event)
            case CancelNotDone(ref=ref, code=code, text=text):
                # the cancel lost a race (the order filled or ended first): not a rejection;
                # the order's executions and status decide its outcome
                self._log(f"cancel of {ref} not done: IB error {code}: {text}")
            case ConnectivityNotice(code=code, text=text):
                self._log(f"broker connectivity: {code} {text}")
            case Disconnected():
                if not self.stopping:
                    self._log("connection lost; reconnecting with backoff")
            case Reconnected(count=count):
                self._log(f"reconnected (#{count}); reconciling and resubscribing")
            case PositionReported():
                self._position(event)

    def executed(self, ex: Executed) -> None:
        """An execution (a live one, or one the reconcile replays): journaled and booked once."""
        try:
            owner = self._ledger.book_execution(ex)
        except FillConflict as exc:
            # a real execution the journal cannot hold: never silent (log, guard, mail)
            strategy, symbol = self._ledger.owner(ex.ref) or (None, None)
            self._guards.fire("fill_refused", str(exc), strategy, symbol)
            return
        if owner is not None:
            self._log(f"fill {ex.ref}: {ex.side} {ex.shares:g} {owner[1]} @ {ex.price:.2f}")

    def _commission_reported(self, report: CommissionReported) -> None:
        ref, ledger = report.execution.ref, self._ledger
        if ledger.owner(ref) is None:
            return
        if not ledger.has_fill(report.exec_id, ref):
            self.executed(report.execution)  # a commission can only follow its execution
            if not ledger.has_fill(report.exec_id, ref):
                return  # refused (and said so)
        ledger.book_commission(ref, report.exec_id, report.commission)

    def _rejected(self, err: Rejected) -> None:
        if self.modify_refused is not None and self.modify_refused(err.ref, err.code, err.text):
            return
        got = self._ledger.order_rejected(err.ref, f"{err.code}: {err.text}", err.filled)
        if got > 0.0:
            # executed (partly): the executions stand; the error is only logged
            self._log(f"{err.ref}: IB error {err.code} after {got:g} shares executed: {err.text}")
            return
        self._log(f"REJECTED {err.ref}: IB error {err.code}: {err.text}")
        self._alert(
            f"reject/{err.ref}", f"order rejected: {err.ref}", f"IB error {err.code}: {err.text}\n"
        )

    def _position(self, p: PositionReported) -> None:
        """A halted symbol resumes once the broker's position agrees with the books."""
        if p.symbol not in self._guards.halted or (self._account and p.account != self._account):
            return
        ours = self._ledger.net().get(p.symbol, 0.0)
        if abs(ours - p.quantity) <= 1e-6:
            self._guards.lift(p.symbol, ours)
