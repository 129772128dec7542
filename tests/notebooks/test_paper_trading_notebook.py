"""notebooks/06_paper_trading.ipynb: a live session started from the notebook
(tk.NotebookSession: the CLI's session as a task on the kernel's event loop) against the
gateway simulator over TCP, looked at while it runs, stopped, then its journal and P&L beside
the backtest -- executed like a report, with a short window."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

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
    # looked at while it ran: wait_until returns once the broker's clock has reached look_at,
    # which at 100 simulated days a second can be a bar or two past it (the session moves a
    # bar in less than the wait's 20 ms poll; seen in CI: 2023-05-05 20:00)
    look = re.search(r"\nbroker time (\S+ \S+) UTC, state: running\n", text)
    assert look, shown
    at = pd.Timestamp(look.group(1), tz="UTC")
    assert pd.Timestamp("2023-05-04", tz="UTC") <= at < pd.Timestamp("2023-05-16", tz="UTC"), shown
    # the running session's own status then: at least the three fills by 2023-05-04, every
    # order filled or working
    counts = re.search(r"orders (\d+), fills (\d+), working (\d+)", text)
    assert counts, shown
    orders, fills, working = (int(x) for x in counts.groups())
    assert fills >= 3 and orders == fills + working, shown
    same = re.search(r"fills identical to the backtest's orders: True \((\d+) fills\)", text)
    assert same and int(same.group(1)) >= 5, shown  # stopped after the fifth
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
