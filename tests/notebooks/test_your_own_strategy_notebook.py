"""notebooks/07_your_own_strategy.ipynb: a rule written in a cell is checked for look-ahead
(the leaky example fails), backtested, swept, run as a cross-sectional book and rehearsed live
on the gateway simulator with the backtest's fills -- executed like a report, small inputs."""

from __future__ import annotations

from pathlib import Path

from tests.notebooks._execute import check_html, execute


def test_your_own_strategy_notebook(tmp_path: Path) -> None:
    params = {
        "start": "2015-01-01",
        "end": "2018-12-31",
        "windows": [20, 50],
        "bands": [0.0, 0.02],
        "etfs": ["SPY", "TLT", "GLD"],
        "rehearsal_end": "2023-04-28",
        "speed": 8_640_000.0,
    }
    run = execute("07_your_own_strategy.ipynb", params, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    for part in (
        "ma_band: 3 parameter set(s) x 20 cut points",
        "causal (no look-ahead found)",
        "leaky_example: 1 parameter set(s) x 5 cut points",
        "LOOK-AHEAD found",
        "4 parameter sets (generic path)",
        "xs_momentum: 2 parameter set(s)",
        "Session own-strategy-paper",
        "fills identical to the backtest's orders: True",
    ):
        assert part in text, part
    assert run.figures >= 2
    check_html(
        run,
        [
            "Your own strategy: write it, check it, backtest, sweep, rehearse it live",
            "Write a rule",
            "Check it for look-ahead",
            "Backtest",
            "Sweep",
            "A cross-sectional book",
            "Rehearse it live on the simulator",
        ],
        figures=2,
    )
