"""Every notebook under notebooks/ is executed by some test in this folder."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_all_notebooks_are_covered() -> None:
    notebooks = sorted(p.name for p in (HERE.parents[1] / "notebooks").glob("*.ipynb"))
    tests = "\n".join(
        p.read_text() for p in HERE.glob("test_*.py") if p.name != Path(__file__).name
    )
    untested = [n for n in notebooks if f'"{n}"' not in tests]
    assert not untested, f"notebooks without a test: {untested}"
    assert len(notebooks) >= 7
