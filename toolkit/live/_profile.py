"""``python -m toolkit.live run --profile``: a statistical profile of the session (pyinstrument,
sampling every millisecond) written as HTML under ``reports/`` -- where a rehearsal's time
goes: signal functions, sizing and risk rules, the journal's writes, ib_async's messages,
waiting for the simulator. Profile a rehearsal (the embedded simulator): its clock runs as
fast as the session acts, so the profile is the session's own cost.

The whole event loop's thread is sampled (``async_mode="disabled"``), not only the task
that started it: a bar's decisions run in tasks the bar updates start. The embedded
simulator's thread is not sampled (it is not the session's cost).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pandas as pd

P = ParamSpec("P")
T = TypeVar("T")


def profile_path(folder: Path, name: str) -> Path:
    """``<folder>/profile-<name>-<UTC stamp>.html`` (never overwrites an earlier one)."""
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S")
    return folder / f"profile-{name}-{stamp}Z.html"


def profiling(
    run: Callable[P, Coroutine[Any, Any, T]],
    folder: Path,
    name: str,
    say: Callable[[str], None] | None = None,
) -> Callable[P, Coroutine[Any, Any, T]]:
    """``run`` (a session's ``run``) profiled; the HTML is written when it returns, raises or
    is stopped, and its path said."""

    async def profiled(*args: P.args, **kwargs: P.kwargs) -> T:
        from pyinstrument import Profiler  # the live extra; imported only when asked for

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        try:
            return await run(*args, **kwargs)
        finally:
            profiler.stop()
            path = profile_path(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(profiler.output_html(), encoding="utf-8")
            (say or _stderr)(f"profile written to {path}")

    return profiled


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
