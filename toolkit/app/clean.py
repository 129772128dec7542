"""``toolkit clean [--older-than 30d] [--keep 10] [--dry-run]``: delete old session journals,
report folders and rotated log files by a retention policy (trained models in
``reports/models`` are not reports: never touched).

Three kinds, each with its own retention: report runs under ``--reports`` (a backtest's
``reports/<run>/`` or a notebook's ``reports/<date>/<name>-<time>/``), journals (``*.sqlite``
with their ``-wal``/``-shm`` and stale lock files) in each ``--state`` folder, and rotated log
files (``name.log.N``, ``name.jsonl.N``) in ``--logs``. An item is deleted only when it is
older than ``--older-than`` (its newest file's modification time) AND is not among the newest
``--keep`` of its kind: a quiet month never empties a folder. An item the OS refuses to delete
is named and kept, and the command exits 1.

A journal is never deleted while a session runs on it. Sessions hold an OS lock on a file next
to their journal for as long as they run (:mod:`toolkit.live._lock`); a journal with any such
lock held is kept and named. Deleting looks at the locks again under the journal folder's
guard (:func:`toolkit.live._lock.journal_guard`), which a session holds while it takes its
lock: a session that started in between keeps its journal, one starting during the deletion
waits for it and begins a new journal. A journal whose sessions still hold positions is kept (a
stopped session resumes from it), and tax exports (``<name>-tax-<time>``) are never deleted. The log
file a process is writing (its ``.lock`` held) is never deleted either; only rotated ones are, and
a second writer's ``name-<pid>.log`` once that writer is gone (with its lock). The rotated files of
a writer that runs are left to its own retention: deleting one while it rolls over would race it.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from toolkit._entry import run_command
from toolkit._logfiles import fallback_base, writer_lock
from toolkit._logfiles import is_held as log_held
from toolkit.errors import ToolkitError
from toolkit.live._lock import is_held, journal_guard

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ROTATED = re.compile(r"\.(log|jsonl)\.\d+$")
# not report runs: trained ML artefacts (toolkit.ml.artefact), which live configs load
_NOT_RUNS = frozenset({"models"})
# `toolkit export tax` folders (toolkit.app.reports): records a tax return may need for years
_TAX_EXPORT = re.compile(r"-tax-\d")


@dataclass(frozen=True)
class Item:
    """One thing the policy looks at, and what it decided."""

    kind: str  # report | journal | log
    path: str
    bytes: int
    age_days: float
    action: str  # delete | keep
    why: str


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` -> seconds (a one-line error otherwise)."""
    m = _AGE.match(text)
    if m is None:
        raise ToolkitError(
            f"--older-than {text!r}: give a number and a unit, e.g. 30d, 12h, 2w (s m h d w)"
        )
    return float(m.group(1)) * _UNITS[m.group(2)]


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--older-than", default="30d", help="delete only what is older (30d)")
    p.add_argument("--keep", type=int, default=10, help="always keep the newest N of each kind")
    p.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    p.add_argument("--reports", type=Path, action="append", help="report folder (reports)")
    p.add_argument("--state", type=Path, action="append", help="journal folder (live/state)")
    p.add_argument("--logs", type=Path, action="append", help="log folder (logs)")
    p.add_argument("--json", action="store_true", help="every item and decision as JSON")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "toolkit clean") -> int:
    args = _parser(prog).parse_args(argv)
    return run_command(lambda: _clean(args), debug=args.debug)


def _clean(args: argparse.Namespace) -> int:
    if args.keep < 0:
        raise ToolkitError(f"--keep {args.keep}: give 0 or more")
    items = plan(
        reports=args.reports or [Path("reports")],
        states=args.state or [Path("live/state")],
        logs=args.logs or [Path("logs")],
        older_than=parse_age(args.older_than),
        keep=args.keep,
    )
    done = [apply(i) if not args.dry_run else i for i in items]
    if args.json:
        print(json.dumps([asdict(i) for i in done], indent=1))
        return 1 if any(i.why.startswith("cannot delete") for i in done) else 0
    gone = [i for i in done if i.action == "delete"]
    verb = "would delete" if args.dry_run else "deleted"
    failed = [i for i in done if i.why.startswith("cannot delete")]
    for i in done:
        if i.action == "delete":
            print(f"{verb} {i.kind} {i.path} ({_size(i.bytes)}, {i.age_days:.0f} days old)")
        elif i.why.startswith("in use"):
            print(f"kept {i.kind} {i.path}: {i.why}")
        elif i in failed:
            print(f"could not delete {i.kind} {i.path}: {i.why.removeprefix('cannot delete: ')}")
    total = sum(i.bytes for i in gone)
    print(f"{verb} {len(gone)} item(s), {_size(total)}; kept {len(done) - len(gone)}")
    return 1 if failed else 0


def plan(
    *,
    reports: Sequence[Path],
    states: Sequence[Path],
    logs: Sequence[Path],
    older_than: float,
    keep: int,
    now: float | None = None,
) -> list[Item]:
    """What the policy decides for every item found (nothing is deleted here)."""
    t = time.time() if now is None else now
    out: list[Item] = []
    for kind, paths in (
        ("report", [p for folder in reports for p in _report_runs(folder)]),
        ("journal", [p for folder in states for p in sorted(folder.glob("*.sqlite"))]),
        ("log", [p for folder in logs for p in _rotated_logs(folder)]),
    ):
        # newest first; a rotated log's lower number is the newer one when the times tie
        dated = sorted(((_newest(p), -_rotation(p), p) for p in paths), reverse=True)
        for rank, (mtime, _, p) in enumerate(dated):
            age = t - mtime
            if kind == "journal" and (holders := _held_locks(p)):
                action, why = "keep", f"in use: a running session holds {holders[0].name}"
            elif kind == "journal" and (held := _open_positions(p)):
                action, why = "keep", f"in use: its sessions still hold {held}"
            elif kind == "log" and log_held(lock := writer_lock(p)):
                action, why = "keep", f"in use: a running writer holds {lock.name}"
            elif kind == "report" and _TAX_EXPORT.search(p.name):
                action, why = "keep", "tax records: kept for as long as the tax office asks"
            elif rank < keep:
                action, why = "keep", f"among the newest {keep}"
            elif age <= older_than:
                action, why = "keep", "not old enough"
            else:
                action, why = "delete", "older than the limit and not among the newest"
            out.append(Item(kind, str(p), _bytes(p), age / 86_400, action, why))
    return out


def apply(item: Item) -> Item:
    """Delete one planned item (a journal only if no session took its lock meanwhile); one
    the OS refuses comes back kept, its ``why`` starting with ``cannot delete``."""
    if item.action != "delete":
        return item
    p = Path(item.path)
    try:
        if item.kind == "journal":
            return _delete_journal(item, p)
        if item.kind == "log":
            return _delete_log(item, p)
        if p.is_dir():
            shutil.rmtree(p)
            if _DATE_DIR.match(p.parent.name) and not any(p.parent.iterdir()):
                p.parent.rmdir()  # a notebook report's date folder, now empty
        else:
            p.unlink(missing_ok=True)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        why = f"cannot delete: {exc.strerror or exc}{where}"
        return Item(item.kind, item.path, item.bytes, item.age_days, "keep", why)
    return item


def _delete_journal(item: Item, p: Path) -> Item:
    # under the folder's guard no session is between taking its lock and opening its journal
    with journal_guard(p.parent, exclusive=True):
        holders = _held_locks(p)
        if holders:  # a session started between the plan and now: its journal stays
            return Item(item.kind, item.path, item.bytes, item.age_days, "keep",
                        f"in use: a running session holds {holders[0].name}")  # fmt: skip
        for extra in (p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm"), p):
            extra.unlink(missing_ok=True)
        for lock in p.parent.glob(f"{p.name}.*.lock"):
            lock.unlink(missing_ok=True)  # stale: not held (checked above)
    return item


def _delete_log(item: Item, p: Path) -> Item:
    lock = writer_lock(p)
    if log_held(lock):  # a writer took the name between the plan and now
        return Item(item.kind, item.path, item.bytes, item.age_days, "keep",
                    f"in use: a running writer holds {lock.name}")  # fmt: skip
    second = fallback_base(p) is not None
    p.unlink(missing_ok=True)
    family = lock.name.removesuffix(".lock")
    if second and not any(
        q.name == family or q.name[len(family) + 1 :].isdigit()
        for q in p.parent.glob(f"{glob.escape(family)}*")
    ):
        lock.unlink(missing_ok=True)  # a gone second writer's lock, now without files
    return item


def _held_locks(journal: Path) -> list[Path]:
    """The session lock files of ``journal`` that a running process holds."""
    held = []
    for lock in sorted(journal.parent.glob(f"{journal.name}.*.lock")):
        if is_held(lock):
            held.append(lock)
    return held


def _open_positions(journal: Path) -> str:
    """The positions a journal's sessions still hold from their journaled fills ("" when every
    session ended flat). A stopped session with a position is resumed with ``--session``: its
    journal is its book, so it stays. A journal that cannot be read counts as holding one."""
    try:
        # read a copy: opening the journal itself would create its -wal/-shm files, whose
        # fresh times make an old journal look new (and a crashed session's -wal holds fills)
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / journal.name
            shutil.copyfile(journal, copy)
            if (wal := journal.with_name(journal.name + "-wal")).exists():
                shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
            with contextlib.closing(sqlite3.connect(copy)) as db:
                rows = db.execute(
                    "SELECT o.session_id, f.symbol, SUM(CASE f.side WHEN 'BOT' THEN f.shares "
                    "ELSE -f.shares END) AS net FROM fills f JOIN orders o ON o.order_ref = "
                    "f.order_ref GROUP BY o.session_id, f.symbol HAVING ABS(net) > 1e-9"
                ).fetchall()
    except (sqlite3.Error, OSError) as exc:
        return f"positions it cannot show ({exc})"
    return ", ".join(f"{sym} {net:g} ({sid})" for sid, sym, net in rows[:3]) + (
        f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    )


def _report_runs(folder: Path) -> Iterator[Path]:
    """A backtest's run folder, or each run inside a notebook report's date folder."""
    if not folder.is_dir():
        return
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.name in _NOT_RUNS:
            continue  # the scheduler's state, trained models: not reports
        if p.is_dir() and _DATE_DIR.match(p.name):
            yield from sorted(q for q in p.iterdir() if not q.name.startswith("."))
        elif p.is_dir():
            yield p


def _rotated_logs(folder: Path) -> Iterator[Path]:
    """Rotated files (``name.log.N``) and second writers' files (``name-<pid>.log``, kept in
    use by the plan while their writer runs)."""
    if folder.is_dir():
        yield from sorted(
            p
            for p in folder.iterdir()
            if _ROTATED.search(p.name)
            or (p.suffix in (".log", ".jsonl") and fallback_base(p) is not None)
        )


def _rotation(p: Path) -> int:
    m = _ROTATED.search(p.name)
    return int(p.name.rsplit(".", 1)[1]) if m else 0


def _files(p: Path) -> Iterator[Path]:
    if p.is_dir():
        yield from (q for q in p.rglob("*") if q.is_file())
    elif p.exists():
        yield p
        for extra in (p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")):
            if extra.exists():
                yield extra


def _newest(p: Path) -> float:
    stamps = [q.stat().st_mtime for q in _files(p)]
    return max(stamps) if stamps else p.stat().st_mtime


def _bytes(p: Path) -> int:
    return sum(q.stat().st_size for q in _files(p))


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


if __name__ == "__main__":
    sys.exit(main())
