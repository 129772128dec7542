"""Live-bridge test helpers: live configs written to a temp dir, pointing at research configs
in the repo (the SMTP server fixtures come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolkit.live.config import LiveConfig, load_live_config

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "research" / "configs" / "spy_sma_paper.toml"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def write_live_config(
    tmp: Path,
    *,
    strategies: list[dict[str, Any]] | None = None,
    simulator: dict[str, Any] | None = None,
    connection: dict[str, Any] | None = None,
    risk: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    name: str = "test",
) -> LiveConfig:
    """A live config file in ``tmp`` (journal in tmp/state) and its parsed form."""
    lines = [f'name = "{name}"']
    for table, values in (
        ("connection", connection),
        ("simulator", simulator),
        ("risk", risk),
        ("session", {"journal": "state/journal.sqlite", **(session or {})}),
    ):
        if values:
            lines.append(f"[{table}]")
            lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
    for s in strategies or [{"config": str(PAPER), "capital": 100_000, "history": "1 Y"}]:
        lines.append("[[strategies]]")
        lines += [f"{k} = {_toml(v)}" for k, v in s.items()]
    path = tmp / "live.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_live_config(path)


@pytest.fixture()
def live_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(**kw: Any) -> LiveConfig:
        return write_live_config(tmp_path, **kw)

    return make
