"""Report folders as the web app shows them: every folder under ``reports/`` that holds files
(a backtest's tear sheet, chart and manifest; a robustness run's summary and charts; an executed
report notebook's HTML under ``reports/<date>/``; an option backtest's tables), its manifest and
summary read as data, CSVs previewed as tables. Paths never leave the reports folder."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

MAX_DEPTH = 3  # reports/<run>/ and reports/<date>/<notebook-time>/
PREVIEW_ROWS = 50


class ReportNotFound(ToolkitError):
    """A report folder or file the URL names is not there (or lies outside reports/)."""


@dataclass(frozen=True)
class ReportRun:
    """One report folder."""

    name: str  # its path under the reports folder, with "/"
    kind: str
    modified: str  # UTC, of its newest file
    files: tuple[str, ...]

    @property
    def pages(self) -> tuple[str, ...]:
        return tuple(f for f in self.files if f.endswith(".html"))


def _kind(files: set[str]) -> str:
    if "tearsheet.html" in files or "chart.html" in files:
        return "backtest"
    if "summary.json" in files:
        return "robustness"
    if any(f.endswith(".ipynb") for f in files):
        return "notebook report"
    if any(f.startswith("attribution") for f in files):
        return "option backtest"
    if "manifest.json" in files:
        return "run"
    return "files"


def list_reports(root: Path) -> list[ReportRun]:
    """Every report folder under ``root``, newest first."""
    runs: list[ReportRun] = []
    if not root.is_dir():
        return runs

    def walk(folder: Path, depth: int) -> None:
        try:
            entries = list(folder.iterdir())
        except OSError:
            return
        files = sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))
        if files and folder != root:
            newest = max((folder / f).stat().st_mtime for f in files)
            runs.append(
                ReportRun(
                    name=folder.relative_to(root).as_posix(),
                    kind=_kind(set(files)),
                    modified=datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M"),
                    files=tuple(files),
                )
            )
        if depth < MAX_DEPTH:
            for e in sorted(entries):
                if e.is_dir() and not e.name.startswith("."):
                    walk(e, depth + 1)

    walk(root, 0)
    runs.sort(key=lambda r: (r.modified, r.name), reverse=True)
    return runs


def inside(root: Path, name: str) -> Path:
    """``root/name`` resolved, refused when it leaves ``root`` (``..``, a symlink out)."""
    base = root.resolve()
    path = (base / name).resolve()
    if path != base and base not in path.parents:
        raise ReportNotFound(f"{name!r} is not inside the reports folder")
    if not path.exists():
        raise ReportNotFound(f"no report {name!r} in {base}")
    return path


@dataclass(frozen=True)
class ReportPage:
    """What a report folder's page shows."""

    run: ReportRun
    manifest: dict[str, Any] | None
    summary: Any  # summary.json as written
    texts: dict[str, str]  # *.txt
    tables: dict[str, tuple[list[str], list[list[str]], int]]  # CSV: header, rows, total rows
    images: tuple[str, ...]


def report_page(root: Path, name: str) -> ReportPage:
    """A report folder read for its page."""
    folder = inside(root, name)
    if not folder.is_dir():
        raise ReportNotFound(f"{name!r} is a file, not a report folder")
    files = sorted(f.name for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    run = ReportRun(
        name=folder.relative_to(root.resolve()).as_posix(),
        kind=_kind(set(files)),
        modified=datetime.fromtimestamp(
            max([(folder / f).stat().st_mtime for f in files] or [0.0]), UTC
        ).strftime("%Y-%m-%d %H:%M"),
        files=tuple(files),
    )
    manifest = _json(folder / "manifest.json")
    summary = _json(folder / "summary.json")
    texts = {f: (folder / f).read_text(errors="replace") for f in files if f.endswith(".txt")}
    tables = {f: _csv(folder / f) for f in files if f.endswith(".csv")}
    images = tuple(f for f in files if f.endswith((".png", ".svg", ".jpg")))
    return ReportPage(run, manifest, summary, texts, tables, images)


def _json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {"error": f"{path.name} is not readable JSON: {exc}"}


def _csv(path: Path) -> tuple[list[str], list[list[str]], int]:
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows: list[list[str]] = []
        total = 0
        for row in reader:
            total += 1
            if len(rows) < PREVIEW_ROWS:
                rows.append([_cell(v) for v in row])
    return header, rows, total


def _cell(value: str) -> str:
    """A CSV cell for reading: long floats shortened to what a reader compares."""
    try:
        x = float(value)
    except ValueError:
        return value
    if value.strip().lstrip("-").isdigit():
        return value
    return f"{x:,.4f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:,.2f}"
