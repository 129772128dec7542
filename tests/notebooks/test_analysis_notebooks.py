"""Notebooks 03-05 (walk-forward, Monte Carlo, overfitting) and the report notebooks 10-11,
executed with small parameters the way scheduled reports are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.notebooks._execute import check_html, execute

# notebook, parameters, text it must show, figures, sections its HTML must hold
CASES: list[tuple[str, dict[str, Any], list[str], int, list[str]]] = [
    (
        "03_walk_forward.ipynb",
        {"start": "2008-01-01", "train": "4Y", "fast_max": 30, "slow_max": 120},
        ["walk-forward efficiency:", "mode_share"],
        2,
        [
            "Walk-forward optimisation",
            "Stitched out-of-sample equity",
            "Do the chosen parameters hold still?",
        ],
    ),
    (
        "04_monte_carlo.ipynb",
        {"paths": 300, "start": "2010-01-01", "fast": 10, "slow": 40},
        ["P(max drawdown <= -25%)", "trade_shuffle", "longest_drawdown"],
        2,
        ["Distributions", "Fan chart of equity paths"],
    ),
    (
        "05_overfitting.ipynb",
        {
            "fast_max": 25,
            "slow_max": 100,
            "pbo_trials": 20,
            "pbo_splits": 8,
            "noise_runs": 2,
            "start": "2012-01-01",
        },
        ["DSR = ", "PBO = ", "commission x2", "'score'"],
        2,
        [
            "Deflated Sharpe ratio of the winner",
            "Probability of backtest overfitting (CSCV)",
            "Plateau or spike?",
            "Stress: costs and noise",
        ],
    ),
    (
        "10_strategy_tearsheet.ipynb",
        {"start": "2016-01-01", "rolling_window": 63},
        ["strategy book", "returns written for the tear sheet", "max drawdown", "shortfall_bp"],
        3,
        [
            "Strategy tear sheet",
            "Summary against SPY and QQQ",
            "Rolling Sharpe, volatility and beta",
            "Monthly returns",
            "Worst drawdowns",
            "Trade attribution by symbol and strategy",
            "Transaction costs",
        ],
    ),
    (
        "11_performance_report.ipynb",
        {"period": "monthly", "periods_shown": 6, "drawdown_alert": 0.05},
        ["monthly report as of", "current drawdown", "ALERT: drawdown"],
        1,
        ["Performance report", "Period returns", "Trades closed in the window", "Drawdown status"],
    ),
]


@pytest.mark.parametrize(
    ("name", "params", "expected", "figures", "sections"), CASES, ids=[c[0] for c in CASES]
)
def test_notebook(
    name: str,
    params: dict[str, Any],
    expected: list[str],
    figures: int,
    sections: list[str],
    tmp_path: Path,
) -> None:
    run = execute(name, params, tmp_path)
    assert not run.errors
    assert run.figures >= figures
    for piece in expected:
        assert piece in run.text, piece
    check_html(run, sections, figures)
    # interactive figures (result.plot() and friends) stay interactive in the report's HTML
    assert run.html.count('class="plotly-graph-div"') == PLOTLY.get(name, 0)
    assert "/tmp/" not in run.text and str(tmp_path) not in run.text  # no absolute paths
    for piece in FORMATTED.get(name, []):
        assert piece in run.text, piece
    if name.startswith(("10_", "11_")):  # report tables show dates, not raw timestamps
        assert "00:00:00+00:00" not in run.text
        assert "<th>0</th>" not in run.text  # no pandas row numbers
    if name == "10_strategy_tearsheet.ipynb":  # its orders' TCA in the tear sheet beside it
        (sheet,) = tmp_path.glob("*/10_strategy_tearsheet-*/tearsheet.html")
        assert '<div id="tca">' in sheet.read_text() and "costliest orders" in sheet.read_text()


# interactive figures per notebook, and formatted table cells a report must show
PLOTLY = {"03_walk_forward.ipynb": 1, "04_monte_carlo.ipynb": 1}
FORMATTED = {
    "10_strategy_tearsheet.ipynb": ["%</td>", 'class="col_heading level0 col0" >CAGR</th>'],
    "11_performance_report.ipynb": ['class="col_heading level0 col0" >symbol</th>', "%</td>"],
}
