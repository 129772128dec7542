"""Fault injection for the crash tests and the kill -9 campaign (``make bench``): armed with
``<point>`` (or ``<point>@<n>``: at its n-th hit), the process dies at that point as if killed
-9 -- no cleanup, no flush, exit status 137. Points: ``after-decision`` (a decision recorded,
its orders not yet), ``after-journal`` (orders committed, not sent), ``after-send``
(placeOrder called), ``after-fill`` (an execution journaled, before its commission),
``resume`` (reconciled with the broker, nothing resent yet).

A session is armed when it is built: ``LiveSession(cfg, faults=Faults("after-send"))``, or
by default from the ``TOOLKIT_LIVE_FAULT`` environment variable, read once then (this is how
the tests and ``research/benchmarks/kill9.py`` arm a bridge process). Unarmed: no effect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from toolkit.errors import ConfigError

ENV = "TOOLKIT_LIVE_FAULT"
POINTS = ("after-decision", "after-journal", "after-send", "after-fill", "resume")


class Faults:
    """The kill point armed for one session (none by default)."""

    def __init__(self, spec: str | None = None) -> None:
        name, _, nth = (spec or "").partition("@")
        if name and (name not in POINTS or not (nth or "1").isdigit() or int(nth or 1) < 1):
            raise ConfigError(
                f"fault point {spec!r}: expected <point>[@<n>] with a point among "
                f"{', '.join(POINTS)} and n >= 1 ({ENV})"
            )
        self.point = name or None
        self.nth = int(nth or 1)
        self.hits = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Faults:
        """The point ``TOOLKIT_LIVE_FAULT`` arms (none when unset or empty)."""
        return cls(environ.get(ENV))

    def __call__(self, point: str) -> None:
        """Die here when this is the armed point's n-th hit."""
        if point != self.point:
            return
        self.hits += 1
        if self.hits >= self.nth:
            os._exit(137)
