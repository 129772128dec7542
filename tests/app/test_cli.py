"""``toolkit <command>`` (toolkit.app.cli): one parser for every command, --help from every
one of them, the old entry points beside it, exit statuses, and a parser that loads nothing
heavy (the --help time is measured in the report, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._commands import REPO, run_command
from toolkit.app import cli

HEAVY = ("pandas", "numba", "ib_async", "vectorbt", "matplotlib", "scipy")


def _commands() -> list[str]:
    sub = next(a for a in cli.parser()._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


def test_every_group_is_a_command() -> None:
    names = set(_commands())
    assert {
        "backtest",
        "sweep",
        "walkforward",
        "montecarlo",
        "sensitivity",
        "check",
        "check-causal",
        "options-backtest",
        "strategies",
        "data",
        "report",
        "export",
        "live",
        "gateway",
    } <= names
    # the web app joins when its module is there (toolkit.app.web)
    assert ("web" in names) == ((REPO / "toolkit" / "app" / "web.py").is_file())


@pytest.mark.parametrize("command", _commands())
def test_help_of_every_command(command: str) -> None:
    done = run_command("toolkit", command, "--help", timeout=120)
    assert done.returncode == 0, done.stderr
    name = "check" if command == "check-causal" else command  # the alias's parser is check's
    assert done.stdout.startswith(f"usage: toolkit {name}"), done.stdout[:200]
    assert done.stderr == ""


def test_top_level_help_lists_every_command_and_the_exit_statuses() -> None:
    done = run_command("toolkit", "--help")
    assert done.returncode == 0
    for name in _commands():
        shown = "check (check-causal)" if name == "check-causal" else name
        assert f"    {shown}" in done.stdout, name
    assert "0 ok, 1 a finding or failure, 2 bad input, 130 interrupted" in done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        "--help",
        "backtest --help",
        "sweep --help",
        "report --help",
        "export --help",
        "gateway --help",
        "data --help",
        "check --help",
        "live --help",
        "live status --help",
    ],
)
def test_help_loads_nothing_heavy(argv: str) -> None:
    """What --help imports is what it costs: no pandas, numba, ib_async or plotting."""
    code = (
        "import sys\n"
        "from toolkit.app import cli\n"
        "try:\n"
        f"    cli.main({argv.split()!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr, done.stderr


def test_console_scripts_are_the_same_command() -> None:
    """``toolkit`` and the older ``ibkr-toolkit`` are installed and answer alike."""
    outputs = []
    for script in ("toolkit", "ibkr-toolkit"):
        path = Path(sys.executable).parent / script
        assert path.is_file(), f"{path}: reinstall the package (pip install -e .)"
        done = subprocess.run(
            [str(path), "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert "sweep" in outputs[0] and "live" in outputs[0]


@pytest.mark.parametrize(
    ("module", "old"),
    [
        ("toolkit.live", "python -m toolkit.live"),
        ("toolkit.report", "python -m toolkit.report"),
        ("toolkit.gateway", "python -m toolkit.gateway"),
    ],
)
def test_old_entry_points_still_answer(module: str, old: str) -> None:
    done = run_command(module, "--help", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {old}")


def test_delegated_group_runs_its_own_command(tmp_path: Path) -> None:
    """``toolkit live status`` is ``python -m toolkit.live status`` (same message, status 2
    for a journal that is not there), and --debug before the group reaches it."""
    missing = tmp_path / "none.sqlite"
    new = run_command("toolkit", "live", "status", "--journal", missing)
    old = run_command("toolkit.live", "status", "--journal", missing)
    assert new.returncode == old.returncode == 2
    assert new.stderr == old.stderr
    assert (
        new.stderr.strip() == f"error: {missing}: no journal yet; run a session first "
        "(python -m toolkit.live run)."
    )
    debug = run_command("toolkit", "--debug", "live", "status", "--journal", missing)
    assert debug.returncode == 1 and "Traceback" in debug.stderr  # --debug re-raises


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: <command>"),
        (["nosuch"], "invalid choice: 'nosuch'"),
        (["backtest"], "one of the arguments --config --like-session is required"),
        (["sweep", "--config", "x.toml", "--sort", "luck"], "invalid choice: 'luck'"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str) -> None:
    done = run_command("toolkit", *argv)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    for command in ("backtest", "sweep", "walkforward", "montecarlo", "sensitivity", "check"):
        done = run_command("toolkit", command, "--config", missing)
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"error: {missing}: config file not found. Configs live in research/configs/."
        ], command
    # the config is read before the commands' report and chart modules load (~2 s a command)
    code = (
        "import sys\n"
        "from toolkit.app import cli\n"
        "for command in ('backtest', 'walkforward', 'check'):\n"
        f"    assert cli.main([command, '--config', {str(missing)!r}]) == 2\n"
        "print(sorted(m for m in ('plotly', 'matplotlib', 'quantstats') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_interrupted_exits_130() -> None:
    """Ctrl+C while a command works ends with one line and 130 (an import hook raises the
    KeyboardInterrupt exactly when the sweep loads numba)."""
    code = (
        "import runpy, sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'numba':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "sys.argv = ['toolkit', 'sweep', '--config', 'research/configs/spy_sma_cross.toml',"
        " '--no-reports']\n"
        "runpy.run_module('toolkit', run_name='__main__', alter_sys=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in done.stderr


def test_reader_gone_is_quiet() -> None:
    """``toolkit strategies --json | head -1``: the reader leaves early; no traceback, no
    'Exception ignored', status 141 (128 + SIGPIPE) as a shell reports it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "strategies", "--json"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before the command has printed anything
    _, err = proc.communicate(timeout=120)
    assert err.decode() == ""
    assert proc.returncode == 141


def test_options_backtest_json_is_the_printed_run(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(REPO / "research" / "configs" / "options_spxw_put_credit.toml")
    assert cli.main(["options-backtest", "--config", config, "--no-reports"]) == 0
    text = capsys.readouterr().out
    assert cli.main(["options-backtest", "--config", config, "--no-reports", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    m = data["metrics"]
    assert f"P&L {m['pnl']:,.2f} USD  return {m['total_return']:.2%}" in text
    assert f"spreads {len(data['trades'])}" in text and data["report"] is None


@pytest.mark.parametrize("module", ["toolkit", "toolkit.live", "toolkit.report", "toolkit.gateway"])
def test_old_entry_points_help_loads_nothing_heavy(module: str) -> None:
    """``python -m toolkit.gateway --help`` loaded the whole simulator (pandas, numba) before
    its package's exports were made lazy: 3-5 s on a busy machine."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{module!r}, '--help']\n"
        "try:\n"
        f"    runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr, done.stderr


def test_export_json_names_the_files_it_wrote(tmp_path: Path) -> None:
    config = REPO / "research" / "configs" / "spy_sma_cross.toml"
    done = run_command("toolkit", "export", "--config", config, "--out", tmp_path / "tax", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["folder"] == str(tmp_path / "tax")
    assert {"lots_csv", "trades", "equity", "dividends"} <= set(data["files"])
    for path in data["files"].values():
        assert Path(path).is_file(), path
    assert data["notes"] and all(f"note: {n}" in done.stderr for n in data["notes"])
