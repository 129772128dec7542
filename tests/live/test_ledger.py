"""The ledger (issue 14, item 1): the journal and the books of a session change together, only
through its named methods -- an order journaled is acted on, an execution is booked once, a
dead or refused entry is decided again, a late reject after a fill leaves the fill standing --
and the guards a session checks before it sends. A real SQLite journal, real sleeves."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from ib_async import Trade

from toolkit.live._alerts import Alerts
from toolkit.live._broker_events import Executed, StatusChanged
from toolkit.live._fault import Faults
from toolkit.live._guards import Guards
from toolkit.live._ledger import Ledger
from toolkit.live._startup import books
from toolkit.live.journal import FillConflict, Journal
from toolkit.live.orders import OrderRef, entry_order

BAR = pd.Timestamp("2023-03-10", tz="UTC")
WHEN = pd.Timestamp("2023-03-13 14:30", tz="UTC")
Q = -243.0  # short 95 % of 100,000 at the 390.00 close (spy_sma_paper's weight): floor(243.6)


@pytest.fixture()
def ledger(live_config, tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = live_config()
    with Journal(tmp_path / "journal.sqlite") as j:
        j.start_session("s/1", mode="paper", account="DU1", config={})
        yield Ledger(j, "s/1", books(cfg), Faults()), cfg


def _order(ledger: Ledger, label: str) -> str:
    """Friday's decision of the book (short SPY at the close), journaled with its order."""
    fired, (o, *_) = ledger.plan_orders(label, BAR, {"SPY": 390.0}, {"SPY": -1.0})
    assert fired is None and o.intent is not None and o.intent.quantity == Q
    did = ledger.journal_decision(label, o, BAR, late=False)
    ref = OrderRef("s/1", label, "SPY", BAR)
    settings = ledger.sleeves[label].settings
    spec = entry_order(str(ref), "SPY", o.intent.quantity, o.price, settings, daily=True)
    assert ledger.journal_orders(ref, [spec], did, o.intent.target)
    assert not ledger.journal_orders(ref, [spec], did, o.intent.target)  # never twice
    return str(ref)


def _status(ref: str, status: str, filled: float = 0.0) -> StatusChanged:
    return StatusChanged(ref, 7, status, filled, -Q - filled, 0.0, -Q, False, "", Trade())


def test_an_order_journaled_is_acted_on_and_its_execution_booked_once(ledger) -> None:
    ledger, cfg = ledger
    label = cfg.strategies[0].label
    ref = _order(ledger, label)
    book = ledger.sleeves[label]
    assert book.acted["SPY"] == -1.0 and ledger.owner(ref) == (label, "SPY")
    assert ledger.working(label) == {"SPY": Q}  # sized against, not ordered again
    ex = Executed(ref, "e.1", "SLD", -Q, 391.5, WHEN, commission=1.23)
    assert ledger.book_execution(ex) == (label, "SPY")
    assert ledger.book_execution(ex) is None  # the same execId again: nothing booked
    assert book.positions["SPY"] == Q and book.commissions == 1.23
    assert book.cash == pytest.approx(100_000.0 - Q * 391.5 - 1.23)
    assert ledger.working(label) == {}
    with pytest.raises(FillConflict):  # the same execution with other content: refused
        ledger.book_execution(Executed(ref, "e.1", "SLD", 100.0, 391.5, WHEN))
    assert ledger.book_execution(Executed("other/s/SPY/20230310", "e.2", "BOT", 1, 1, WHEN)) is None


def test_an_entry_that_dies_unfilled_or_is_refused_is_decided_again(ledger) -> None:
    ledger, cfg = ledger
    label = cfg.strategies[0].label
    ref = _order(ledger, label)
    book = ledger.sleeves[label]
    assert ledger.order_status(_status(ref, "Submitted"))
    assert not ledger.order_status(_status(ref, "Submitted"))  # no change: not journaled again
    assert book.acted["SPY"] == -1.0
    assert ledger.order_status(_status(ref, "Cancelled"))
    assert math.isnan(book.acted["SPY"])  # nothing acted on: the next bar orders again
    assert ledger.journal.order(ref).status == "Cancelled"  # type: ignore[union-attr]

    book.act_on("SPY", -1.0)  # (as if ordered again) and now refused by IB
    assert ledger.order_rejected(ref, "201: no", filled_at_broker=0.0) == 0.0
    assert math.isnan(book.acted["SPY"])
    assert ledger.journal.order(ref).status == "Inactive"  # type: ignore[union-attr]


def test_a_reject_after_shares_executed_leaves_the_fill_standing(ledger) -> None:
    ledger, cfg = ledger
    label = cfg.strategies[0].label
    ref = _order(ledger, label)
    ledger.book_execution(Executed(ref, "e.1", "SLD", 100.0, 391.5, WHEN))
    assert ledger.order_rejected(ref, "201: late", filled_at_broker=0.0) == 100.0
    assert ledger.sleeves[label].acted["SPY"] == -1.0  # still acted on
    assert ledger.journal.order(ref).status != "Inactive"  # type: ignore[union-attr]


def test_guards_withhold_an_order_of_a_halted_symbol_and_past_the_rate(ledger, live_config) -> None:
    ledger, cfg = ledger
    slot = cfg.strategies[0]
    lines: list[str] = []
    guards = Guards(ledger, lines.append, Alerts(None, lines.append, lines.append))
    assert guards.allows(slot, "SPY", Q, WHEN, queued=0, flatten=False)
    guards.halt("SPY", "SPY: journal says +0 shares, broker says -5")
    assert not guards.allows(slot, "SPY", Q, WHEN, queued=0, flatten=False)
    guards.lift("SPY", 0.0)
    assert guards.halted == {} and "trading it resumes" in lines[-1]
    rows = ledger.journal.rows("guard_events", "s/1")
    assert [r["guard"] for r in rows] == ["position_mismatch", "position_mismatch"]
    assert "not sent" in rows[1]["detail"] and any("GUARD position_mismatch" in x for x in lines)
    limited = live_config(risk={"max_orders_per_minute": 2}).strategies[0]
    assert guards.allows(limited, "SPY", 1.0, WHEN, queued=1, flatten=False)
    guards.sent()  # one sent, one more of this bar queued: the third is over the rate
    assert not guards.allows(limited, "SPY", 1.0, WHEN, queued=1, flatten=False)
    assert guards.allows(limited, "SPY", 1.0, WHEN, queued=1, flatten=True)  # a kill switch's
    assert ledger.journal.rows("guard_events", "s/1")[-1]["guard"] == "max_orders_per_minute"


def test_a_halted_book_stops_once_marked_flat_at_a_close(ledger) -> None:
    """The session stops when every strategy is halted and flat at a bar's close: a book
    flattened since its last bar waits for the next close (stopping at the fill made a
    rehearsal's last decided bar depend on the loop's timing against the simulator's)."""
    ledger, cfg = ledger
    label = cfg.strategies[0].label
    book = ledger.sleeves[label]
    ref = _order(ledger, label)
    assert ledger.book_execution(Executed(ref, "e.1", "SLD", -Q, 391.5, WHEN)) is not None
    monday = pd.Timestamp("2023-03-13", tz="UTC")
    ledger.mark_decided(label, ("SPY",), monday)  # short at Monday's close
    book.killed = "max_drawdown"
    # the flattening, decided at Monday's close, fills at Tuesday's open
    fired, (o, *_) = ledger.plan_orders(label, monday, {"SPY": 395.0}, {"SPY": 0.0})
    assert fired is None and o.intent is not None and o.intent.quantity == -Q
    did = ledger.journal_decision(label, o, monday, late=False)
    flat = OrderRef("s/1", label, "SPY", monday)
    spec = entry_order(str(flat), "SPY", -Q, o.price, book.settings, daily=True)
    assert ledger.journal_orders(flat, [spec], did, o.intent.target)
    assert not ledger.halted_and_flat()  # still short
    tuesday_open = pd.Timestamp("2023-03-14 13:30", tz="UTC")
    assert ledger.book_execution(Executed(str(flat), "e.2", "BOT", -Q, 396.0, tuesday_open))
    assert book.positions.get("SPY", 0.0) == 0.0
    assert not ledger.halted_and_flat()  # flat, but its last close showed it short
    ledger.mark_decided(label, ("SPY",), pd.Timestamp("2023-03-14", tz="UTC"))
    assert ledger.halted_and_flat()  # marked flat at Tuesday's close: it stops
