"""notebooks 03-05 (walk-forward, Monte Carlo, overfitting) executed by papermill, small runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notebooks._execute import execute

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
    run = execute(name, params, tmp_path)
    assert not run.errors
    assert run.figures >= figures
    for piece in expected:
        assert piece in run.text, piece
