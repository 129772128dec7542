"""notebooks/08_portfolios.ipynb: sector rotation, pairs (full-sample screen vs BH, GLD/GDX
with a Kalman hedge, the deflated Sharpe), the market-neutral book and the risk rules on and
off, executed with small parameters (a 12-symbol screen, a 4-stock pairs universe, the
books from 2016) the way a report is."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from tests.notebooks._execute import REPO, check_html, execute
from toolkit import metrics as mt
from toolkit.app.backtest import load_run_bars

SCREEN = ["SPY", "QQQ", "IWM", "GOOGL", "AAPL", "MSFT", "SHY", "WMT", "AGG", "LQD", "TIP", "VNQ"]
PARAMS = {
    "start": "2016-01-01",
    "universe_symbols": ["XOM", "CVX", "COP", "SLB"],
    "screen_symbols": SCREEN,
}


def test_portfolios_notebook_walks_through_the_books_and_their_rules(tmp_path: Path) -> None:
    run = execute("08_portfolios.ipynb", PARAMS, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    (folder,) = list(tmp_path.glob("*/08_portfolios-*"))

    # the full-sample screen: what it printed is what screen.csv holds, and BH keeps fewer
    screen = pd.read_csv(folder / "screen.csv")
    assert len(screen) == 66  # 12 symbols, every pair once
    raw, kept = int((screen["p_value"] < 0.05).sum()), int((screen["q_value"] <= 0.05).sum())
    assert "66 pairs of 12 symbols" in text
    assert f"raw p < 0.05: {raw} pairs" in text
    assert f"Benjamini-Hochberg q <= 0.05: {kept};" in text and kept <= raw
    assert (screen["q_value"] >= screen["p_value"] - 1e-15).all()

    # GLD/GDX from its formation windows, and the deflated Sharpe with every pair a trial
    assert re.search(r"GLD/GDX: \d+ formation windows 2016-01-04 to 2020-12-11", text)
    trials = re.search(r"sector screen: Sharpe [-\d.]+, (\d+) trials, DSR (\d\.\d{3})", text)
    assert trials is not None and int(trials.group(1)) == 6 * 2  # 6 pairs x the grid's 2 sets
    assert re.search(r"GLD/GDX \(a prior choice\): Sharpe [-\d.]+, 2 trials, DSR \d\.\d{3}", text)

    # the neutral book is neutral where it is built
    beta = re.search(r"at the deciding close: max (\d\.\d{4})", text)
    assert beta is not None and float(beta.group(1)) <= 0.05

    # the side-by-side table: every book with the rules off and on, its numbers the engine's
    table = pd.read_csv(folder / "risk_on_off.csv", index_col=[0, 1])
    assert set(table.index.get_level_values(0)) == {
        "sector rotation",
        "stock momentum",
        "market-neutral",
    }
    assert len(table) == 11 and "max_sector 0.25" in table.loc["stock momentum"].index
    cfg = tk.load_config(REPO / "research/configs/sector_rotation.toml")
    direct = tk.backtest(
        load_run_bars(cfg).frame, cfg.strategy, cfg.params, cfg.engine, cfg.weights
    )
    r = direct.returns.iloc[1:]
    off = table.loc[("sector rotation", "off")]
    assert np.isclose(off["CAGR"], mt.cagr(r), rtol=0, atol=1e-12)
    assert np.isclose(off["Sharpe"], mt.sharpe(r), rtol=0, atol=1e-12)
    assert off["guard records"] == 0
    # judged as a whole, the neutral book passes max_beta 0.05 untouched
    neutral = table.loc["market-neutral"]
    assert neutral.loc["max_beta 0.05", "guard records"] == 0
    assert neutral.loc["max_beta 0.05", "CAGR"] == neutral.loc["off", "CAGR"]
    assert neutral.loc["off", "max |beta| at rebalances"] <= 0.05

    # result.guards: which rule fired, per book and rule set, as counted in the table
    guards = pd.read_csv(folder / "guards.csv")
    assert {"max_sector", "max_var", "max_beta"} <= set(guards["rules"])
    counts = guards.groupby(["book", "case"]).size()
    for (book, case), n in counts.items():
        assert table.loc[(book, case), "guard records"] == n
    assert int(table["guard records"].sum()) == len(guards)
    assert f"{len(guards)} guard records in all" in text
    assert "after the reductions alone" in text  # the one-common-fraction example

    assert str(REPO) not in run.html and str(tmp_path) not in run.html  # no absolute paths
    check_html(
        run,
        [
            "1. Sector rotation over the 11 sector SPDRs",
            '2.1 What a careless screen "finds"',
            "2.2 GLD/GDX, chosen inside each formation window, Kalman hedge ratio",
            "2.3 A screened universe, and the deflated Sharpe ratio",
            "3. A market-neutral book",
            "4. The same books with the risk rules switched on and off",
            "Which rule fired, when",
        ],
        figures=9,
    )
