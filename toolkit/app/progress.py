"""Progress lines on stderr, stamped with the seconds since the command began."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

Progress = Callable[[str], None]


def stderr_progress() -> Progress:
    """A progress printer that stamps each stage with the seconds since the run began."""
    t0 = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {message}", file=sys.stderr, flush=True)

    return say


def bar_progress(desc: str, unit: str) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback drawing a tqdm bar on stderr, made at the first call (when
    the total is known) and closed at the last."""
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        from tqdm.auto import tqdm

        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)
            state["n"] = 0
        state["bar"].update(done - state["n"])
        state["n"] = done
        if done >= total:
            state["bar"].close()

    return update
