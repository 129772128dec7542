"""The broker adapter (issue 14.1): ib_async's execution, commission and error callbacks as
typed events, with IB's error codes classified in one place."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from ib_async import Contract, Order, Trade
from ib_async.objects import CommissionReport, Execution, Fill
from ib_async.order import OrderStatus, TradeLogEntry

from toolkit.live._broker import (
    Broker,
    BrokerError,
    acknowledged,
    commission_of,
    execution_of,
    status_of,
)

WHEN = datetime(2024, 3, 14, 13, 30, tzinfo=UTC)


def _fill(order_ref: str, report: CommissionReport) -> Fill:
    ex = Execution(
        execId="e.1", time=WHEN, side="BOT", shares=10.0, price=501.25, orderRef=order_ref
    )
    return Fill(Contract(symbol="SPY"), ex, report, WHEN)


def test_an_execution_becomes_one_typed_event() -> None:
    trade = Trade(order=Order(orderRef="s/sma/SPY/20240313"))
    got = execution_of(trade, _fill("s/sma/SPY/20240313", CommissionReport("e.1", 1.0)))
    assert (got.ref, got.exec_id, got.side, got.shares, got.price) == (
        "s/sma/SPY/20240313", "e.1", "BOT", 10.0, 501.25,
    )  # fmt: skip
    assert got.time == pd.Timestamp(WHEN) and got.commission == 1.0
    # the execution names no orderRef: the trade's; a report of another execution, or none
    # yet (IB's empty one), is no commission of this one
    alone = execution_of(trade, _fill("", CommissionReport("e.2", 1.0)))
    assert alone.ref == "s/sma/SPY/20240313" and alone.commission is None
    assert execution_of(None, _fill("", CommissionReport())).commission is None
    report = commission_of(trade, _fill("", CommissionReport()), CommissionReport("e.1", 0.35))
    assert (report.execution.ref, report.exec_id, report.commission) == (
        "s/sma/SPY/20240313", "e.1", 0.35,
    )  # fmt: skip


def test_ib_error_codes_are_classified_once() -> None:
    assert BrokerError(7, 201, "Order rejected").rejects
    assert BrokerError(7, 10148, "cannot cancel").cancel_failed
    assert not BrokerError(7, 10148, "cannot cancel").rejects
    assert BrokerError(-1, 1100, "Connectivity lost").connectivity
    plain = BrokerError(-1, 2104, "Market data farm connection is OK")
    assert not (plain.rejects or plain.cancel_failed or plain.connectivity)


def test_an_order_status_becomes_one_typed_event() -> None:
    from ib_async import OrderStatus, TradeLogEntry

    leg = Order(orderId=12, parentId=11, orderRef="s/sma/SPY/20240313/sl", totalQuantity=10)
    status = OrderStatus(orderId=12, status="Cancelled", filled=0.0, remaining=10.0)
    trade = Trade(order=leg, orderStatus=status, log=[TradeLogEntry(WHEN, "Cancelled", "why")])
    got = status_of(trade)
    assert (got.ref, got.order_id, got.status, got.filled, got.remaining, got.quantity) == (
        "s/sma/SPY/20240313/sl", 12, "Cancelled", 0.0, 10.0, 10.0,
    )  # fmt: skip
    assert got.child and got.message == "why" and got.trade is trade
    entry = status_of(Trade(order=Order(orderId=11, orderRef="s/sma/SPY/20240313")))
    assert not entry.child and entry.message == ""


def test_the_adapter_owns_the_sessions_trades_and_types_what_the_broker_says() -> None:
    """Broker (issue 14.1): statuses of the session's own orders (by OrderRef) are tracked and
    sent on; IB's errors for them become a rejection or a failed cancel, connectivity codes a
    notice, a dropped connection one Disconnected."""
    from ib_async import OrderStatus

    from toolkit.live._broker_events import (
        CancelNotDone,
        ConnectivityNotice,
        Disconnected,
        Rejected,
        StatusChanged,
    )
    from toolkit.live._fault import Faults

    broker = Broker("s/1", Faults())
    got: list[object] = []
    broker.listen(got.append)
    ours = Trade(
        order=Order(orderId=11, orderRef="s/1/sma/SPY/20240313", totalQuantity=10),
        orderStatus=OrderStatus(orderId=11, status="Submitted", filled=4.0, remaining=6.0),
    )
    theirs = Trade(order=Order(orderId=12, orderRef="s/2/sma/SPY/20240313"))
    broker._on_status(ours)
    broker._on_status(theirs)  # another session's (or client's) order: not ours to track
    assert [type(e) for e in got] == [StatusChanged]
    assert broker.knows("s/1/sma/SPY/20240313") and not broker.knows("s/2/sma/SPY/20240313")
    broker._on_error(11, 201, "Order rejected")
    broker._on_error(11, 10148, "cannot cancel")
    broker._on_error(12, 201, "not ours")  # an id the session never owned: nothing
    broker._on_error(-1, 1100, "Connectivity lost")
    broker.connected = True
    broker._on_disconnect()
    broker._on_disconnect()  # said once
    assert got[1:] == [
        Rejected("s/1/sma/SPY/20240313", 201, "Order rejected", 4.0),
        CancelNotDone("s/1/sma/SPY/20240313", 10148, "cannot cancel"),
        ConnectivityNotice(1100, "Connectivity lost"),
        Disconnected(),
    ]
    assert not broker.connected


def _trade(status: str, *log: str) -> Trade:
    return Trade(
        order=Order(orderRef="s/sma/SPY/20240313"),
        orderStatus=OrderStatus(status=status),
        log=[TradeLogEntry(WHEN, entry) for entry in log],
    )


def test_an_order_cancelled_before_its_acknowledgement_is_still_unacknowledged() -> None:
    """ib_async writes PendingCancel over PendingSubmit when a cancel is asked for: the
    broker has still said nothing (a rehearsal's lockstep must wait for it, a dropped
    connection must put it in doubt)."""
    assert not acknowledged(_trade("PendingSubmit", "PendingSubmit"))
    assert not acknowledged(_trade("PendingCancel", "PendingSubmit", "PendingCancel"))
    assert acknowledged(_trade("PendingCancel", "PendingSubmit", "Submitted", "PendingCancel"))
    assert acknowledged(_trade("Submitted", "PendingSubmit", "Submitted"))
    assert acknowledged(_trade("Filled", "PendingSubmit", "Filled"))
    assert acknowledged(_trade("Cancelled", "PendingSubmit", "Cancelled"))  # e.g. a rejection
    assert acknowledged(_trade("Submitted"))  # reported by the broker (openOrder): no log


def test_a_connect_given_up_leaves_no_unretrieved_failure() -> None:
    """A stop during the handshake cancels ib_async's connectAsync, whose clean-up may fail in
    turn (seen under load: its disconnect's ``write_eof`` raised OSError 107 on a socket the
    gateway had already reset). That failure is no news to the user; before, asyncio printed
    it as "Task exception was never retrieved" with a traceback when the task was collected.
    ib_async's coroutine is the one stand-in here: the failure is inside the library."""
    import asyncio
    import gc

    from toolkit.live._connect import unless_stopped
    from toolkit.live._fault import Faults

    async def handshake_failing_on_cancel(*args: object, **kwargs: object) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise OSError(107, "Transport endpoint is not connected") from None

    async def scenario() -> list[dict[str, object]]:
        seen: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: seen.append(ctx))
        broker = Broker("s/1", Faults())
        broker.ib.connectAsync = handshake_failing_on_cancel  # type: ignore[method-assign]
        stop_asked = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, stop_asked.set)
        done = await unless_stopped(broker.connect("127.0.0.1", 1, 7, 5.0), stop_asked)
        assert not done and not broker.connected
        await asyncio.sleep(0.05)  # the cancelled handshake unwinds
        gc.collect()  # asyncio reports an unseen exception when its task is collected
        await asyncio.sleep(0)
        return seen

    assert asyncio.run(scenario()) == []
