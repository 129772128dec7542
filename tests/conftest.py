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
