"""Every shipped config in research/configs/ runs through every CLI command that takes one.

A README command once crashed on a fresh install (``KeyError: 'source'``: pandas 3 dropped
the ``DataFrame.attrs`` that carried the data files' provenance). Running the whole matrix
in-process keeps it to a few seconds per pair; the commands are the ones the parsers list,
so a new command or a new config joins the matrix by itself. Multi-symbol configs run
walk-forward and sensitivity on the whole book.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from toolkit.app import reports as report_cli
from toolkit.app import research as cli
from toolkit.config import load_config

REPO = Path(__file__).resolve().parents[1]
# option configs (options_*.toml) are another kind: options-backtest runs them
# (tests/options/test_backtest.py runs every one of them)
CONFIGS = sorted(
    p for p in (REPO / "research" / "configs").glob("*.toml") if not p.stem.startswith("options_")
)
MAIN_COMMANDS = ("backtest", "sweep", "walkforward", "montecarlo", "sensitivity")
CHECK_COMMANDS = ("check", "check-causal")  # prints a verdict, writes no report folder
OPTION_COMMANDS = ("options-backtest",)
REPORT_COMMANDS = ("export",)


def _config_commands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name
        for name, p in sub.choices.items()
        if any("--config" in a.option_strings for a in p._actions)
    }


def test_the_matrix_covers_every_command_that_takes_a_config() -> None:
    assert _config_commands(cli._parser()) == {*MAIN_COMMANDS, *CHECK_COMMANDS, *OPTION_COMMANDS}
    assert _config_commands(report_cli._parser()) == set(REPORT_COMMANDS)
    assert len(CONFIGS) >= 5


def _check_manifest(manifest: Path, config: Path) -> None:
    """The manifest names each data file of the run with the hash of its bytes."""
    cfg = load_config(config)
    files = json.loads(manifest.read_text())["data_files"]
    assert {f["symbol"] for f in files} >= set(cfg.data.symbols)
    for f in files:
        path = Path(f["path"])
        path = path if path.is_absolute() else REPO / path
        assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_strategy_is_causal(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check-causal --config`` passes for every shipped config (built-in or user strategy)."""
    rc = cli.main(["check-causal", "--config", str(config), "--cuts", "4", "--random-sets", "1"])
    captured = capsys.readouterr()
    assert rc == 0, captured.out + captured.err
    assert "causal (no look-ahead found)" in captured.out
    assert f"{load_config(config).strategy}: 2 parameter set(s) x 4 cut points" in captured.out


@pytest.mark.parametrize("command", [*MAIN_COMMANDS, *REPORT_COMMANDS])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_runs_command(
    config: Path, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = load_config(config)
    reports = tmp_path / "reports"
    if command == "export":
        rc = report_cli.main(["export", "--config", str(config), "--out", str(tmp_path / "tax")])
    else:
        extra = []
        # the tear sheet (quantstats, ~8 s) is covered once, on the README's multi-asset run
        if command == "backtest" and config.stem != "multi_asset_tsmom":
            extra = ["--no-tearsheet"]
        rc = cli.main([command, "--config", str(config), "--reports", str(reports), *extra])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Traceback" not in captured.err
    if command == "export":
        fills = pd.read_csv(tmp_path / "tax" / "fills.csv")
        assert len(fills) > 0 and set(fills["symbol"]) <= set(cfg.data.symbols)
        return
    (folder,) = [p for p in reports.iterdir() if p.is_dir()]
    _check_manifest(folder / "manifest.json", config)
    if command == "backtest":
        orders = pd.read_csv(folder / "orders.csv")
        # symbols come from the data, never a placeholder
        assert len(orders) > 0 and set(orders["symbol"]) <= set(cfg.data.symbols)
        if config.stem == "multi_asset_tsmom":
            assert (folder / "tearsheet.html").stat().st_size > 10_000
    if command in ("walkforward", "sensitivity", "sweep"):
        table = pd.read_csv(folder / ("folds.csv" if command == "walkforward" else "sweep.csv"))
        assert len(table) > 0
        # parameters without a [grid] axis keep the config's values, not the defaults
        assert cfg.grid is not None
        for name, value in cfg.params.items():
            if name not in cfg.grid.axes:
                assert (table[name] == value).all(), name
    if command in ("sensitivity", "sweep") and len(cfg.data.symbols) > 1:
        # several symbols are scored as one book
        assert set(pd.read_csv(folder / "sweep.csv")["symbol"]) == {"portfolio"}
