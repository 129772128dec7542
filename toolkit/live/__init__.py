"""Live bridge (issue 7, in progress): today only the session journal is in place.

* :class:`Journal` -- the SQLite record of a live or paper session (see :mod:`toolkit.live.journal`)
"""

from toolkit.live.journal import SCHEMA_VERSION, Journal, JournalError

__all__ = ["SCHEMA_VERSION", "Journal", "JournalError"]
