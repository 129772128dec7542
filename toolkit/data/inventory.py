"""What bar files a data folder holds and where each came from.

Every CSV/Parquet under ``daily/`` and ``intraday/`` is listed with its provenance: the shipped
sample's ``manifest.csv`` (source repository, commit, upstream vendor), the fetch record of
``fetch_manifest.csv`` (IBKR request, fetched at, SHA-256: a file changed since it was
fetched says so), or "unrecorded" (a file the user put there; its rows and first and last
stamps are read from the file).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.data._fetch_manifest import read_records
from toolkit.data._paths import SUFFIXES
from toolkit.data.loader import load_file
from toolkit.errors import DataError

BAR_FOLDERS = ("daily", "intraday")
SHIPPED_MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class BarFile:
    """One bar file: ``origin`` is shipped, fetched or unrecorded; ``status`` says whether a
    fetched file still has the hash it was written with."""

    file: str
    symbol: str
    bar: str
    what: str
    start: str
    end: str
    rows: int
    origin: str
    source: str
    fetched_at: str
    status: str

    def record(self) -> dict[str, Any]:
        return asdict(self)


def _shipped(root: Path) -> dict[str, dict[str, str]]:
    path = root / SHIPPED_MANIFEST
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f) if row.get("file")}


def _bar(text: str) -> str:
    """The bar size of a shipped manifest's description ("1 minute, labelled by ...")."""
    return text.split(";")[0].split(",")[0].strip()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scan(path: Path) -> tuple[int, str, str]:
    """Rows and first/last stamp of a file no manifest describes (first CSV field)."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        index = frame.index if isinstance(frame.index, pd.DatetimeIndex) else frame.iloc[:, 0]
        return len(frame), str(index[0]) if len(frame) else "", str(index[-1]) if len(frame) else ""
    lines = [ln for ln in path.read_text(errors="replace").splitlines()[1:] if ln.strip()]
    if not lines:
        return 0, "", ""
    first, last = lines[0].split(",", 1)[0], lines[-1].split(",", 1)[0]
    return len(lines), min(first, last), max(first, last)  # some vendors run newest first


def bar_files(root: Path) -> list[BarFile]:
    """Every bar file under ``root``'s daily/ and intraday/ folders, sorted by path."""
    shipped = _shipped(root)
    fetched = read_records(root)
    out: list[BarFile] = []
    for folder in BAR_FOLDERS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.suffix not in SUFFIXES or path.name.startswith("."):
                continue
            rel = path.relative_to(root).as_posix()
            symbol = path.stem.split("_")[0].upper()
            rec = fetched.get(rel)
            if rec is not None:
                ok = path.stat().st_size == rec.bytes and _sha256(path) == rec.sha256
                out.append(
                    BarFile(
                        rel, rec.symbol, rec.bar, rec.what_to_show, rec.start[:19], rec.end[:19],
                        rec.rows, "fetched", rec.source, rec.fetched_at,
                        "ok" if ok else "changed since fetched",
                    )
                )  # fmt: skip
            elif rel in shipped:
                row = shipped[rel]
                out.append(
                    BarFile(
                        rel, row.get("symbol") or symbol, _bar(row.get("bar", "")), "",
                        row.get("start", ""), row.get("end", ""), int(row.get("rows") or 0),
                        "shipped", row.get("upstream", ""), "", "",
                    )
                )  # fmt: skip
            else:
                rows, start, end = _scan(path)
                out.append(BarFile(rel, symbol, "", "", start, end, rows, "unrecorded", "", "", ""))
    return out


def describe_symbol(root: Path, symbol: str) -> list[dict[str, Any]]:
    """Each file of ``symbol`` with its full provenance row and what the loader reads from it
    (rows, first and last bar, or the loader's error)."""
    symbol = symbol.strip().upper()
    files = [f for f in bar_files(root) if f.symbol.upper() == symbol]
    if not files:
        raise DataError(
            f"no bar files for {symbol!r} under {root}/daily or {root}/intraday. "
            f"`python -m toolkit data list` shows what is there; `data fetch {symbol}` gets it."
        )
    shipped = _shipped(root)
    fetched = read_records(root)
    out: list[dict[str, Any]] = []
    for f in files:
        entry: dict[str, Any] = f.record()
        rec = fetched.get(f.file)
        entry["provenance"] = asdict(rec) if rec is not None else shipped.get(f.file, {})
        try:
            frame, info = load_file(root / f.file, adjust="none")
            entry["loader"] = {
                "rows": len(frame),
                "first": pd.Timestamp(frame.index[0]).isoformat(),
                "last": pd.Timestamp(frame.index[-1]).isoformat(),
                "sha256": info.sha256,
                "repairs": dict(info.repairs),
            }
        except DataError as exc:
            entry["loader"] = {"error": str(exc)}
        out.append(entry)
    return out
