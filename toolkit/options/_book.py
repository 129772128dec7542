"""The option driver's book: option contracts and the underlying of one name, and cash.

Every change goes through the engine's one core (ARCHITECTURE invariant 7): fills are booked
by :func:`toolkit.engine._step.book_units_nb` (average cost, with the contract multiplier),
fees come from :mod:`toolkit.engine.commissions` (the option schedule for contracts, the stock
schedule for the underlying), and expiry is :func:`toolkit.engine._expiry.settle_expiry_nb`.
The book only keeps the state those functions take, keyed by contract, and the fill records.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from toolkit.engine._expiry import settle_expiry_nb
from toolkit.engine._step import book_units_nb
from toolkit.engine.commissions import Commission, OptionCommission, option_commission_nb
from toolkit.options.templates import Leg

FILL_COLUMNS = (
    "date", "symbol", "right", "strike", "expiry", "quantity", "price", "fee", "cash_flow",
    "realized", "reason", "spread",
)  # fmt: skip


def expiry_of(leg: Leg) -> pd.Timestamp:
    """An option leg's expiry as a timestamp (share legs have none)."""
    if leg.expiry is None:
        raise ValueError(f"leg {leg.describe()} has no expiry")
    return pd.Timestamp(leg.expiry)


@dataclass
class Holding:
    """One contract held: its description (a one-contract :class:`Leg`), signed contracts
    and average price per share."""

    leg: Leg
    position: float = 0.0
    avg: float = 0.0


class OptionBook:
    """Option contracts and the underlying of one name, cash, and every fill as a record.

    ``commission`` prices option orders, ``stock_commission`` the underlying's (a hedge or a
    delivery's later trades); each order is one call (IBKR's per-order minimum applies to it).
    """

    def __init__(
        self, cash: float, commission: OptionCommission, stock_commission: Commission
    ) -> None:
        self.cash = float(cash)
        self.holdings: dict[str, Holding] = {}
        self.underlying = 0.0
        self.underlying_avg = 0.0
        self._opt_cost = commission.vector()
        self._stock_cost = stock_commission.vector()
        self._stock = stock_commission
        self._month: tuple[int, int] | None = None
        self._month_contracts = 0.0
        self._month_shares = 0.0
        self.fills: list[tuple[object, ...]] = []
        self.fees_paid = 0.0

    @staticmethod
    def key(leg: Leg) -> str:
        """The contract's id: its OCC symbol when it has one, else a readable label."""
        return leg.symbol or f"{leg.underlying} {leg.expiry} {leg.strike:g} {leg.right}"

    def _roll_month(self, day: pd.Timestamp) -> None:
        month = (day.year, day.month)
        if month != self._month:  # the tiered plans count volume per calendar month
            self._month, self._month_contracts, self._month_shares = month, 0.0, 0.0

    def trade_option(
        self,
        day: pd.Timestamp,
        leg: Leg,
        contracts: float,
        price: float,
        reason: str,
        spread: str = "",
    ) -> float:
        """Buy (+) or sell (-) ``contracts`` of ``leg``'s contract at ``price`` per share as
        one order; returns the fee."""
        self._roll_month(day)
        k = self.key(leg)
        if k not in self.holdings:  # described as one contract; the size is the position
            self.holdings[k] = Holding(Leg(
                leg.underlying, leg.right, 1, leg.strike, leg.expiry, leg.multiplier, None,
                leg.style, leg.symbol,
            ))  # fmt: skip
        h = self.holdings[k]
        fee = float(option_commission_nb(
            self._opt_cost, contracts, price, leg.multiplier, self._month_contracts
        ))  # fmt: skip
        before = self.cash
        h.position, h.avg, self.cash, realized = book_units_nb(
            h.position, h.avg, self.cash, contracts, price, leg.multiplier, fee
        )
        self._month_contracts += abs(contracts)
        self.fees_paid += fee
        self._record(day, k, leg, contracts, price, fee, self.cash - before, realized, reason,
                     spread)  # fmt: skip
        if h.position == 0.0:
            del self.holdings[k]
        return fee

    def trade_underlying(
        self, day: pd.Timestamp, name: str, units: float, price: float, reason: str
    ) -> float:
        """Buy (+) or sell (-) ``units`` of the underlying at ``price`` as one order."""
        if units == 0.0:
            return 0.0
        self._roll_month(day)
        fee = self._stock.cost(units, price, self._month_shares)
        before = self.cash
        self.underlying, self.underlying_avg, self.cash, realized = book_units_nb(
            self.underlying, self.underlying_avg, self.cash, units, price, 1.0, fee
        )
        self._month_shares += abs(units)
        self.fees_paid += fee
        self.fills.append((day, name, "S", 0.0, pd.NaT, units, price, fee, self.cash - before,
                           realized, reason, ""))  # fmt: skip
        return fee

    def dividend(self, day: pd.Timestamp, name: str, cash: float) -> float:
        """Credit ``cash`` per unit on the underlying held (a short pays); returns the USD."""
        amount = self.underlying * cash
        self.cash += amount
        self.fills.append((day, name, "S", 0.0, pd.NaT, 0.0, cash, 0.0, amount, amount,
                           "dividend", ""))  # fmt: skip
        return amount

    def settle(
        self,
        day: pd.Timestamp,
        key: str,
        settle: float,
        physical: bool,
        threshold: float,
        spread: str = "",
        early: bool = False,
    ) -> tuple[float, float]:
        """Expire the holding ``key`` against ``settle`` (the core's rule) -- or, ``early``,
        exercise it (assign it, when short) before expiry at the close ``settle``; returns
        (its closing price per share, underlying units delivered)."""
        h = self.holdings.pop(key)
        leg = h.leg
        before = self.cash
        upos, uavg = self.underlying, self.underlying_avg
        cash, realized, px, self.underlying, self.underlying_avg, u_real, units = (
            settle_expiry_nb(
                h.position, h.avg, self.cash, leg.right == "C", leg.strike, settle,
                leg.multiplier, physical, threshold, upos, uavg,
            )
        )  # fmt: skip
        option_flow = h.position * px * leg.multiplier
        why = "exercise" if units else ("settle" if px > 0 else "expire")
        if early:
            why = "early assignment" if h.position < 0 else "early exercise"
        self._record(day, key, leg, -h.position, px, 0.0, option_flow, realized, why, spread)
        if units:
            what = "assigned" if h.position < 0 else "exercised"
            self.fills.append(
                (
                    day,
                    leg.underlying,
                    "S",
                    0.0,
                    pd.NaT,
                    units,
                    settle,
                    0.0,
                    cash - before - option_flow,
                    u_real,
                    f"delivery ({what})",
                    "",
                )
            )
        self.cash = cash
        return px, units

    def _record(
        self,
        day: pd.Timestamp,
        key: str,
        leg: Leg,
        qty: float,
        price: float,
        fee: float,
        flow: float,
        realized: float,
        reason: str,
        spread: str,
    ) -> None:
        self.fills.append((day, key, leg.right, leg.strike, expiry_of(leg), qty, price,
                           fee, flow, realized, reason, spread))  # fmt: skip

    def fills_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.fills, columns=list(FILL_COLUMNS))
