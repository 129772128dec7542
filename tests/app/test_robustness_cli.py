"""python -m toolkit walkforward | montecarlo | sensitivity write complete report folders."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from tests._commands import run_command
from toolkit.app.tables import fmt

CONFIG = """
name = "robust"
[data]
symbols = ["QQQ"]
start = "2008-01-01"
end = "2019-12-31"
[strategy]
name = "sma_cross"
[strategy.params]
fast = 20
slow = 100
allow_short = 0
cross = 0
[engine]
slippage_bps = 1.0
[grid]
fast = { from = 10, to = 50, step = 10 }
slow = [80, 120, 160, 200]
[walkforward]
train = "4Y"
test = "1Y"
gap = 5
[montecarlo]
paths = 400
seed = 3
[sensitivity]
radius = 1
noise_runs = 3
pbo_trials = 12
pbo_splits = 8
"""


# one pytest-xdist worker runs the three commands (the `runs` fixture) once for all tests
pytestmark = pytest.mark.xdist_group("robustness_cli_runs")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    tmp = tmp_path_factory.mktemp("robust")
    cfg = tmp / "robust.toml"
    cfg.write_text(CONFIG)
    out = {}
    for command in ("walkforward", "montecarlo", "sensitivity"):
        done = run_command("toolkit", command, "--config", cfg, "--reports", tmp / "reports")
        assert done.returncode == 0, done.stderr
        (folder,) = (tmp / "reports").glob(f"robust-{command}-*")
        out[command] = (done, folder)
    return out


def test_walkforward_report(runs) -> None:
    done, folder = runs["walkforward"]
    folds = pd.read_csv(folder / "folds.csv")
    summary = json.loads((folder / "summary.json").read_text())
    assert len(folds) == summary["folds"] == 8  # 2012 ... 2019, one-year windows after 4 years
    assert {"fast", "slow", "is_sharpe", "oos_sharpe"} <= set(folds.columns)
    equity = pd.read_csv(folder / "oos_equity.csv", index_col=0)
    assert equity["oos_equity"].iloc[-1] == pytest.approx(
        100_000 * (1 + equity["oos_return"]).prod()
    )
    assert (folder / "walkforward.png").stat().st_size > 10_000
    # the interactive page: folds as spans, plotly.js once in the folder (works offline)
    page = (folder / "walkforward.html").read_text()
    assert 'class="plotly-graph-div"' in page and 'src="plotly.min.js"' in page
    assert "in-sample" in page and "out-of-sample" in page
    assert (folder / "plotly.min.js").stat().st_size > 1_000_000
    assert "efficiency" in done.stdout
    assert json.loads((folder / "manifest.json").read_text())["data_files"][0]["symbol"] == "QQQ"


def test_montecarlo_report(runs) -> None:
    _, folder = runs["montecarlo"]
    summary = json.loads((folder / "summary.json").read_text())
    for method in ("block_bootstrap", "trade_shuffle", "trade_bootstrap"):
        table = pd.read_csv(folder / f"percentiles_{method}.csv", index_col=0)
        assert list(table.index) == [0.05, 0.25, 0.5, 0.75, 0.95]
        assert table["final_equity"].is_monotonic_increasing
        assert 0 <= summary["methods"][method]["prob_drawdown"] <= 1
        assert (folder / f"fan_{method}.png").is_file()
        page = (folder / f"montecarlo_{method}.html").read_text()
        assert 'class="plotly-graph-div"' in page and "5-95%" in page
    assert [p.name for p in folder.glob("*.js")] == ["plotly.min.js"]


def test_sensitivity_report(runs) -> None:
    _, folder = runs["sensitivity"]
    summary = json.loads((folder / "summary.json").read_text())
    sweep = pd.read_csv(folder / "sweep.csv")
    assert len(sweep) == summary["trials"] == 20
    stress = pd.read_csv(folder / "stress.csv", index_col=0)
    bars = tk.load("QQQ", start="2008-01-01", end="2019-12-31")
    base = tk.backtest(
        bars, "sma_cross", {"fast": 20, "slow": 100}, tk.EngineSettings(slippage_bps=1.0)
    ).metrics()
    assert stress.loc["baseline", "sharpe"] == pytest.approx(base["sharpe"], rel=1e-9)
    over = summary["overfitting"]
    assert 0 <= over["pbo"] <= 1 and 0 <= over["dsr"] <= 1 and over["n_trials"] == 20
    assert 0 <= summary["plateau"]["score"] <= 1
    assert (folder / "response.png").is_file()
    assert '"type":"heatmap"' in (folder / "response.html").read_text()  # interactive, 2 params


def _line(stdout: str, label: str) -> str:
    return next(x for x in stdout.splitlines() if x.startswith(label))


def test_tables_print_the_summary_numbers(runs) -> None:
    """Tables with readable digits (no 16-digit JSON), the numbers of summary.json."""
    done, folder = runs["walkforward"]
    wf = json.loads((folder / "summary.json").read_text())
    assert _line(done.stdout, "Out-of-sample Sharpe").split()[-1] == fmt(wf["oos_sharpe"], "num")
    assert _line(done.stdout, "Out-of-sample CAGR").split()[-1] == fmt(wf["oos_cagr"], "pct")
    assert _line(done.stdout, "Walk-forward efficiency").split()[-1] == fmt(wf["efficiency"], "num")
    folds = pd.read_csv(folder / "folds.csv")
    for _, f in folds.iterrows():  # one line per fold: window, chosen parameters, objectives
        line = _line(done.stdout, f"{f['fold']:>4}  {str(f['test_start'])[:10]}")
        assert f" {f['fast']} " in line and fmt(f["oos_objective"], "num") in line.split()

    done, folder = runs["montecarlo"]
    mc = json.loads((folder / "summary.json").read_text())
    for method, m in mc["methods"].items():
        assert _line(done.stdout, method).split()[-1] == fmt(m["prob_drawdown"], "pct")
    assert not any(len(w) > 12 and w.replace(".", "").isdigit() for w in done.stdout.split())

    done, folder = runs["sensitivity"]
    se = json.loads((folder / "summary.json").read_text())
    assert _line(done.stdout, "Plateau score").split()[-1] == fmt(se["plateau"]["score"], "pct")
    assert _line(done.stdout, "Deflated Sharpe").split()[-1] == fmt(se["overfitting"]["dsr"], "num")
    assert _line(done.stdout, "Probability of backtest").split()[-1] == fmt(
        se["overfitting"]["pbo"], "pct"
    )


def test_json_is_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``montecarlo --json``: one JSON document on stdout, the numbers of summary.json (the
    command's own main in this process: the fixture's runs already cross the process line,
    a third child process cost ~3 s of imports)."""
    from toolkit.app import cli

    cfg = tmp_path / "robust.toml"
    cfg.write_text(CONFIG)
    code = cli.main(["montecarlo", "--config", str(cfg), "--reports", str(tmp_path), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    printed = json.loads(out.out)
    summary = json.loads((Path(printed["report"]) / "summary.json").read_text())
    assert len(printed["backtest"]) >= 10
    for key, value in printed["backtest"].items():
        assert value == pytest.approx(summary["backtest"][key], rel=1e-12), key
    for row in printed["methods"]:
        assert row["prob_drawdown"] == summary["methods"][row["method"]]["prob_drawdown"]
    for row in printed["percentiles"]:
        table = summary["methods"][row["method"]]["percentiles"]
        assert row["cagr"] == pytest.approx(table["cagr"][str(row["percentile"])], rel=1e-12)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("[grid]\n", "[grid]\nspeed = [1, 2]\n"),
            r"\[grid\] unknown key speed; allowed keys: fast, slow",
        ),
        (
            lambda t: t.replace("slow = [80, 120, 160, 200]", "slow = { from = 80, to = 20 }"),
            r"\[grid\] slow: need numbers with from <= to",
        ),
        (
            lambda t: t.replace("slow = [80, 120, 160, 200]", "slow = [0, 10]"),
            r"slow = 0 is out of range",
        ),
        (
            lambda t: t.replace("paths = 400", 'paths = 400\nmethods = ["bootstrap"]'),
            r"\[montecarlo\] methods: \['bootstrap'\]; choose from block_bootstrap",
        ),
        (
            lambda t: t.replace("pbo_splits = 8", "pbo_splits = 7"),
            r"\[sensitivity\] pbo_splits = 7 must be even",
        ),
        (
            lambda t: t.replace("gap = 5", 'gap = 5\nobjective = "luck"'),
            r"\[walkforward\] objective = 'luck' is not allowed",
        ),
    ],
)
def test_invalid_robustness_tables(edit, message, tmp_path: Path) -> None:
    import tomllib

    from toolkit.config import parse_config
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config(tomllib.loads(edit(CONFIG)), tmp_path / "c.toml")


def test_multi_symbol_walkforward_runs_on_the_book(tmp_path: Path) -> None:
    """Several symbols are optimised as one portfolio (it used to be refused)."""
    cfg = tmp_path / "m.toml"
    cfg.write_text(CONFIG.replace('symbols = ["QQQ"]', 'symbols = ["QQQ", "SPY"]'))
    done = run_command(
        "toolkit", "walkforward", "--config", cfg, "--reports", tmp_path / "reports", timeout=300
    )
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "reports").glob("robust-walkforward-*")
    folds = pd.read_csv(folder / "folds.csv")
    assert len(folds) >= 5 and {"fast", "slow", "oos_sharpe"} <= set(folds.columns)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {f["symbol"] for f in manifest["data_files"]} == {"QQQ", "SPY"}


def test_sensitivity_of_a_weighted_book_scores_dsr_on_the_same_book(tmp_path: Path) -> None:
    from toolkit.app.robustness import run_sensitivity
    from toolkit.config import parse_config

    text = CONFIG.replace('symbols = ["QQQ"]', 'symbols = ["QQQ", "TLT"]').replace(
        "slippage_bps = 1.0", "slippage_bps = 1.0\nweights = [0.7, 0.3]"
    )
    cfg = parse_config(tomllib.loads(text), tmp_path / "w.toml")
    summary, _, files = run_sensitivity(cfg, tmp_path / "reports")
    rows = pd.read_csv(files["sweep"])
    best = rows["sharpe"].max()
    per_period = summary["overfitting"]["sharpe_per_period"]
    # the DSR's best set is re-run exactly as it was scored (the weighted book)
    assert per_period * np.sqrt(cfg.engine.periods_per_year) == pytest.approx(best, rel=1e-6)
