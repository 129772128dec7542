"""notebooks/02_sweep.ipynb executed by papermill with small parameters."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm

REPO = Path(__file__).resolve().parents[2]


def test_sweep_notebook_runs_and_shows_heatmaps(tmp_path: Path) -> None:
    out = tmp_path / "sweep.ipynb"
    pm.execute_notebook(
        str(REPO / "notebooks" / "02_sweep.ipynb"),
        str(out),
        parameters={
            "start": "2015-01-01",
            "max_window": 40,
            "sample_points": 60,
            "symbols": ["SPY", "TLT"],
        },
        cwd=str(REPO),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # heatmaps and parallel coordinates
    text = "\n".join(
        str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in outputs
    )
    assert "741 combinations" in text  # every pair fast < slow from 2 to 40
    # the best sweep row and its re-run through tk.backtest print the same Sharpe
    lines = [ln for ln in text.splitlines() if "'sharpe'" in ln]
    assert len(lines) >= 2
    sweep_sharpe = (
        lines[0].split("'sharpe': ")[1].split(",")[0].replace("np.float64(", "").rstrip(")")
    )
    check_sharpe = lines[1].split("'sharpe': ")[1].split(",")[0].rstrip(")")
    assert abs(float(sweep_sharpe) - float(check_sharpe)) < 1e-9
