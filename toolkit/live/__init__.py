"""Live bridge: the backtested strategy, unchanged, against IBKR paper/live or the simulator.

* :func:`run_session` / :class:`LiveSession` -- run a session (``python -m toolkit.live run``)
* :func:`load_live_config`, :class:`LiveConfig` -- ``live/*.toml``
* :class:`Journal` -- the SQLite record of a session (see :mod:`toolkit.live.journal`)
* :func:`summarize`, :func:`format_summary`, :class:`SessionSummary` -- results from a journal

The session pieces that need ``ib_async`` (the ``live`` extra) load on first use, so research
code imports the toolkit without it.
"""

from typing import Any

from toolkit.live.config import LiveConfig, load_live_config, parse_live_config
from toolkit.live.journal import SCHEMA_VERSION, FillConflict, Journal, JournalError
from toolkit.live.summary import SessionSummary, format_summary, summarize

_LAZY = {"LiveSession", "LiveError", "run_session"}

__all__ = [
    "SCHEMA_VERSION",
    "FillConflict",
    "Journal",
    "JournalError",
    "LiveConfig",
    "LiveError",
    "LiveSession",
    "SessionSummary",
    "format_summary",
    "load_live_config",
    "parse_live_config",
    "run_session",
    "summarize",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from toolkit.live import bridge

        return getattr(bridge, name)
    raise AttributeError(f"module 'toolkit.live' has no attribute {name!r}")
