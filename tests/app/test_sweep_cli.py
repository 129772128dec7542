"""``toolkit sweep --config F`` (toolkit.app.sweep): every set of the config's [grid] in
sweep.csv, the best ones printed as a table or as JSON with the same numbers, each row the
backtest the engine gives for its parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import toolkit as tk
from toolkit.app import cli
from toolkit.app.backtest import load_bars
from toolkit.app.tables import fmt

CONFIG = """
name = "swept"
[data]
symbols = {symbols}
start = "2010-01-01"
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
[costs]
model = "ibkr_fixed"
[grid]
fast = [10, 20, 30]
slow = [100, 150]
"""


def _config(tmp_path: Path, symbols: list[str]) -> Path:
    path = tmp_path / "swept.toml"
    path.write_text(CONFIG.format(symbols=json.dumps(symbols)))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    assert cli.main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


def test_table_json_csv_and_engine_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    cfg = _config(tmp_path, ["SPY"])
    reports = tmp_path / "reports"
    table = _run(capsys, "sweep", "--config", cfg, "--reports", reports, "--top", "3")
    data = json.loads(
        _run(capsys, "sweep", "--config", cfg, "--no-reports", "--top", "3", "--json")
    )
    (folder,) = reports.glob("swept-sweep-*")
    rows = pd.read_csv(folder / "sweep.csv")
    assert len(rows) == 6 and set(rows["symbol"]) == {"SPY"}
    assert {"manifest.json", "summary.json", "heatmap.png"} <= {p.name for p in folder.iterdir()}

    top = data["top"]
    assert [r["rank"] for r in top] == [1, 2, 3]
    best = rows.sort_values("sharpe", ascending=False).head(3)
    assert [(r["fast"], r["slow"]) for r in top] == list(
        zip(best["fast"], best["slow"], strict=True)
    )
    assert data["report"] is None and data["summary"]["trials"] == 6

    # each JSON row is printed in the table with the table's digits
    lines = table.splitlines()
    for r in top:
        line = next(
            x for x in lines if x.split()[:3] == [str(r["rank"]), str(r["fast"]), str(r["slow"])]
        )
        for key, kind in (
            ("sharpe", "num"),
            ("cagr", "pct"),
            ("max_drawdown", "pct"),
            ("final_equity", "money"),
            ("trades", "int"),
        ):
            assert fmt(r[key], kind) in line.split(), (key, line)

    # the sweep's numbers are the engine's backtest of the same parameters
    first = top[0]
    params = {"fast": first["fast"], "slow": first["slow"], "allow_short": 0, "cross": 0}
    config = tk.load_config(cfg)
    bars = load_bars(config)
    m = tk.backtest(bars, "sma_cross", params, config.engine).metrics()
    assert first["sharpe"] == pytest.approx(m["sharpe"], rel=1e-9)
    assert first["final_equity"] == pytest.approx(m["final_equity"], rel=1e-9)


def test_several_symbols_one_book_or_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    cfg = _config(tmp_path, ["SPY", "QQQ"])
    book = json.loads(
        _run(capsys, "sweep", "--config", cfg, "--no-reports", "--top", "0", "--json")
    )
    each = json.loads(
        _run(
            capsys, "sweep", "--config", cfg, "--no-reports", "--top", "0", "--json", "--per-symbol"
        )
    )
    assert book["summary"]["scored"] == "one book" and len(book["top"]) == 6
    assert {r["symbol"] for r in book["top"]} == {"portfolio"}
    assert each["summary"]["scored"] == "each symbol" and len(each["top"]) == 12
    assert {r["symbol"] for r in each["top"]} == {"SPY", "QQQ"}


def test_config_without_grid_names_what_to_add(tmp_path: Path, capsys):
    path = tmp_path / "nogrid.toml"
    path.write_text(CONFIG.format(symbols='["SPY"]').split("[grid]")[0])
    assert cli.main(["sweep", "--config", str(path), "--no-reports"]) == 2
    err = capsys.readouterr().err
    assert "sweep needs a [grid] table of parameter axes" in err


@pytest.mark.xdist_group("dask")  # one LocalCluster at a time
def test_dask_scheduler_gives_the_same_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """``--dask ADDRESS``: the blocks go to the scheduler's workers (an in-process cluster
    here, reached by its address as a remote one is), the rows are the local run's."""
    distributed = pytest.importorskip("distributed")
    cfg = _config(tmp_path, ["SPY", "QQQ"])
    argv = ["sweep", "--config", cfg, "--no-reports", "--top", "0", "--json", "--per-symbol"]
    local = json.loads(_run(capsys, *argv))
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        remote = json.loads(_run(capsys, *argv, "--dask", cluster.scheduler_address))
        assert cluster.scheduler.task_prefixes  # the cluster did the work
    assert remote["top"] == local["top"]
    # a book is an engine run per set on this machine: --dask says so instead of ignoring it
    assert cli.main([str(a) for a in argv[:-1] if a != "--per-symbol"] + ["--dask", "x"]) == 2
    assert "scores its 2 symbols as one book" in capsys.readouterr().err


def test_per_symbol_with_a_cross_sectional_strategy_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = Path(__file__).resolve().parents[2] / "research" / "configs" / "etf_xs_momentum.toml"
    assert cli.main(["sweep", "--config", str(config), "--no-reports", "--per-symbol"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error: --per-symbol: xs_momentum")
    assert "trades one book over all its 8 symbols" in line and "drop --per-symbol" in line
