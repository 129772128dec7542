"""Progress lines on stderr, stamped with the seconds since the command began."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Progress = Callable[[str], None]


def stderr_progress() -> Progress:
    """A progress printer that stamps each stage with the seconds since the run began."""
    t0 = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {message}", file=sys.stderr, flush=True)

    return say
