"""``/healthz``, ``/readyz`` and ``/metrics`` of an option session
(``python -m toolkit.live options --endpoints HOST:PORT`` or ``[endpoints]``): the stock
session's server and ``/healthz`` (:class:`toolkit.live.endpoints.ProbeEndpoints`), with the
readiness and metrics an option session has.

``/readyz`` checks: broker connected and synced (reconciled after the last connect), the
journal writable (:func:`toolkit.live._readiness.journal_writable`), no kill switch on, no
position mismatch halting new orders, and -- the option session's form of "the last bar is
not late" -- today's entry decided once ``[strategy.entry] decide_at`` has passed (while the
session is flat with nothing working, it must decide within two pricing intervals of that
instant at the broker's clock). The stock session's bar-age check does not apply: an option
session decides once a day, not per bar; ``/readyz`` says so under ``not_applicable``.

``/metrics``: orders, fills, rejections and guard firings from the journal and reconnects
(:func:`toolkit.live._metrics.journal_families`, as the stock session's), the book's equity,
the gross premium at the last marks, connected and ready, and the entry decision latency
(choosing the expiry and legs, pricing, the option rules, journal and send).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from toolkit.live._metrics import SessionMetrics, journal_families
from toolkit.live._readiness import Readiness, journal_writable
from toolkit.live.endpoints import ProbeEndpoints
from toolkit.live.endpoints_config import EndpointsConfig

if TYPE_CHECKING:
    from toolkit.live._option_book import OptionBook
    from toolkit.live.option_session import OptionSession

NOT_APPLICABLE = (
    "last decided bar not older than two bar periods: an option session decides once a day at "
    "[strategy.entry] decide_at, not per bar; checked instead: today's entry is decided within "
    "two pricing intervals of decide_at"
)


def check(session: OptionSession) -> Readiness:
    """Every readiness check on the option session as it is now (from the probe thread:
    attribute reads only, never a call into the session's loop)."""
    reasons: list[str] = []
    connected = session.broker.connected
    if not connected:
        reasons.append("broker not connected")
    elif not session.synced:
        reasons.append("broker connected, not yet synced (reconciling)")
    ledger, now = session.ledger, session.now
    s = session.cfg.strategy
    if ledger is None:
        reasons.append("journal not opened yet")
    else:
        book = ledger.book
        if book.killed is not None:
            reasons.append(f"{s.label}: kill switch on ({book.killed})")
        slot = None if now is None else session.entry_slot(now)
        grace = pd.Timedelta(seconds=2 * s.pricing.interval)
        if (
            slot is not None
            and now is not None
            and now > slot + grace
            and slot not in set(ledger.decided)
            and book.killed is None
            and session.halted is None
            and not book.units()
            and not session.working
        ):
            reasons.append(
                f"{s.label}: today's entry at {slot:%Y-%m-%d %H:%M} UTC is not decided at "
                f"broker time {now:%Y-%m-%d %H:%M} UTC"
            )
    if session.halted is not None:
        reasons.append(f"halted: {session.halted}")
    problem = journal_writable(session.cfg.session.journal)
    if problem is not None:
        reasons.append(problem)
    detail = {
        "session": session.sid,
        "connected": connected,
        "synced": session.synced,
        "broker_time": None if now is None else now.isoformat(),
        "decided": None if ledger is None else len(ledger.decided),
        "reconnects": session.reconnects,
        "not_applicable": [NOT_APPLICABLE],
    }
    return Readiness(tuple(reasons), detail)


class _OptionCollector(Collector):
    def __init__(self, session: OptionSession) -> None:
        self._session = session

    def collect(self) -> Iterator[Metric]:
        s = self._session
        label = s.cfg.strategy.label
        yield from journal_families(s.cfg.session.journal, s.sid, [label], s.reconnects)
        equity = GaugeMetricFamily(
            "toolkit_live_equity", "Strategy equity at the last marks", labels=["strategy"]
        )
        gross = GaugeMetricFamily(
            "toolkit_live_gross_exposure",
            "Sum of |contracts x mark x multiplier| of the option book at the last marks",
            labels=["strategy"],
        )
        ledger = s.ledger
        if ledger is not None:
            book = ledger.book
            equity.add_metric([label], book.equity())
            gross.add_metric([label], _gross(book))
        yield equity
        yield gross
        yield GaugeMetricFamily(
            "toolkit_live_connected",
            "1 when connected to the broker",
            value=float(s.broker.connected),
        )
        yield GaugeMetricFamily(
            "toolkit_live_ready", "1 when /readyz answers 200", value=float(check(s).ready)
        )


def _gross(book: OptionBook) -> float:
    """Sum of |contracts x price x multiplier| at the prices :meth:`OptionBook.value` uses
    (the mid when two-sided, else the average price)."""
    total = 0.0
    for k, n in list(book.held().items()):
        q = book.marks.get(k)
        px = q.mid if q is not None and q.two_sided else book.avg_price.get(k, math.nan)
        total += abs(n * px * book.contracts[k].multiplier)
    return total


def option_endpoints(
    session: OptionSession, loop: asyncio.AbstractEventLoop, cfg: EndpointsConfig
) -> ProbeEndpoints:
    """The probes of ``session`` (not started); the decision latency histogram is
    ``session.metrics``'s."""
    metrics: SessionMetrics = session.metrics
    metrics.bind_collector(_OptionCollector(session))
    return ProbeEndpoints(session.sid, lambda: check(session), metrics.exposition, loop, cfg)
