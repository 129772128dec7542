"""notebooks/11_ml_workflow.ipynb: features checked causal, triple-barrier labels, purged CV,
a walk-forward artefact served by the backtest with DSR/PBO, and a paper session on the
simulator with the backtest's predictions and fills -- executed like a report, small inputs."""

from __future__ import annotations

from pathlib import Path

from tests.notebooks._execute import check_html, execute


def test_ml_workflow_notebook(tmp_path: Path) -> None:
    params = {
        "start": "2018-01-01",
        "end": "2020-12-31",
        "train": 200,
        "every": 50,
        "horizon": 5,
        "trees": 10,
        "pbo_splits": 4,
        "rehearsal_start": "2023-01-03 21:30",
        "rehearsal_end": "2023-02-28",
    }
    run = execute("11_ml_workflow.ipynb", params, tmp_path)
    assert not run.errors, run.errors
    text = run.text
    for part in (
        "feature_column: 8 parameter set(s) x 4 cut points",
        "ml_classifier: 1 parameter set(s) x 3 cut points",
        "causal (no look-ahead found)",
        "combinatorial purged (6 choose 2)",
        "refitted: 0",
        '"trials": 7',
        "deflated_sharpe",
        "predictions identical to the backtest: True",
        "fills identical to the backtest's orders: True",
    ):
        assert part in text, part
    assert "LOOK-AHEAD" not in text
    check_html(
        run,
        [
            "Machine learning: features, labels, purged validation, a walk-forward model, a paper session",
            "Features: one causal function",
            "Labels: the triple barrier",
            "Purged, embargoed cross-validation",
            "Backtest with costs, deflated Sharpe and PBO",
            "A paper session on the simulator",
        ],
        figures=2,
    )
