"""The data folder's installed sample (toolkit/_sample): read-only, cached elsewhere, and a
symbol it lacks says where data goes. tests/test_wheel.py runs it from an installed wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.data import SAMPLE_DIR, available_symbols, load
from toolkit.data._paths import cache_folder, is_sample, resolve, writable
from toolkit.data.ibkr_history import fetch
from toolkit.errors import DataError

REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def test_the_sample_holds_spy_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert available_symbols(SAMPLE_DIR) == ["SPY"]
    assert is_sample(SAMPLE_DIR) and not is_sample(REPO_DATA)
    assert load("SPY", data_dir=SAMPLE_DIR).equals(load("SPY", data_dir=REPO_DATA))


def test_loads_from_the_sample_cache_in_the_users_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder(SAMPLE_DIR) == tmp_path / "ibkr-toolkit" / "sample"
    assert cache_folder(REPO_DATA) == REPO_DATA / ".cache"
    load("SPY", data_dir=SAMPLE_DIR)
    assert list((tmp_path / "ibkr-toolkit" / "sample").glob("SPY-*.parquet"))
    assert not (SAMPLE_DIR / ".cache").exists()


def test_a_symbol_the_sample_lacks_says_where_data_goes() -> None:
    with pytest.raises(
        DataError, match=r"unknown symbol 'QQQ'.*installed sample .* holds only SPY.*TOOLKIT_DATA"
    ):
        resolve("QQQ", SAMPLE_DIR)


def test_nothing_is_fetched_into_the_sample() -> None:
    with pytest.raises(
        DataError, match=r"installed sample \(read-only package data\).*TOOLKIT_DATA=DIR"
    ):
        writable(SAMPLE_DIR)
    # refused before connecting: nothing listens on port 9
    with pytest.raises(DataError, match="installed sample"):
        fetch("QQQ", data_dir=SAMPLE_DIR, port=9, timeout=1)
    assert available_symbols(SAMPLE_DIR) == ["SPY"]
