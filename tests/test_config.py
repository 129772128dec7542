"""Config files: every shipped config loads; invalid ones name the key and allowed values."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from toolkit.config import load_config, parse_config
from toolkit.errors import ConfigError

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "research" / "configs").glob("*.toml"))
BASE = """
name = "t"
[data]
symbols = ["SPY"]
[strategy]
name = "sma_cross"
[strategy.params]
fast = 10
slow = 30
allow_short = 0
cross = 0
"""


def _parse(text: str):
    return parse_config(tomllib.loads(text), Path("t.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_are_valid(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.data.symbols and cfg.params


def test_minimal_config_uses_realistic_defaults() -> None:
    cfg = _parse(BASE)
    assert cfg.engine.fill == "next_open"
    assert cfg.engine.commission.kind == "ibkr_fixed"
    assert cfg.engine.fractional is False
    assert cfg.params == {"fast": 10, "slow": 30, "allow_short": 0, "cross": 0}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace('name = "sma_cross"', 'name = "macd"'),
            r"\[strategy\] name = 'macd' is not a known strategy; choose one of donchian, rsi_reversion, sma_cross, tsmom",
        ),
        (
            lambda t: t.replace("slow = 30\n", ""),
            r"\[strategy.params\]: missing parameter slow \(int in \[2, 1000\], default 100\)",
        ),
        (
            lambda t: t.replace("fast = 10", "fast = 0"),
            r"\[strategy.params\]: fast = 0 is out of range; expected int in \[1, 500\]",
        ),
        (
            lambda t: t.replace("fast = 10", 'fast = "ten"'),
            r"fast = 'ten' has the wrong type; expected int",
        ),
        (
            lambda t: t.replace('symbols = ["SPY"]', 'symbols = ["SPY", "NOPE"]'),
            r"\[data\] symbols: unknown symbol 'NOPE'; available in .*: AAPL, AGG",
        ),
        (
            lambda t: t + '[engine]\nfill = "tomorrow"\n',
            r"\[engine\] fill = 'tomorrow' is not allowed; choose one of 'next_open', 'close'",
        ),
        (
            lambda t: t + "[engine]\nslipage_bps = 2\n",
            r"\[engine\] unknown key slipage_bps; allowed keys: init_cash, fill",
        ),
        (
            lambda t: t + '[costs]\nmodel = "robinhood"\n',
            r"\[costs\] model = 'robinhood' is not allowed; choose one of 'ibkr_fixed', 'ibkr_tiered'",
        ),
        (
            lambda t: t + '[costs]\nmodel = "proportional"\n',
            r"\[costs\] rate is missing; it is required",
        ),
        (lambda t: t + "[exits]\nstop_loss = 2.0\n", r"\[exits\] stop_loss = 2.0 is out of range"),
        (
            lambda t: t + "[engine]\nfractional = 1\n",
            r"\[engine\] fractional = 1 has the wrong type: expected true/false",
        ),
        (
            lambda t: t.replace("[strategy]\n", ""),
            r"\[top level\] unknown key|\[strategy\] table is missing|unknown",
        ),
        (
            lambda t: t.replace(
                '[data]\nsymbols = ["SPY"]\n', '[data]\nsymbols = ["SPY"]\nstart = "yesterday"\n'
            ),
            r"\[data\] start = 'yesterday' is not a date",
        ),
    ],
)
def test_invalid_configs_name_key_and_allowed_values(edit, message) -> None:
    with pytest.raises(ConfigError, match=message):
        _parse(edit(BASE))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nsymbols = 1")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_config(bad)


def test_data_jump_factor_sets_or_turns_off_the_price_jump_check() -> None:
    data = '[data]\nsymbols = ["SPY"]\n'
    assert _parse(BASE).data.jump_factor == 2.0
    assert _parse(BASE.replace(data, data + "jump_factor = 5\n")).data.jump_factor == 5.0
    assert _parse(BASE.replace(data, data + "jump_factor = false\n")).data.jump_factor is None
    with pytest.raises(ConfigError, match=r"\[data\] jump_factor = 1.0: give a factor above 1"):
        _parse(BASE.replace(data, data + "jump_factor = 1\n"))
