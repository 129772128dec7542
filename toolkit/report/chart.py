"""The backtest report's interactive page: ``chart.html`` beside the tear sheet, the run's
:func:`toolkit.charts.backtest_figure` (equity against the benchmark, drawdown, exposure,
orders on the price) as one self-contained file -- plotly.js embedded, so it opens offline
and from an e-mail attachment as well as from the report folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.charts import backtest_figure
from toolkit.engine.result import BacktestResult


def write_chart(
    result: BacktestResult,
    path: Path,
    *,
    bars: pd.DataFrame | None,
    benchmark: pd.Series | None,
    benchmark_name: str | None = None,
) -> Path:
    """Write the run's interactive figure to ``path``; ``benchmark`` are the benchmark's closes
    (bought and held with the initial cash, labelled ``benchmark_name``)."""
    if benchmark is not None:
        benchmark = benchmark.rename(str(benchmark_name or benchmark.name or "benchmark"))
    fig = backtest_figure(result, bars, benchmark=benchmark)
    fig.write_html(path, include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    return path
