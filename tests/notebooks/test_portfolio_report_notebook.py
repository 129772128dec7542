"""notebooks/13_portfolio_report.ipynb: the portfolio view of a book (sector rotation under
max_beta and max_var), executed with small parameters the way a scheduled report is."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from tests.notebooks._execute import REPO, check_html, execute


def test_portfolio_report_shows_the_book_and_its_risk(tmp_path: Path) -> None:
    params = {
        "start": "2021-01-01",
        "window": 60,
        "risk": {"max_beta": 0.8, "max_var": 0.02, "risk_window": 60},
        "top": 5,
    }
    run = execute("13_portfolio_report.ipynb", params, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    assert "sector_rotation on 12 symbols" in text
    assert "risk rules: max_beta = 0.8, max_var = 0.02 (window 60 returns)" in text
    assert "Communication Services" in text and "Other" in text  # sectors, BIL unclassified
    assert "historical VaR back-test from" in text and "Kupiec p = " in text
    assert "= sum of the contributions (Euler" in text
    # P&L by symbol adds up to the equity change
    diff = re.search(
        r"symbol P&L sums to [\d,.]+; equity change [\d,.]+ \(difference (\S+)\)", text
    )
    assert diff is not None and abs(float(diff.group(1))) < 1e-6
    # the rules fired and their records are shown, without pandas row numbers
    fired = re.search(r"(\d+) guard records on (\d+) bars", text)
    assert fired is not None and int(fired.group(1)) > 0
    assert "max_var" in text and "target_position" in text
    assert 'class="row_heading level0 row0" >0<' not in text
    assert "GDX/GLD on 2020-12-11: Kalman beta" in text
    assert str(REPO) not in run.html and str(tmp_path) not in run.html  # no absolute paths
    # interactive views: weights by sector over time, risk contributions over time
    weights_fig, risk_fig = run.plotly
    stacked = {t["name"] for t in weights_fig["data"] if t.get("stackgroup") == "weights"}
    assert {"Communication Services", "Other"} <= stacked
    assert {t["name"] for t in risk_fig["data"] if t.get("stackgroup") == "risk"} >= {"BIL"}
    assert run.html.count('class="plotly-graph-div"') == 2
    (folder,) = list(tmp_path.glob("*/13_portfolio_report-*"))
    guards = pd.read_csv(folder / "guards.csv")
    assert len(guards) == int(fired.group(1))
    weights = pd.read_csv(folder / "weights.csv", index_col=0)
    assert list(weights.columns)[-1] == "BIL" and len(weights) > 1_000
    check_html(
        run,
        [
            "Portfolio report",
            "Composition",
            "Gross and net exposure",
            "Beta to the benchmark",
            "VaR and CVaR",
            "Risk contributions",
            "Correlation of the symbols' returns",
            "P&L by symbol",
            "Risk guards that fired",
            "Pairs: spread z-scores and hedge ratios",
        ],
        figures=8,
    )


def test_portfolio_report_of_a_pairs_book_shows_its_own_spreads(tmp_path: Path) -> None:
    """A pairs book (GLD/GDX, Kalman hedge): the pairs section shows the strategy's own
    selections, hedge ratios and z-scores with its entry and exit levels."""
    params = {"source": "research/configs/pairs_gld_gdx.toml", "window": 60, "risk_limits": False}
    run = execute("13_portfolio_report.ipynb", params, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    assert "pairs_trading on 2 symbols" in text and "risk rules: none" in text
    assert "pair selections in 28 formation windows (Kalman hedge ratio)" in text
    assert re.search(r"GLD/GDX on 2020-12-11: hedge ratio \d\.\d{3}, z [+-]\d\.\d\d", text)
    assert "no risk rule fired (no rule set)" in text
    assert run.html_figures >= 8
