"""The sensitivity folder's interactive page: a heatmap over two varying parameters, parallel
coordinates over more (the PNG stays a heatmap of the first two)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.report.robustness import write_sensitivity


def _rows(params: list[str]) -> pd.DataFrame:
    grid = pd.DataFrame(list(itertools.product(*[[1, 2, 3]] * len(params))), columns=params)
    grid["sharpe"] = np.linspace(-0.5, 1.5, len(grid))
    return grid


def test_more_than_two_parameters_get_parallel_coordinates(tmp_path: Path) -> None:
    stress = pd.DataFrame({"sharpe": [1.0]}, index=["baseline"])
    for sub in ("1", "2", "3"):
        (tmp_path / sub).mkdir()
    three = write_sensitivity(
        _rows(["a", "b", "c"]), stress, ["a", "b", "c"], "sharpe", tmp_path / "3"
    )
    page = three["page"].read_text()
    assert '"type":"parcoords"' in page and '"label":"c"' in page
    assert three["response"].name == "response.png"
    two = write_sensitivity(_rows(["a", "b"]), stress, ["a", "b"], "sharpe", tmp_path / "2")
    assert '"type":"heatmap"' in two["page"].read_text()
    one = write_sensitivity(_rows(["a"]), stress, ["a"], "sharpe", tmp_path / "1")
    assert "page" not in one  # a line over one parameter: the PNG only
