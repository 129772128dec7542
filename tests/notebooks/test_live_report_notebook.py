"""notebooks/12_live_session_report.ipynb: a report of a live session from its journal,
executed like a scheduled report on the journal of a real (short, simulated) session."""

from __future__ import annotations

from pathlib import Path

from tests.live.conftest import write_live_config
from tests.notebooks._execute import check_html, execute
from toolkit.live.bridge import run_session


def test_live_session_report_reads_the_journal(tmp_path: Path) -> None:
    cfg = write_live_config(
        tmp_path,
        simulator={"start": "2022-06-01 21:30", "end": "2022-09-30", "speed": 8_640_000.0},
        risk={"max_order": 150_000.0},
        name="report-test",
    )
    summary = run_session(cfg, echo=None)
    run = execute("12_live_session_report.ipynb", {"journal": str(cfg.session.journal)}, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    assert f"Session {summary.session_id}" in text and "net P&L" in text
    assert f"{summary.fills} fills; slippage against the signal price" in text
    assert "guard event(s)" in text and "signal_price" in text
    assert "<th>0</th>" not in text  # tables without pandas' row numbers
    # the session rerun by the backtest (backtest --like-session): every fill matches
    assert summary.fills > 0
    assert f"fills: session {summary.fills}, backtest {summary.fills}, " in text
    assert f"matching {summary.fills}/{summary.fills}" in text
    # TCA of every parent order, reconciled with the journal's P&L (order_history)
    assert summary.tca is not None
    assert f"TCA, {summary.tca.orders} parent orders" in text and "difference 0.00" in text
    assert "execution_cost" in text and "close_slippage_bp" in text
    check_html(
        run,
        [
            "Live session report",
            "Equity and drawdown by strategy",
            "Fills against the signal price",
            "Transaction costs of every parent order",
            "Round trips",
            "Backtest of the same bars",
            "Risk guards that fired",
        ],
        figures=3,
    )
