"""Error hierarchy: every error a user can cause says what was wrong and what to do.

The CLI prints ``str(error)`` without a traceback (``--debug`` shows it), so each message
must stand on its own: name the file, key, row or order, the problem, and the remedy.

The one hierarchy (every error a user can cause is a :class:`ToolkitError`; the packages
that raise the more specific ones define them next to their code)::

    ToolkitError
    +-- DataError, ConfigError, AlertError          (here)
    +-- ReportFailed                                 toolkit.report.notebook_runner
    +-- LiveError -> StopRequested                   toolkit.live (a session's own stop)
    +-- SessionLocked                                toolkit.live._lock
    +-- JournalError -> FillConflict                 toolkit.live.journal
    +-- ProtocolError                                toolkit.gateway.framing

The gateway simulator's ``OrderRejected`` is not one of them: it is the simulator's answer
to a client (an IB error code sent over the wire), never shown to our user as an error.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base class for errors caused by input, configuration or the broker, not by a bug."""

    def _render_traceback_(self) -> list[str]:
        """What IPython/Jupyter shows for this error: its one line, as the CLI prints it.

        IPython calls this hook instead of formatting the stack (IPython's
        ``InteractiveShell.showtraceback``); ``%tb`` or ``error.__traceback__`` still has it.
        """
        return [f"{type(self).__name__}: {self}"]


class DataError(ToolkitError):
    """A market-data file or frame is missing, malformed or inconsistent."""


class ConfigError(ToolkitError):
    """A TOML config or a parameter set is invalid."""


class AlertError(ToolkitError):
    """An alert (notification mail) could not be delivered."""


class DataWarning(UserWarning):
    """Data loaded, but something in it deserves a look: rows a repair changed or dropped,
    or an implausible price move. Silence with ``warnings.filterwarnings("ignore",
    category=DataWarning)`` or, for price moves, ``load(..., jump_factor=None)``."""
