"""Live bridge: the backtested strategy, unchanged, against IBKR paper/live or the simulator.

* :func:`run_session` / :class:`LiveSession` -- run a session (``python -m toolkit.live run``)
* :class:`NotebookSession` -- the same session as a task on a notebook's event loop
  (start, status, positions, fills, stop)
* :func:`load_live_config`, :class:`LiveConfig` -- ``live/*.toml``; a slot's
  :class:`ExecutionSpec` (``[strategies.execution]``) and :class:`BracketSpec`
  (``[strategies.bracket]``)
* :class:`Journal` -- the SQLite record of a session (see :mod:`toolkit.live.journal`)
* :func:`summarize`, :func:`format_summary`, :class:`SessionSummary` -- results from a journal
* :func:`run_option_session` / :class:`OptionSession`, :func:`load_option_config` -- an
  option template traded as combo orders (``python -m toolkit.live options``)

The session pieces that need ``ib_async`` (the ``live`` extra) load on first use, so research
code imports the toolkit without it.
"""

from typing import TYPE_CHECKING

from toolkit._lazy import lazy_exports

# Names resolve on first use (toolkit/_lazy.py says why): ``python -m toolkit.live`` answers
# before pandas, numba and ib_async are loaded.
_EXPORTS = {
    "LiveConfig": "toolkit.live.config:LiveConfig",
    "ExecutionSpec": "toolkit.live.execution_config:ExecutionSpec",
    "BracketSpec": "toolkit.live.brackets:BracketSpec",
    "load_live_config": "toolkit.live.config:load_live_config",
    "parse_live_config": "toolkit.live.config:parse_live_config",
    "SCHEMA_VERSION": "toolkit.live.journal:SCHEMA_VERSION",
    "FillConflict": "toolkit.live.journal:FillConflict",
    "Journal": "toolkit.live.journal:Journal",
    "JournalError": "toolkit.live.journal:JournalError",
    "SessionSummary": "toolkit.live.summary:SessionSummary",
    "format_summary": "toolkit.live.summary:format_summary",
    "summarize": "toolkit.live.summary:summarize",
    "LiveSession": "toolkit.live.bridge:LiveSession",
    "LiveError": "toolkit.live.bridge:LiveError",
    "NotebookSession": "toolkit.live.notebook:NotebookSession",
    "run_session": "toolkit.live.bridge:run_session",
    "OptionLiveConfig": "toolkit.live.options_config:OptionLiveConfig",
    "load_option_config": "toolkit.live.options_config:load_option_config",
    "OptionSession": "toolkit.live.option_session:OptionSession",
    "OptionSummary": "toolkit.live.option_session:OptionSummary",
    "run_option_session": "toolkit.live.option_session:run_option_session",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from toolkit.live.brackets import BracketSpec
    from toolkit.live.bridge import LiveError, LiveSession, run_session
    from toolkit.live.config import LiveConfig, load_live_config, parse_live_config
    from toolkit.live.execution_config import ExecutionSpec
    from toolkit.live.journal import SCHEMA_VERSION, FillConflict, Journal, JournalError
    from toolkit.live.notebook import NotebookSession
    from toolkit.live.option_session import OptionSession, OptionSummary, run_option_session
    from toolkit.live.options_config import OptionLiveConfig, load_option_config
    from toolkit.live.summary import SessionSummary, format_summary, summarize

__all__ = [
    "SCHEMA_VERSION",
    "BracketSpec",
    "ExecutionSpec",
    "FillConflict",
    "Journal",
    "JournalError",
    "LiveConfig",
    "LiveError",
    "LiveSession",
    "NotebookSession",
    "OptionLiveConfig",
    "OptionSession",
    "OptionSummary",
    "SessionSummary",
    "format_summary",
    "load_live_config",
    "load_option_config",
    "parse_live_config",
    "run_option_session",
    "run_session",
    "summarize",
]
