"""What the broker says, as typed events: executions, commission reports, order statuses,
rejections, failed cancels, connectivity notices, disconnects and reconnects, positions --
and the functions that turn ib_async's objects into them (IB's error codes are classified
here, once). :class:`toolkit.live._broker.Broker` sends them to the session.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from ib_async import Trade
from ib_async.objects import CommissionReport, Fill

# IB's order statuses after which an order never fills again
FINAL = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})

# IB's codes for an order it refused (110 price off the tick grid, 200 no security definition,
# 201 order rejected, 203 security not allowed for this account)
REJECT_CODES = frozenset({110, 200, 201, 203})
# a cancel that did not happen (IB 10147 not found, 10148 cannot be cancelled in its state,
# 10149 invalid id): the order's outcome is what its executions and status say, not a reject
CANCEL_FAILED_CODES = frozenset({10147, 10148, 10149})
# connectivity between IB's servers and the gateway (lost, restored, data lost)
CONNECTIVITY_CODES = frozenset({1100, 1300, 2110})


@dataclass(frozen=True)
class Executed:
    """An execution of one of the account's orders."""

    ref: str  # the order's orderRef ("" when the broker gave none)
    exec_id: str
    side: str  # BOT or SLD
    shares: float
    price: float
    time: pd.Timestamp
    commission: float | None = None  # IB's report when it came with the execution
    # the executed contract: a combo (BAG) order reports one execution per leg (its option
    # contract) and one for the combo itself (secType BAG, the net price)
    con_id: int = 0
    sec_type: str = ""


@dataclass(frozen=True)
class CommissionReported:
    """IB's commission report for an execution (it can arrive before the session saw the
    execution: then ``execution`` is booked first)."""

    execution: Executed
    exec_id: str
    commission: float


@dataclass(frozen=True)
class StatusChanged:
    """An order's status at the broker (``trade``: ib_async's handle, kept to cancel it)."""

    ref: str
    order_id: int
    status: str
    filled: float
    remaining: float
    avg_fill_price: float
    quantity: float  # the order's total
    child: bool  # a bracket leg (it has a parent order)
    message: str  # the trade's last log line
    trade: Trade

    @property
    def line(self) -> str | None:
        """The session log's line for it (None: a plain fill, the execution says it)."""
        if self.status == "Filled" and self.filled <= 0:
            return None
        return f"order {self.ref}: {self.status} ({self.filled:g}/{self.quantity:g})"


@dataclass(frozen=True)
class BrokerError:
    """An error IB sent for a request (an order id for order errors)."""

    req_id: int
    code: int
    text: str

    @property
    def rejects(self) -> bool:
        return self.code in REJECT_CODES

    @property
    def cancel_failed(self) -> bool:
        return self.code in CANCEL_FAILED_CODES

    @property
    def connectivity(self) -> bool:
        return self.code in CONNECTIVITY_CODES


@dataclass(frozen=True)
class Rejected:
    """IB refused one of the session's orders (``filled``: shares the broker reports filled
    of it, which make the error a late one rather than a rejection)."""

    ref: str
    code: int
    text: str
    filled: float


@dataclass(frozen=True)
class CancelNotDone:
    """A cancel lost its race (the order filled or ended first): not a rejection."""

    ref: str
    code: int
    text: str


@dataclass(frozen=True)
class ConnectivityNotice:
    """IB's servers and the gateway lost, restored or lost data of their connection."""

    code: int
    text: str


@dataclass(frozen=True)
class Disconnected:
    """The connection to the gateway dropped."""


@dataclass(frozen=True)
class Reconnected:
    """The connection is back (``count``: reconnects so far)."""

    count: int


@dataclass(frozen=True)
class PositionReported:
    """The broker's position of one symbol in one account."""

    symbol: str
    account: str
    quantity: float


BrokerEvent = (
    Executed
    | CommissionReported
    | StatusChanged
    | Rejected
    | CancelNotDone
    | ConnectivityNotice
    | Disconnected
    | Reconnected
    | PositionReported
)


def order_ref_of(trade: Trade | None, fill: Fill | None = None) -> str:
    """The orderRef of an execution (its own field first) or of a trade."""
    if fill is not None and fill.execution.orderRef:
        return str(fill.execution.orderRef)
    return str(trade.order.orderRef) if trade is not None else ""


def execution_of(trade: Trade | None, fill: Fill) -> Executed:
    ex = fill.execution
    report = fill.commissionReport
    commission = (
        float(report.commission)
        if report is not None and report.execId == ex.execId and report.commission
        else None
    )
    return Executed(
        order_ref_of(trade, fill),
        str(ex.execId),
        str(ex.side),
        float(ex.shares),
        float(ex.price),
        pd.Timestamp(ex.time),
        commission,
        int(fill.contract.conId or 0) if fill.contract is not None else 0,
        str(fill.contract.secType or "") if fill.contract is not None else "",
    )


def commission_of(trade: Trade | None, fill: Fill, report: CommissionReport) -> CommissionReported:
    return CommissionReported(
        execution_of(trade, fill), str(report.execId), float(report.commission)
    )


def status_of(trade: Trade) -> StatusChanged:
    st = trade.orderStatus
    return StatusChanged(
        str(trade.order.orderRef),
        int(trade.order.orderId),
        str(st.status),
        float(st.filled),
        float(st.remaining),
        float(st.avgFillPrice),
        float(trade.order.totalQuantity),
        bool(trade.order.parentId),
        trade.log[-1].message if trade.log else "",
        trade,
    )
