"""Shared fixtures: real shipped bars, helpers to write deliberately broken files, and a real
SMTP server on 127.0.0.1 (tests/_smtp.py) for notification tests."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from tests._smtp import certificate, hung_smtp, smtp_server  # noqa: F401

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``--dist loadgroup`` grouping tests by their ``xdist_group`` mark (the dask
    clusters, the web package's fixtures, modules sharing an expensive fixture or compile).
    pytest-xdist tells its scheduler a test's group by appending ``@group`` to the worker's
    node id through ``item._nodeid``; pytest 9.2 keeps the id in ``item._id``, so the suffix
    was lost and every group silently spread over both workers (pytest-xdist issue #1386,
    fix pending in its PR #1388). This appends it the same way, after xdist's own hook."""
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers only
        return
    for item in items:
        names = {
            str(m.args[0] if m.args else m.kwargs.get("name", "default"))
            for m in item.iter_markers("xdist_group")
        }
        if not names or "@" in item.nodeid.rsplit("]", 1)[-1]:
            continue  # not grouped, or xdist's suffix took (pytest < 9.2)
        grouped = f"{item.nodeid}@{'_'.join(sorted(names))}"
        ident = getattr(item, "_id", None)
        if ident is not None and hasattr(type(ident), "parse"):
            item._id = type(ident).parse(grouped)  # type: ignore[attr-defined]
        else:
            item._nodeid = grouped  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def spy() -> pd.DataFrame:
    from toolkit.data import load

    return load("SPY", start="2010-01-01", end="2016-12-31")


@pytest.fixture()
def write_csv(tmp_path: Path):
    """Write CSV text to a file in a fresh temporary data folder and return its path."""

    def _write(text: str, name: str = "TEST.csv") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
