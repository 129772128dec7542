"""How a session journals its orders' statuses, the same for the stock ledger
(:mod:`toolkit.live._ledger`) and the option ledger (:mod:`toolkit.live._option_ledger`): a
change reported by the broker (once: the same status and fill seen again is no change), an
end the session did not see (reconcile, a dropped resend) and IB's refusal."""

from __future__ import annotations

from toolkit.live._broker_events import StatusChanged
from toolkit.live.journal import Journal, JournalOrder


def journal_status(journal: Journal, seen: dict[str, tuple[str, float]], st: StatusChanged) -> bool:
    """Journal the broker's new status of ``st.ref``; False when ``seen`` already holds its
    (status, filled): the client repeats statuses, the journal keeps one row per change."""
    key = (st.status, st.filled)
    if seen.get(st.ref) == key:
        return False
    seen[st.ref] = key
    journal.record_order_status(
        st.ref,
        status=st.status,
        filled=st.filled,
        remaining=st.remaining,
        avg_fill_price=st.avg_fill_price,
        broker_order_id=st.order_id,
        message=st.message,
    )
    return True


def journal_ended(
    journal: Journal, jo: JournalOrder, status: str, filled: float, message: str
) -> None:
    """The final ``status`` of an order that ended while the session did not see it end,
    with ``filled`` of its quantity (nothing remains of one filled whole)."""
    done = filled >= jo.quantity - 1e-9
    journal.record_order_status(
        jo.order_ref,
        status=status,
        filled=filled,
        remaining=0.0 if done else jo.quantity - filled,
        avg_fill_price=0.0,
        message=message,
    )


def journal_refused(journal: Journal, ref: str, message: str) -> None:
    """IB refused order ``ref`` with nothing of it executed: Inactive, IB's ``message``."""
    journal.record_order_status(
        ref, status="Inactive", filled=0.0, remaining=0.0, avg_fill_price=0.0, message=message
    )
