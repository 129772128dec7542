"""The API reference (issue 18.8): `make docs` builds it from the docstrings with pdoc, any
warning fails the build, and it covers the public API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import toolkit

REPO = Path(__file__).resolve().parents[1]
# the packages a user imports from (README, toolkit/__init__.py)
_PAGES = (
    "toolkit",
    "toolkit/analysis",
    "toolkit/charts",
    "toolkit/config",
    "toolkit/data",
    "toolkit/engine",
    "toolkit/errors",
    "toolkit/execution",
    "toolkit/gateway",
    "toolkit/live",
    "toolkit/metrics",
    "toolkit/options",
    "toolkit/report",
    "toolkit/risk",
    "toolkit/stats",
    "toolkit/strategies",
    "toolkit/sweep",
    "toolkit/web",
)


def _make_docs(out: Path) -> subprocess.CompletedProcess[str]:
    # -o: never reinstall the venv from a test; PY: the interpreter running the tests
    venv_stamp = Path(sys.prefix) / ".installed"
    return subprocess.run(
        ["make", "--no-print-directory", "-o", str(venv_stamp), "docs",
         f"PY={sys.executable}", f"API_DIR={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_make_docs_builds_the_api_reference_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "api"
    run = _make_docs(out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warn" not in run.stderr, run.stderr
    for page in _PAGES:
        assert (out / f"{page}.html").is_file(), f"no page for {page}"
    index = (out / "toolkit.html").read_text(encoding="utf-8")
    # every name toolkit re-exports is documented on its page, with its docstring
    ids = set(re.findall(r'<section id="([A-Za-z_]\w*)">', index))
    missing = [
        n for n in toolkit.__all__ if n not in ids and not (out / "toolkit" / f"{n}.html").is_file()
    ]
    assert not missing, f"re-exported but not in the API reference: {missing}"
    # with its docstring, rendered (``x`` becomes code, so the text has no backticks)
    text = re.sub(r"<[^>]+>", "", index)
    for name in ("backtest", "load", "walk_forward"):
        first = getattr(toolkit, name).__doc__.strip().splitlines()[0]
        words = " ".join(first.replace("``", "").split()[:6])
        assert words in text, (name, words)
    # reST roles in docstrings become links (:func:`load` in the package docstring)
    assert 'href="#load"' in index
    live = (out / "toolkit" / "live.html").read_text(encoding="utf-8")
    assert '<section id="NotebookSession">' in live  # a session from a notebook (18.6)
    execution = (out / "toolkit" / "execution.html").read_text(encoding="utf-8")
    assert "twap" in execution.lower() and "tca" in execution.lower()


def test_a_warning_fails_the_build(tmp_path: Path) -> None:
    """The same pdoc call on a module whose annotation pdoc cannot resolve fails the build
    (the check above would pass vacuously if warnings only printed)."""
    bad = tmp_path / "warns.py"
    bad.write_text(
        '"""A module pdoc warns about."""\n\n'
        "def f(x: 'NoSuchType') -> None:  # noqa: F821\n"
        '    """Take x."""\n'
    )
    run = subprocess.run(
        ["make", "--no-print-directory", "-o", str(Path(sys.prefix) / ".installed"), "docs",
         f"PY={sys.executable}", f"API_DIR={tmp_path / 'out'}", "API_MODULES=warns"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert run.returncode != 0, run.stdout + run.stderr
    assert "NoSuchType" in run.stderr
