"""Every repository file the docs and docstrings point a reader to exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# repo-relative paths a reader is sent to: docs, notebooks, configs, live configs
_REF = re.compile(
    r"(?<![\w./-])((?:docs|notebooks|research/configs|live)/[\w./-]+\.(?:md|ipynb|toml))"
)

# names the README uses for a file the user writes themselves
_ILLUSTRATIVE = {"live/mine.toml"}


def _sources() -> list[Path]:
    return [
        ROOT / "README.md",
        ROOT / "data" / "README.md",
        *sorted((ROOT / "toolkit").rglob("*.py")),
        *sorted((ROOT / "docs").glob("*.md")),
    ]


def _references() -> list[tuple[str, str]]:
    refs = []
    for src in _sources():
        if not src.exists():
            continue
        for m in _REF.finditer(src.read_text(encoding="utf-8")):
            path = m.group(1).rstrip(".")
            if "<" in path or "*" in path or path in _ILLUSTRATIVE:
                continue
            refs.append((str(src.relative_to(ROOT)), path))
    return refs


def test_the_scan_finds_references() -> None:
    found = {p for _, p in _references()}
    assert "docs/conventions.md" in found
    assert "live/paper.toml" in found


@pytest.mark.parametrize(("source", "path"), sorted(set(_references())))
def test_referenced_file_exists(source: str, path: str) -> None:
    assert (ROOT / path).exists(), f"{source} points to {path}, which does not exist"
