"""notebooks/06_paper_trading.ipynb: gateway in-process, a live session over TCP for a few
simulated weeks, the journal and P&L shown -- executed like a report, with a short window."""

from __future__ import annotations

from pathlib import Path

from tests.notebooks._execute import check_html, execute


def test_paper_trading_notebook_trades_and_matches_the_backtest(tmp_path: Path) -> None:
    params = {"start": "2023-06-01 21:30", "end": "2023-07-14", "speed": 8_640_000.0}
    run = execute("06_paper_trading.ipynb", params, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    for part in (
        "Session notebook-paper",
        "net P&L",
        "win rate",
        "decisions,",
        "order_ref",
        "signal_price",
        "fills identical to the backtest's orders: True",
    ):
        assert part in text, part
    assert run.figures >= 1
    check_html(
        run,
        [
            "Paper trading against the gateway simulator",
            "Start the gateway and run the session",
            "The journal: every decision, order and fill",
            "P&L, and the backtest of the same bars",
        ],
        figures=1,
    )
