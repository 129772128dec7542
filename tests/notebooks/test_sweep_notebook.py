"""notebooks/02_sweep.ipynb executed by papermill with small parameters."""

from __future__ import annotations

from pathlib import Path

from tests.notebooks._execute import check_html, execute, plotly_values


def test_sweep_notebook_runs_and_shows_heatmaps(tmp_path: Path) -> None:
    run = execute(
        "02_sweep.ipynb",
        {"start": "2015-01-01", "max_window": 40, "sample_points": 60, "symbols": ["SPY", "TLT"]},
        tmp_path,
    )
    assert not run.errors
    assert run.figures >= 2  # heatmaps and parallel coordinates
    check_html(
        run,
        [
            "Parameter sweeps on real data",
            "Every SMA pair fast < slow",
            "Three parameters: random sampling and parallel coordinates",
            "Many symbols",
        ],
        figures=2,
    )
    text = run.text
    assert "741 combinations" in text  # every pair fast < slow from 2 to 40
    # the best sweep row and its re-run through tk.backtest print the same Sharpe
    lines = [ln for ln in text.splitlines() if "'sharpe'" in ln]
    assert len(lines) >= 2
    sweep_sharpe = (
        lines[0].split("'sharpe': ")[1].split(",")[0].replace("np.float64(", "").rstrip(")")
    )
    check_sharpe = lines[1].split("'sharpe': ")[1].split(",")[0].rstrip(")")
    assert abs(float(sweep_sharpe) - float(check_sharpe)) < 1e-9
    # the interactive heatmap (38 x 38 windows, fast < slow) and parallel coordinates (top 50)
    figures = [f["data"][0] for f in run.plotly]
    heat, lines = figures
    assert heat["type"] == "heatmap"
    assert list(plotly_values(heat["x"])) == list(range(2, 40))  # fast 2..39 (< slow)
    assert list(plotly_values(heat["y"])) == list(range(3, 41))  # slow 3..40
    assert lines["type"] == "parcoords"
    assert [d["label"] for d in lines["dimensions"]] == [
        "entry_window",
        "exit_window",
        "allow_short",
        "sharpe",
    ]
    assert run.html.count('class="plotly-graph-div"') == 2
