"""notebooks/06_paper_trading.ipynb: a live session started from the notebook
(tk.NotebookSession: the CLI's session as a task on the kernel's event loop) against the
gateway simulator over TCP, looked at while it runs, stopped, then its journal and P&L beside
the backtest -- executed like a report, with a short window."""

from __future__ import annotations

from pathlib import Path

from tests.notebooks._execute import check_html, execute


def test_paper_trading_notebook_runs_a_session_from_the_notebook(tmp_path: Path) -> None:
    # the first entry and four crossings of the SMAs in four weeks; the notebook looks at the
    # session after three fills and stops it after five, before the rehearsal's end
    params = {
        "start": "2023-04-20 21:30",
        "end": "2023-05-31",
        "speed": 8_640_000.0,
        "look_at": "2023-05-04",
        "stop_at": "2023-05-16",
    }
    run = execute("06_paper_trading.ipynb", params, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    shown = f"the notebook's output:\n{text[:8000]}"
    # looked at while it ran: wait_until keeps the rehearsal's clock at the first bar's
    # release at or after look_at, the session having acted on it -- the same instant and
    # status on every run (before the hold, a look at 100 simulated days a second could land
    # a bar or two later: CI once showed 2023-05-05 20:00, orders 4, fills 3, working 1)
    assert "\nbroker time 2023-05-04 20:00 UTC, state: running\n" in text, shown
    assert "orders 3, fills 3, working 0" in text, shown  # the three fills by 2023-05-04
    # stopped at 2023-05-16's release: the fifth fill (2023-05-16's open) and no more
    assert "fills identical to the backtest's orders: True (5 fills)" in text, shown
    for part in (
        "state: stopped",
        "Session notebook-paper",
        "net P&L",
        "win rate",
        "decisions,",
        "order_ref",
        "signal_price",
    ):
        assert part in text, f"{part!r} not in {shown}"
    assert "<b>running</b>" in text  # the session's card while it ran
    assert run.figures >= 1
    check_html(
        run,
        [
            "Paper trading against the gateway simulator",
            "Start the session",
            "While it runs: status, positions, fills",
            "Stop it",
            "The journal: every decision, order and fill",
            "P&L, and the backtest of the same bars",
        ],
        figures=1,
    )
