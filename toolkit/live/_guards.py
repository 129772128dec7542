"""The guards of a live session: the checks an order must pass before it is sent (a halted
symbol, the trading hours, the order rate), the symbols halted by a position mismatch, and
what a guard firing does (journal it, log it, mail it)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import pandas as pd

from toolkit.live._alerts import Alerts
from toolkit.live._ledger import Ledger
from toolkit.live.config import StrategySlot
from toolkit.live.sleeve import Decision, Outcome


class Guards:
    """Pre-send checks and guard events of one session."""

    def __init__(self, ledger: Ledger, log: Callable[[str], None], alert: Alerts) -> None:
        self._ledger = ledger
        self._log = log
        self._alert = alert
        self._sent: deque[float] = deque()  # monotonic times of the orders sent
        # symbols whose broker position disagrees with the journal ([risk] on_mismatch =
        # "halt"): no order for them until the positions agree again; value: why
        self.halted: dict[str, str] = {}

    def fire(self, guard: str, detail: str, strategy: str | None, symbol: str | None) -> None:
        """A guard fired: journal, log, alert (once per guard, strategy and symbol)."""
        self._ledger.journal_guard(guard, detail, strategy, symbol)
        self._log(f"GUARD {guard}: {detail}")
        self._alert(
            f"{guard}/{strategy}/{symbol}",
            f"guard {guard} fired: {self._ledger.sid}",
            f"Session {self._ledger.sid}, strategy {strategy}, symbol {symbol}: {detail}\n",
        )

    def decided(self, label: str, o: Outcome) -> None:
        """The risk rules that trimmed or blocked a decision's order, as guard events."""
        change = f"{o.target_qty - o.current_qty:+g}"
        if o.intent is not None:
            for g in o.intent.guards:
                self.fire(
                    g,
                    f"{label} {o.symbol}: order trimmed from {change} to "
                    f"{o.intent.quantity:+g} shares",
                    label,
                    o.symbol,
                )
        elif o.decision is Decision.BLOCKED:
            self.fire(
                o.guards[0], f"{label} {o.symbol}: order of {change} shares blocked", label,
                o.symbol,
            )  # fmt: skip

    def allows(
        self,
        slot: StrategySlot,
        symbol: str,
        quantity: float,
        now: pd.Timestamp | None,
        queued: int,
        flatten: bool,
    ) -> bool:
        """Whether an order may be journaled and sent (False: a guard fired and said why).
        ``queued``: orders of this bar not sent yet (they count for the rate); a kill
        switch's flattening order passes the hours and the rate."""
        if symbol in self.halted:
            self.fire(
                "position_mismatch",
                f"{slot.label} {symbol}: order of {quantity:+g} shares not sent; "
                + self.halted[symbol],
                slot.label,
                symbol,
            )
            return False
        risk = slot.risk
        hours = risk.trading_hours
        if not flatten and hours is not None and now is not None and not hours.allows(now):
            self.fire(
                "trading_hours",
                f"{slot.label} {symbol}: {now:%H:%M} UTC is outside "
                f"{hours.start:%H:%M}-{hours.end:%H:%M} New York; order not sent",
                slot.label,
                symbol,
            )
            return False
        if not flatten and risk.max_orders_per_minute is not None:
            t = time.monotonic()
            while self._sent and t - self._sent[0] > 60.0:
                self._sent.popleft()
            if len(self._sent) + queued >= risk.max_orders_per_minute:
                self.fire(
                    "max_orders_per_minute",
                    f"{slot.label} {symbol}: {len(self._sent) + queued} orders in the last "
                    "minute; order not sent",
                    slot.label,
                    symbol,
                )
                return False
        return True

    def sent(self) -> None:
        """An order went out (it counts for the order rate)."""
        self._sent.append(time.monotonic())

    def halt(self, symbol: str, why: str) -> None:
        self.halted[symbol] = why
        self.fire("position_mismatch", why, None, symbol)

    def forget(self, symbol: str) -> None:
        """A halted symbol's position was adopted from the broker: no longer halted."""
        self.halted.pop(symbol, None)

    def lift(self, symbol: str, quantity: float) -> None:
        """The broker's position for a halted symbol agrees with the books again."""
        if self.halted.pop(symbol, None) is not None:
            self._log(f"{symbol}: positions agree again ({quantity:+g}); trading it resumes")
