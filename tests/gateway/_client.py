"""Waiting on the gateway from a test's client (ib_async, or ib_insync in its own venv)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol


class _Client(Protocol):
    def sleep(self, secs: float = ...) -> Any: ...


def wait_for(ib: _Client, cond: Callable[[], Any], seconds: float = 10.0) -> None:
    """Run the client's event loop until ``cond()`` holds (messages keep arriving meanwhile);
    fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return
        ib.sleep(0.05)
    raise AssertionError("condition not met in time")
