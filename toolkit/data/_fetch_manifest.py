"""The provenance record of fetched bar files: ``<data>/fetch_manifest.csv``, one row per file.

Beside the shipped sample's ``manifest.csv`` (source repository, commit, blob, licence), a
fetched file records where it came from and how: the source (IBKR's TWS API through
ib_async, at which host and server version), the request (symbol, conId, exchange, bar size,
whatToShow, RTH, since), what it holds (first and last bar, rows, SHA-256 and size of the
file as written) and when it was fetched or last updated. Every write replaces the whole file
through a temporary file and a rename, so a reader never sees half a record.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from toolkit.errors import DataError

MANIFEST = "fetch_manifest.csv"


@dataclass(frozen=True)
class FetchRecord:
    """One fetched file (``file`` relative to the data folder, with ``/``)."""

    file: str
    symbol: str
    bar: str
    what_to_show: str
    use_rth: bool
    since: str
    start: str
    end: str
    rows: int
    sha256: str
    bytes: int
    source: str
    con_id: int
    exchange: str
    currency: str
    requests: int
    fetched_at: str
    action: str
    note: str = ""


COLUMNS = tuple(f.name for f in fields(FetchRecord))


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename:
    ``path`` holds the old bytes or the new ones, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_records(root: Path) -> dict[str, FetchRecord]:
    """The fetched files recorded under ``root``, by relative path (none: empty)."""
    path = root / MANIFEST
    if not path.is_file():
        return {}
    out: dict[str, FetchRecord] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or ()) - {"note"}
        if missing:
            raise DataError(
                f"{path}: missing column(s) {', '.join(sorted(missing))}. The file is written by "
                "`python -m toolkit data fetch`; restore it or delete it and fetch again."
            )
        for line, row in enumerate(reader, start=2):
            try:
                rec = FetchRecord(
                    file=row["file"],
                    symbol=row["symbol"],
                    bar=row["bar"],
                    what_to_show=row["what_to_show"],
                    use_rth=row["use_rth"] == "True",
                    since=row["since"],
                    start=row["start"],
                    end=row["end"],
                    rows=int(row["rows"]),
                    sha256=row["sha256"],
                    bytes=int(row["bytes"]),
                    source=row["source"],
                    con_id=int(row["con_id"] or 0),
                    exchange=row["exchange"],
                    currency=row["currency"],
                    requests=int(row["requests"] or 0),
                    fetched_at=row["fetched_at"],
                    action=row["action"],
                    note=row.get("note") or "",
                )
            except (TypeError, ValueError) as exc:
                raise DataError(
                    f"{path}: line {line}: {exc}. Delete the line (its file is then treated as "
                    "not fetched) or fetch that series again with --replace."
                ) from None
            out[rec.file] = rec
    return out


def write_record(root: Path, record: FetchRecord) -> None:
    """Add or replace ``record`` (by its file) in the manifest."""
    records = read_records(root)
    records[record.file] = record
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for key in sorted(records):
        writer.writerow(asdict(records[key]))
    replace_atomically(root / MANIFEST, buf.getvalue().encode())
