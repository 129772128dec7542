"""A live session's Prometheus metrics, on a registry of its own (never prometheus-client's
global one: two sessions in one process, or a test run after another, must not share counts).

Counts of what the journal holds -- orders, fills, rejections (orders IB refused, journaled
Inactive), guard firings -- are read from the journal at each scrape, through a read-only
connection of the scraping thread: the journal is the session's record, so ``/metrics``
always agrees with it, including what a resumed session journaled before a restart.
Reconnects, equity and gross exposure are read from the session's state; the bar decision
latency (signal, sizing, risk rules, journal and send for one strategy's bar) is a histogram
the session observes as it decides.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from toolkit.live._readiness import SessionState
from toolkit.live.orders import OrderRef

# bar decision latency buckets (seconds): a daily strategy decides in ~1-5 ms, a wide
# cross-section or a slow disk in tens to hundreds
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)


def journal_counts(path: Path, session_id: str) -> dict[str, Counter[str]]:
    """Orders, fills and rejections per strategy and guard firings per guard of one session,
    as its journal holds them (empty before the journal exists)."""
    out: dict[str, Counter[str]] = {k: Counter() for k in ("orders", "fills", "rejections")}
    out["guards"] = Counter()
    if not path.is_file():
        return out
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        for ref, status, fills in db.execute(
            "SELECT o.order_ref, o.status, (SELECT COUNT(*) FROM fills f "
            "WHERE f.order_ref = o.order_ref) FROM orders o WHERE o.session_id = ?",
            (session_id,),
        ):
            strategy = _strategy(ref)
            out["orders"][strategy] += 1
            out["fills"][strategy] += int(fills)
            out["rejections"][strategy] += status == "Inactive"
        for guard, n in db.execute(
            "SELECT guard, COUNT(*) FROM guard_events WHERE session_id = ? GROUP BY guard",
            (session_id,),
        ):
            out["guards"][str(guard)] = int(n)
    except sqlite3.OperationalError:
        pass  # the schema is not created yet
    finally:
        db.close()
    return out


def _strategy(ref: str) -> str:
    try:
        return OrderRef.parse(ref).strategy
    except ValueError:
        return ""


def journal_families(
    path: Path, session_id: str, labels: list[str], reconnects: int
) -> Iterator[Metric]:
    """The counters every session kind exposes: orders, fills, rejections per strategy and
    guard firings per guard (from its journal), and its reconnects."""
    counts = journal_counts(path, session_id)
    for name, doc in (
        ("orders", "Orders the session journaled (entries, bracket legs, children)"),
        ("fills", "Executions journaled for the session's orders"),
        ("rejections", "Orders the broker refused (journaled Inactive)"),
    ):
        fam = CounterMetricFamily(f"toolkit_live_{name}", doc, labels=["strategy"])
        for label in sorted(set(labels) | set(counts[name])):
            fam.add_metric([label], float(counts[name][label]))
        yield fam
    guards = CounterMetricFamily(
        "toolkit_live_guard_firings", "Guard events journaled, by guard", labels=["guard"]
    )
    for guard, n in sorted(counts["guards"].items()):
        guards.add_metric([guard], float(n))
    yield guards
    yield CounterMetricFamily(
        "toolkit_live_reconnects", "Reconnects to the broker", value=float(reconnects)
    )


class _SessionCollector(Collector):
    """What a scrape reads of the journal and the session at that moment."""

    def __init__(self, session: SessionState, ready: Callable[[], bool]) -> None:
        self._session = session
        self._ready = ready

    def collect(self) -> Iterator[Metric]:
        s = self._session
        labels = [slot.label for slot in s.cfg.strategies]
        yield from journal_families(s.cfg.session.journal, s.sid, labels, s.reconnects)
        equity = GaugeMetricFamily(
            "toolkit_live_equity", "Strategy equity at the last marked close", labels=["strategy"]
        )
        gross = GaugeMetricFamily(
            "toolkit_live_gross_exposure",
            "Sum of |position x last close| of the strategy's symbols",
            labels=["strategy"],
        )
        for label, sleeve in sorted(dict(s.sleeves).items()):
            eq = sleeve.last_equity
            equity.add_metric([label], eq if math.isfinite(eq) else math.nan)
            positions, closes = dict(sleeve.positions), dict(sleeve.closes)
            gross.add_metric(
                [label],
                sum(abs(q) * closes.get(sym, math.nan) for sym, q in positions.items() if q),
            )
        yield equity
        yield gross
        yield GaugeMetricFamily(
            "toolkit_live_connected", "1 when connected to the broker", value=float(s.connected)
        )
        yield GaugeMetricFamily(
            "toolkit_live_ready", "1 when /readyz answers 200", value=float(self._ready())
        )


class SessionMetrics:
    """One session's registry: the decision latency histogram (observed by the session) and
    the collector of journal counts and session state (bound with :meth:`bind`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.decision_seconds = Histogram(
            "toolkit_live_bar_decision_seconds",
            "Time to decide one strategy's bar: signal, sizing, risk rules, journal, send",
            labelnames=["strategy"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._bound = False

    def decided(self, strategy: str, seconds: float) -> None:
        self.decision_seconds.labels(strategy=strategy).observe(seconds)

    def bind(self, session: SessionState, ready: Callable[[], bool]) -> None:
        """Read counts and state of ``session`` at each scrape (once)."""
        self.bind_collector(_SessionCollector(session, ready))

    def bind_collector(self, collector: Collector) -> None:
        """Read ``collector`` at each scrape (once: a second bind is ignored)."""
        if not self._bound:
            self.registry.register(collector)
            self._bound = True

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
