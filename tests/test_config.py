"""Config files: every shipped config loads; invalid ones name the key and allowed values."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from toolkit.config import load_config, parse_config
from toolkit.errors import ConfigError

# option configs (options_*.toml) have their own parser: tests/options/test_backtest.py
CONFIGS = sorted(
    p
    for p in (Path(__file__).resolve().parents[1] / "research" / "configs").glob("*.toml")
    if not p.stem.startswith("options_")
)
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
            r"\[data\] symbols: unknown symbol 'NOPE'; available in .*: AAPL, ABT, .*, SPY, ",
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


# Issue 11 item 7: configs that crashed or were silently accepted. Each case is refused
# before any value is converted, with one line naming the file, the key and what to do.
BAD_CONFIGS = {
    "grid string": (
        BASE + '[grid]\nfast = ["a", 10]\n',
        r"\[grid\] fast = \['a', 10\]: 'a' is not a number",
    ),
    "grid bool": (BASE + "[grid]\nfast = [true, 10]\n", r"\[grid\] fast = .*True is not a number"),
    "grid nan": (BASE + "[grid]\nfast = [nan, 10]\n", r"\[grid\] fast = .*nan is not a number"),
    "grid range inf": (
        BASE + "[grid]\nfast = { from = 1, to = inf }\n",
        r"\[grid\] fast: need numbers with from <= to and step > 0 \(finite",
    ),
    "stop_loss nan": (
        BASE + "[exits]\nstop_loss = nan\n",
        r"\[exits\] stop_loss = nan: expected a finite",
    ),
    "init_cash inf": (
        BASE + "[engine]\ninit_cash = inf\n",
        r"\[engine\] init_cash = inf: expected a finite",
    ),
    "slippage -inf": (
        BASE + "[engine]\nslippage_bps = -inf\n",
        r"\[engine\] slippage_bps = -inf: expected a finite",
    ),
    "max_leverage 0": (
        BASE + "[engine]\nmax_leverage = 0\n",
        r"\[engine\] max_leverage = 0.0 must be greater than 0",
    ),
    "max_position 0": (
        BASE + "[risk]\nmax_position = 0\n",
        r"\[risk\] max_position = 0.0 must be greater than 0 \(leave the key out",
    ),
    "weights all zero": (
        BASE + "[engine]\nweights = [0]\n",
        r"\[engine\] weights = \[0\]: need 1 finite non-negative numbers.*at least one above 0",
    ),
    "weights inf": (BASE + "[engine]\nweights = [inf]\n", r"\[engine\] weights = \[inf\]"),
    "param nan": (
        BASE.replace("fast = 10", "fast = nan"),
        r"\[strategy.params\]: fast = nan is not a finite number",
    ),
    "param bool": (
        BASE.replace("fast = 10", "fast = true"),
        r"fast = True has the wrong type",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_numbers_are_refused_before_conversion(case: str) -> None:
    text, message = BAD_CONFIGS[case]
    with pytest.raises(ConfigError, match=message) as err:
        _parse(text)
    assert "t.toml" in str(err.value) and "\n" not in str(err.value)


def _non_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n' + BASE.split("\n", 2)[2].encode())
    return path


def test_non_utf8_byte_is_named_by_line_for_every_toml_reader(tmp_path: Path) -> None:
    from toolkit.live.config import load_live_config
    from toolkit.report.schedule import load_schedule

    path = _non_utf8(tmp_path)
    for reader in (load_config, load_live_config, load_schedule):
        with pytest.raises(ConfigError, match=r"line 1, column 12: byte 0xe9 is not UTF-8"):
            reader(path)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + BASE.encode())  # a byte-order mark is tolerated
    assert load_config(bom).name == "t"


def test_empty_benchmark_turns_it_off() -> None:
    text = BASE.replace('symbols = ["SPY"]\n', 'symbols = ["SPY"]\nbenchmark = ""\n')
    assert _parse(text).data.benchmark is None
    assert _parse(BASE).data.benchmark == "SPY"


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
@pytest.mark.parametrize(
    "command", ["backtest", "walkforward", "montecarlo", "sensitivity", "export"]
)
def test_every_command_prints_one_line_and_fails(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.app import reports as report_cli
    from toolkit.app import research as cli

    text, message = BAD_CONFIGS[case]
    path = tmp_path / "t.toml"
    path.write_text(text)
    if command == "export":
        rc = report_cli.main(["export", "--config", str(path), "--out", str(tmp_path / "x")])
    else:
        rc = cli.main([command, "--config", str(path), "--reports", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(message, lines[0])


def test_cli_process_shows_no_traceback_for_bad_bytes_or_numbers(tmp_path: Path) -> None:
    import subprocess
    import sys

    stop = tmp_path / "stop.toml"
    stop.write_text(BAD_CONFIGS["stop_loss nan"][0])
    for path in (_non_utf8(tmp_path), stop):
        done = subprocess.run(
            [sys.executable, "-m", "toolkit", "backtest", "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith(f"error: {path}") and done.stderr.count("\n") == 1


USER = """
name = "u"
[data]
symbols = ["SPY"]
[strategy]
module = "research.strategies.channel_trend"
name = "channel_trend"
[strategy.params]
lookback = 30
exit_window = 10
[grid]
lookback = [20, 40]
"""


def test_a_user_strategy_from_its_module() -> None:
    cfg = _parse(USER)
    assert cfg.strategy == "channel_trend"
    assert cfg.strategy_module == "research.strategies.channel_trend"
    assert cfg.params == {"lookback": 30, "exit_window": 10}
    assert cfg.grid is not None and cfg.grid.axes == {"lookback": [20.0, 40.0]}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'module = "research.strategies.channel_trend"',
            'module = "research.strategies.no_such_rule"',
            r"^t.toml: \[strategy\] module: module 'research.strategies.no_such_rule' cannot be "
            r"imported \(research.strategies.no_such_rule not found\)",
        ),
        (
            'module = "research.strategies.channel_trend"',
            'module = "research/strategies/channel_trend.py"',
            r"^t.toml: \[strategy\] module = 'research/strategies/channel_trend.py' is not a "
            "dotted module path",
        ),
        (
            'name = "channel_trend"',
            'name = "chanel_trend"',
            r"^t.toml: \[strategy\] name = 'chanel_trend': module "
            r"'research.strategies.channel_trend' defines no strategy 'chanel_trend'; it "
            "defines: channel_trend",
        ),
        ("lookback = 30", "lookback = 1", r"\[strategy.params\]: lookback = 1 is out of range"),
        ("lookback = [20, 40]", "lookbak = [20, 40]", r"\[grid\] unknown key lookbak"),
    ],
)
def test_user_strategy_errors_are_one_line_naming_the_key(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        _parse(USER.replace(old, new))
    assert "\n" not in str(err.value)


def test_a_module_that_fails_to_import_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken_rules.py").write_text("import numpy as np\nraise RuntimeError('oops')\n")
    config = tmp_path / "c.toml"
    config.write_text(USER.replace("research.strategies.channel_trend", "broken_rules"))
    with pytest.raises(
        ConfigError,
        match=r"module: module 'broken_rules' failed to import: "
        "RuntimeError: oops",
    ):
        load_config(config)


def test_unknown_builtin_name_points_at_the_module_key() -> None:
    with pytest.raises(
        ConfigError,
        match=r"\[strategy\] name = 'my_rule' is not a known "
        r"strategy; .* or name the module that defines yours",
    ):
        _parse(BASE.replace('name = "sma_cross"', 'name = "my_rule"'))
