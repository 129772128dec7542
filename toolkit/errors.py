"""Error hierarchy: every error a user can cause says what was wrong and what to do.

The CLI prints ``str(error)`` without a traceback (``--debug`` shows it), so each message
must stand on its own: name the file, key, row or order, the problem, and the remedy.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base class for errors caused by input, configuration or the broker, not by a bug."""


class DataError(ToolkitError):
    """A market-data file or frame is missing, malformed or inconsistent."""


class ConfigError(ToolkitError):
    """A TOML config or a parameter set is invalid."""


class OrderRejected(ToolkitError):
    """An order was refused by a risk rule, the simulator or the broker."""


class DataWarning(UserWarning):
    """Data loaded, but something in it deserves a look: rows a repair changed or dropped,
    or an implausible price move. Silence with ``warnings.filterwarnings("ignore",
    category=DataWarning)`` or, for price moves, ``load(..., jump_factor=None)``."""
