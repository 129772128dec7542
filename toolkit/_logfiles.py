"""Log files for long-running commands (live session, gateway simulator, report scheduler):
rotation by size and by day with a retention count (issue 19).

Built on :mod:`logging.handlers`: :class:`SizeAndDayHandler` is a
:class:`~logging.handlers.RotatingFileHandler` (size, numbered backups ``name.log.1`` ..
``name.log.N``, N the retention count) whose rollover also fires when the UTC day of a record
is not the day the file was started on. Neither stdlib handler does both: the
``TimedRotatingFileHandler`` rolls by time only and names backups by date, so a size rollover on
the same day would collide with its names and its retention would count days, not files. One
numbered series keeps one retention count over both triggers.

The terminal output stays as it was: a command keeps printing its lines, and :meth:`LogFile.tee`
writes each of them to the file too; the package's own loggers (``toolkit.gateway``...) are
attached to the file, and their warnings still reach stderr. ``json = true`` writes JSON lines
(``name.jsonl``: one object per record: ts, level, logger, msg, pid) instead of text.

Settings: command-line flags (:func:`add_arguments`), else ``TOOLKIT_LOG_*`` environment
variables (a service unit's ``Environment=``), else a config's ``[logs]`` table
(:func:`parse_table`), else none: no directory means no file. This module sits at the bottom of
the import layers (stdlib and :mod:`toolkit.errors` only): live, gateway and reports all use it.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import fcntl
import glob
import itertools
import json
import logging
import logging.handlers
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from toolkit.errors import ConfigError

MIB = 1024 * 1024
KEYS = ("dir", "max_bytes", "backups", "daily", "json")


@dataclass(frozen=True)
class LogSettings:
    """Where and how a command logs to files; ``directory`` None: no file (terminal only)."""

    directory: Path | None = None
    max_bytes: int = 10 * MIB  # a file rolls over before it grows past this
    backups: int = 14  # rotated files kept (name.log.1 .. name.log.<backups>)
    daily: bool = True  # also roll at the first record of a new UTC day
    json: bool = False  # JSON lines (name.jsonl) instead of text

    def __post_init__(self) -> None:
        if self.max_bytes < 1024:
            raise ConfigError(f"log max_bytes = {self.max_bytes}: use at least 1024 bytes.")
        if not 1 <= self.backups <= 10_000:
            raise ConfigError(f"log backups = {self.backups}: keep between 1 and 10000 files.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--log-dir``, ``--log-max-bytes``, ``--log-backups``, ``--log-json`` on a command."""
    g = parser.add_argument_group("log files (also TOOLKIT_LOG_DIR, _MAX_BYTES, _BACKUPS, _JSON)")
    g.add_argument("--log-dir", type=Path, help="write log files here too (rotated)")
    g.add_argument("--log-max-bytes", type=int, help="roll a log file at this size (10 MiB)")
    g.add_argument("--log-backups", type=int, help="rotated log files kept (14)")
    g.add_argument("--log-json", action="store_true", default=None, help="JSON lines, not text")


def settings_from(
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
    table: LogSettings | None = None,
) -> LogSettings:
    """Flags over ``TOOLKIT_LOG_*`` variables over a config's ``[logs]`` table."""
    env = os.environ if environ is None else environ
    base = table or LogSettings()
    values: dict[str, Any] = {}
    for field, var, kind in (
        ("directory", "TOOLKIT_LOG_DIR", Path),
        ("max_bytes", "TOOLKIT_LOG_MAX_BYTES", int),
        ("backups", "TOOLKIT_LOG_BACKUPS", int),
        ("json", "TOOLKIT_LOG_JSON", bool),
    ):
        text = env.get(var, "").strip()
        if text:
            values[field] = _env_value(var, text, kind)
    for field, flag in (
        ("directory", "log_dir"),
        ("max_bytes", "log_max_bytes"),
        ("backups", "log_backups"),
        ("json", "log_json"),
    ):
        value = getattr(args, flag, None) if args is not None else None
        if value is not None:
            values[field] = value
    return replace(base, **values)


def _env_value(var: str, text: str, kind: type) -> Any:
    if kind is Path:
        return Path(text)
    if kind is bool:
        if text.lower() not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"{var}={text!r}: use 1 or 0.")
        return text.lower() in ("1", "true", "yes")
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{var}={text!r} is not a whole number.") from None


def parse_table(path: Path, raw: Any) -> LogSettings:
    """A config's ``[logs]`` table (``dir`` relative to the config's folder)."""
    if raw is None:
        return LogSettings()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [logs] must be a table.")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: [logs] unknown key(s) {', '.join(unknown)}; allowed: {', '.join(KEYS)}."
        )
    values: dict[str, Any] = {}
    for key, kind in (("max_bytes", int), ("backups", int), ("daily", bool), ("json", bool)):
        if key in raw:
            value = raw[key]
            if type(value) is not kind:
                raise ConfigError(f"{path}: [logs] {key} = {value!r} must be a {kind.__name__}.")
            values[key] = value
    if "dir" in raw:
        if not isinstance(raw["dir"], str) or not raw["dir"].strip():
            raise ConfigError(f"{path}: [logs] dir must be a folder name.")
        folder = Path(raw["dir"]).expanduser()
        values["directory"] = folder if folder.is_absolute() else path.parent / folder
    try:
        return LogSettings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: [logs] {exc}") from None


class SizeAndDayHandler(logging.handlers.RotatingFileHandler):
    """Numbered rotation when the file would pass ``maxBytes`` or a record's UTC day differs
    from the day the current file began (``daily``); ``backupCount`` files are kept."""

    def __init__(self, filename: Path, max_bytes: int, backups: int, daily: bool) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.daily = daily
        self._day: date | None = None
        with contextlib.suppress(OSError):
            st = os.stat(filename)
            if st.st_size:
                self._day = datetime.fromtimestamp(st.st_mtime, UTC).date()
        self._next_day: date | None = None

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 (stdlib name)
        day = datetime.fromtimestamp(record.created, UTC).date()
        if self._day is None:
            self._day = day
        if self.daily and day != self._day and self._size() > 0:
            self._next_day = day
            return True
        if super().shouldRollover(record):
            self._next_day = day
            return True
        return False

    def doRollover(self) -> None:  # noqa: N802 (stdlib name)
        # the stdlib's doRollover checks that a backup exists, then removes or renames it: a
        # backup deleted in between (``toolkit clean``, an operator's rm) raised there, so the
        # logging module printed a traceback and dropped the record. Each step here tolerates
        # a file that has vanished.
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        if self.backupCount > 0:
            for i in range(self.backupCount - 1, 0, -1):
                source = self.rotation_filename(f"{self.baseFilename}.{i}")
                with contextlib.suppress(FileNotFoundError):
                    os.replace(source, self.rotation_filename(f"{self.baseFilename}.{i + 1}"))
            with contextlib.suppress(FileNotFoundError):
                self.rotate(self.baseFilename, self.rotation_filename(f"{self.baseFilename}.1"))
        if not self.delay:
            self.stream = self._open()
        if self._next_day is not None:
            self._day, self._next_day = self._next_day, None

    def _size(self) -> int:
        if self.stream is not None:
            self.stream.flush()
        try:
            return os.stat(self.baseFilename).st_size
        except OSError:
            return 0


class JsonLines(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, msg, pid (+ exc)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


# the log file (its token) whose session the running code belongs to: set in the context of a
# session's task (LogFile.context), inherited by the tasks and the simulator thread it starts
_OWNER: contextvars.ContextVar[object | None] = contextvars.ContextVar("log_owner", default=None)


def _text_formatter() -> logging.Formatter:
    f = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    f.converter = time.gmtime  # UTC, like the journal and the broker's clock
    return f


class LogFile:
    """A command's rotated log file, attached to ``loggers`` (and written by :meth:`tee`) until
    :meth:`close`. ``name`` is made file-safe; when another writer holds ``name`` in the same
    folder (its lock is held), this one writes ``name-<pid>`` (``name-<pid>-2``... for more writers
    in one process) rather than interleave rotations. Such files left by writers that are gone
    count as rotated backups: beyond ``backups`` of them, the oldest go (and so does
    ``toolkit clean``). Several files in one process (two notebook sessions) share the package
    loggers; run each writer's code in :meth:`context` and its file gets only its own records."""

    def __init__(self, name: str, settings: LogSettings, loggers: Iterable[str] = ()) -> None:
        assert settings.directory is not None, "no log directory: nothing to open"
        folder = settings.directory
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{folder}: cannot create the log folder ({exc}).") from None
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "toolkit"
        suffix = ".jsonl" if settings.json else ".log"
        base = safe
        for n in itertools.count():
            if n:  # another writer (process, or session in this one) holds the name
                safe = f"{base}-{os.getpid()}" + (f"-{n}" if n > 1 else "")
            self._lock_fd = _lock(folder / f"{safe}{suffix}.lock")
            if self._lock_fd is not None:
                break
        self.path = folder / f"{safe}{suffix}"
        _prune_fallbacks(folder, base, suffix, settings.backups)
        try:
            self.handler = SizeAndDayHandler(
                self.path, settings.max_bytes, settings.backups, settings.daily
            )
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write the log file ({exc}).") from None
        self.handler.setFormatter(JsonLines() if settings.json else _text_formatter())
        self.handler.setLevel(logging.INFO)
        self._token = object()
        self.handler.addFilter(self._own)
        # the loggers' warnings still reach the terminal (as the stdlib's last resort did)
        self._stderr = logging.StreamHandler(sys.stderr)
        self._stderr.setLevel(logging.WARNING)
        self._attached: list[tuple[logging.Logger, int]] = []
        self.logger = logging.getLogger(f"toolkit.log.{safe}")
        for logger in (self.logger, *(logging.getLogger(n) for n in loggers)):
            self._attached.append((logger, logger.level))
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.addHandler(self.handler)
            if logger is not self.logger:
                logger.addHandler(self._stderr)
        self.logger.propagate = False

    def _own(self, record: logging.LogRecord) -> bool:
        # a package logger's record written by another file's writer (another session in this
        # process) is not this file's; records outside any writer's context go to every file
        owner = _OWNER.get()
        return owner is None or owner is self._token or record.name == self.logger.name

    def context(self) -> contextvars.Context:
        """A copy of the current context marked as this file's writer: run a session's task in
        it (``loop.create_task(coro, context=log.context())``) and the package loggers' records
        from that task, its tasks and threads started with the context reach this file only."""
        ctx = contextvars.copy_context()
        ctx.run(_OWNER.set, self._token)
        return ctx

    def write(self, line: str) -> None:
        """One line of the command's own output, as printed, into the file."""
        level = logging.WARNING if _WARN.search(line) else logging.INFO
        self.logger.log(level, line)

    def tee(self, echo: Callable[[str], None] | None) -> Callable[[str], None]:
        """``echo`` that also writes each line to the file (``echo`` None: the file only)."""

        def both(line: str) -> None:
            self.write(line)
            if echo is not None:
                echo(line)

        return both

    def close(self) -> None:
        for logger, level in self._attached:
            logger.removeHandler(self.handler)
            logger.removeHandler(self._stderr)
            logger.setLevel(level)
        self._attached.clear()
        self.handler.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WARN = re.compile(r"\b(WARNING|LATE|REJECTED|ERROR|kill switch)\b", re.IGNORECASE)


def open_log(
    name: str, settings: LogSettings, loggers: Iterable[str] = (), stream: TextIO | None = None
) -> LogFile | None:
    """The command's log file (None without a directory); ``stream`` gets one line naming it."""
    if settings.directory is None:
        return None
    log = LogFile(name, settings, loggers)
    if stream is not None:
        print(f"logging to {log.path} (rotated at {settings.max_bytes:,} bytes"
              f"{' and daily' if settings.daily else ''}, {settings.backups} kept)",
              file=stream, flush=True)  # fmt: skip
    return log


_FAMILY = re.compile(r"^(?P<stem>.+?)(?P<suffix>\.log|\.jsonl)(?:\.\d+)?$")


def _family(name: str) -> tuple[str, str] | None:
    """``(stem, suffix)`` of a log file or one of its rotated ``.N`` (``x.log.3``: x, .log)."""
    m = _FAMILY.match(name)
    return None if m is None else (m.group("stem"), m.group("suffix"))


def fallback_base(path: Path) -> str | None:
    """The primary name ``x`` when ``path`` is a second writer's file ``x-<pid>[-n].log[.N]``
    (see :class:`LogFile`); only when the primary's lock ``x.log.lock`` is in the same folder
    -- a name that merely ends in digits is not one. None otherwise."""
    parts = _family(path.name)
    if parts is None:
        return None
    stem, suffix = parts
    for cut in (r"-\d+$", r"-\d+-\d+$"):
        m = re.search(cut, stem)
        if m and m.start() > 0 and (path.parent / f"{stem[: m.start()]}{suffix}.lock").exists():
            return stem[: m.start()]
    return None


def writer_lock(path: Path) -> Path:
    """The lock file of the writer of ``path`` (a log file or one of its rotated ``.N``)."""
    parts = _family(path.name)
    name = "".join(parts) if parts else path.name
    return path.parent / f"{name}.lock"


def is_held(lock: Path) -> bool:
    """Whether a running process holds ``lock`` (a log writer's, a live session's:
    toolkit.live._lock). A lock that is gone is free; one this user may not open counts as
    held: it cannot be proved free, and ``toolkit clean``, ``status`` and the web app must never
    treat another user's running writer or session as ended."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _prune_fallbacks(folder: Path, base: str, suffix: str, backups: int) -> None:
    """Second writers' files of ``base`` whose writer is gone are old logs: keep the newest
    ``backups`` of them (the retention count), delete the rest and the locks left without a file."""
    stale: list[tuple[float, Path]] = []
    locks: set[Path] = set()
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            parts = _family(p.name)
            if parts is None or parts[1] != suffix or fallback_base(p) != base:
                continue
            lock = writer_lock(p)
            if is_held(lock):
                continue  # a running writer's file (its own retention rotates it)
            locks.add(lock)
            with contextlib.suppress(OSError):
                stale.append((p.stat().st_mtime, p))
    stale.sort(reverse=True)
    for _, p in stale[backups:]:
        with contextlib.suppress(OSError):
            p.unlink()
    for lock in locks:
        family = lock.name.removesuffix(".lock")
        left = [q for q in folder.glob(f"{glob.escape(family)}*") if q != lock]
        if not any(q.name == family or q.name[len(family) + 1 :].isdigit() for q in left):
            with contextlib.suppress(OSError):
                lock.unlink()  # its writer is gone and so are its files


def _lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
