"""`python -m toolkit backtest`: summary table, report folder, manifest, clean errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = """
name = "cli_test"
[data]
symbols = ["SPY"]
start = "2015-01-01"
end = "2018-12-31"
benchmark = "SPY"
[strategy]
name = "sma_cross"
[strategy.params]
fast = 10
slow = 50
allow_short = 0
cross = 0
[engine]
slippage_bps = 1.0
[costs]
model = "ibkr_fixed"
"""

# one pytest-xdist worker runs the module's backtest (its `report` fixture) once for all its tests
pytestmark = pytest.mark.xdist_group("test_cli_report")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("cli")
    cfg = tmp / "cli_test.toml"
    cfg.write_text(CONFIG)
    done = _run("backtest", "--config", str(cfg), "--reports", str(tmp / "reports"), cwd=REPO)
    folders = list((tmp / "reports").glob("cli_test-*"))
    assert done.returncode == 0, done.stderr
    assert len(folders) == 1
    return done, folders[0]


def test_summary_table_has_every_metric(report) -> None:
    out = report[0].stdout
    for label in (
        "CAGR",
        "Sharpe",
        "Sortino",
        "Max drawdown",
        "Win rate",
        "Avg P&L per trade",
        "Exposure",
        "Commissions",
        "SPY (buy & hold)",
    ):
        assert label in out
    assert "simulating sma_cross" in report[0].stderr  # progress on stderr


def test_progress_tells_the_result_before_the_report_then_each_tear_sheet_stage(report) -> None:
    """The tear sheet is the slow part of a run: the headline comes first, then its stages."""
    done = report[0]
    stages = [line.split("] ", 1)[1] for line in done.stderr.splitlines() if "] " in line]
    headline = next(s for s in stages if s.startswith("result: "))
    total = next(line for line in done.stdout.splitlines() if line.startswith("Total return"))
    assert f"total return {total.split()[2]}," in headline  # the summary's number
    order = [
        headline,
        next(s for s in stages if s.startswith("writing report")),
        "tear sheet: loading matplotlib and quantstats",
        "tear sheet: quantstats metrics, EOY and drawdown tables",
        "tear sheet: quantstats charts (returns, drawdowns, rolling, heatmap)",
        "tear sheet: EOY returns chart",
        "done",
    ]
    assert [s for s in stages if s in order] == order


def test_report_files(report) -> None:
    folder = report[1]
    for name in ("tearsheet.html", "equity.csv", "trades.csv", "orders.csv", "manifest.json"):
        assert (folder / name).is_file(), name
    assert 'class="plotly-graph-div"' in (folder / "chart.html").read_text()  # interactive
    html = (folder / "tearsheet.html").read_text()
    assert ("Benchmark" in html and "<svg" in html) or "<img" in html
    eq = pd.read_csv(folder / "equity.csv", index_col=0)
    trades = pd.read_csv(folder / "trades.csv")
    assert {"entry_time", "exit_time", "quantity", "pnl", "commission", "holding_days"} <= set(
        trades.columns
    )
    assert trades["pnl"].sum() == pytest.approx(eq["equity"].iloc[-1] - 100_000, rel=1e-9)


def test_manifest_makes_the_run_reproducible(report) -> None:
    m = json.loads((report[1] / "manifest.json").read_text())
    assert m["config"]["strategy"]["params"] == {
        "fast": 10,
        "slow": 50,
        "allow_short": 0,
        "cross": 0,
    }
    assert m["resolved"]["engine"]["fill"] == "next_open"
    files = {f["symbol"]: f for f in m["data_files"]}
    path = REPO / files["SPY"]["path"]
    assert files["SPY"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert m["packages"]["numba"] and m["packages"]["pandas"] and m["packages"]["quantstats"]
    assert "commit" in m["git"] and "dirty" in m["git"]
    # the recorded metrics are the printed ones
    assert f"{m['metrics']['sharpe']:.3f}" in report[0].stdout


def test_bad_config_prints_a_message_not_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(CONFIG.replace("fast = 10", "fast = 100"))
    done = _run("backtest", "--config", str(cfg), "--reports", str(tmp_path), cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert "need fast < slow; got fast = 100, slow = 50" in done.stderr
    assert "Traceback" not in done.stderr
    debug = _run("--debug", "backtest", "--config", str(cfg), cwd=REPO)
    assert "Traceback" in debug.stderr


def test_bad_data_file_names_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "data" / "daily"
    data.mkdir(parents=True)
    (data / "SPY.csv").write_text(
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1,10\n2024-01-03,1,2,0.5,-1,10\n"
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.replace('benchmark = "SPY"', 'benchmark = "SPY"\ndir = "data"'))
    done = _run("backtest", "--config", str(cfg), "--reports", str(tmp_path), cwd=REPO)
    assert done.returncode == 2
    assert f"{data / 'SPY.csv'}: line 3: zero or negative close" in done.stderr
    assert "Traceback" not in done.stderr


# check-causal: exit 0 for a causal strategy, 1 with the bar and the parameter set for a
# leaky one, 2 with one line for bad input; a config's user module is found from any folder


def test_user_config_passes_from_another_folder(tmp_path: Path) -> None:
    config = REPO / "research" / "configs" / "etf_xs_momentum.toml"
    done = _run("check-causal", "--config", str(config), "--cuts", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "xs_momentum: 3 parameter set(s) x 3 cut points" in done.stdout
    assert "causal (no look-ahead found)" in done.stdout


def test_leaky_example_fails_naming_bar_and_parameters() -> None:
    done = _run(
        "check-causal",
        "--strategy",
        "leaky_example",
        "--module",
        "research.strategies.leaky_example",
        "--start",
        "2018-01-01",
        "--cuts",
        "3",
        "--random-sets",
        "0",
        cwd=REPO,
    )
    assert done.returncode == 1, done.stderr
    assert "LOOK-AHEAD found" in done.stdout
    assert "prefix: bar " in done.stdout and "of SPY with window=20" in done.stdout


def test_bad_module_is_one_line() -> None:
    done = _run("check-causal", "--strategy", "x", "--module", "research.strategies.nope", cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "module 'research.strategies.nope' cannot be imported" in done.stderr
