"""notebooks/01_quickstart.ipynb executed by papermill with small parameters."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm

import toolkit as tk

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_runs_and_shows_its_results(tmp_path: Path) -> None:
    out = tmp_path / "quickstart.ipynb"
    params = {"symbol": "QQQ", "start": "2015-01-01", "fast": 20, "slow": 60}
    pm.execute_notebook(
        str(REPO / "notebooks" / "01_quickstart.ipynb"),
        str(out),
        parameters=params,
        cwd=str(REPO),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "equity/drawdown figure missing"
    text = "\n".join(
        str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in outputs
    )
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
