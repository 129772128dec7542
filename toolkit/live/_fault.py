"""Fault injection for the crash tests and the kill -9 campaign (``make bench``): with
``TOOLKIT_LIVE_FAULT=<point>`` (or ``<point>@<n>``: at its n-th hit) the process dies at that
point as if killed -9 -- no cleanup, no flush, exit status 137. Points: ``after-decision``
(a decision recorded, its orders not yet), ``after-journal`` (orders committed, not sent),
``after-send`` (placeOrder called), ``after-fill`` (an execution journaled, before its
commission), ``resume`` (reconciled with the broker, nothing resent yet). Unset: no effect.
"""

from __future__ import annotations

import os
from collections import Counter

_hits: Counter[str] = Counter()


def fault(point: str) -> None:
    """Die here when the environment asks for this point (see the module docstring)."""
    spec = os.environ.get("TOOLKIT_LIVE_FAULT")
    if not spec:
        return
    name, _, nth = spec.partition("@")
    if name != point:
        return
    _hits[point] += 1
    if _hits[point] >= int(nth or 1):
        os._exit(137)
