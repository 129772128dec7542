"""notebooks 03-05 (walk-forward, Monte Carlo, overfitting) executed by papermill, small runs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest

REPO = Path(__file__).resolve().parents[2]

CASES = [
    (
        "03_walk_forward.ipynb",
        {"start": "2008-01-01", "train": "4Y", "fast_max": 30, "slow_max": 120},
        ["walk-forward efficiency:", "mode_share"],
        2,
    ),
    (
        "04_monte_carlo.ipynb",
        {"paths": 300, "start": "2010-01-01", "fast": 10, "slow": 40},
        ["P(max drawdown <= -25%)", "trade_shuffle", "longest_drawdown"],
        2,
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
    ),
]


@pytest.mark.parametrize(
    ("name", "params", "expected", "figures"), CASES, ids=[c[0] for c in CASES]
)
def test_notebook(
    name: str, params: dict, expected: list[str], figures: int, tmp_path: Path
) -> None:
    out = tmp_path / name
    pm.execute_notebook(
        str(REPO / "notebooks" / name),
        str(out),
        parameters=params,
        cwd=str(REPO),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= figures
    text = "\n".join(
        str(o.get("data", {}).get("text/plain", ""))
        + str(o.get("data", {}).get("text/html", ""))
        + o.get("text", "")
        for o in outputs
    )
    for piece in expected:
        assert piece in text, piece
