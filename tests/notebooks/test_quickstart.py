"""notebooks/01_quickstart.ipynb executed by papermill with small parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import toolkit as tk
from tests.notebooks._execute import check_html, execute, plotly_values


def test_quickstart_runs_and_shows_its_results(tmp_path: Path) -> None:
    params = {"symbol": "QQQ", "start": "2015-01-01", "fast": 20, "slow": 60}
    run = execute("01_quickstart.ipynb", params, tmp_path)
    assert not run.errors
    assert run.figures >= 1, "equity/drawdown figure missing"
    check_html(
        run,
        [
            "Quickstart: a backtest you can trust",
            "Run the strategy",
            "Equity and drawdown",
            "Interactive view",
            "Trades and orders",
            "What costs do",
        ],
        figures=1,
    )
    text = run.text
    # the notebook's numbers are the library's numbers for the same inputs
    bars = tk.load("QQQ", start="2015-01-01")
    res = tk.backtest(
        bars,
        "sma_cross",
        {"fast": 20, "slow": 60},
        tk.EngineSettings(commission=tk.ibkr_fixed(), slippage_bps=1.0),
    )
    assert f"{res.metrics()['final_equity']:.4f}"[:8] in text.replace(",", "")
    assert "entry_price" in text and "holding_days" in text  # the trades table
    assert "ibkr_tiered" in text  # the cost comparison
    # result.plot(): the interactive figure holds the run's equity, and stays interactive in
    # the report's HTML (plotly.js embedded once, offline)
    (figure,) = run.plotly
    equity = next(t for t in figure["data"] if t["name"] == "sma_cross")
    np.testing.assert_allclose(plotly_values(equity["y"]), res.equity.to_numpy())
    assert {t["name"] for t in figure["data"]} >= {"buy & hold QQQ", "drawdown", "buy", "sell"}
    assert run.html.count('class="plotly-graph-div"') == 1
    assert run.html.count("plotly.js v") == 1  # the library's banner, once
    # tables formatted: percentages and money, no row numbers
    assert "row_heading" not in text.split("entry_price")[1].split("</table>")[0]
    assert f"{res.metrics()['total_return']:.2%}" in text
