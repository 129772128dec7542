"""Write a backtest's report folder: tear sheet, equity and trades CSVs, and a manifest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.engine.result import BacktestResult
from toolkit.execution.engine_tca import engine_tca
from toolkit.report.chart import write_chart
from toolkit.report.manifest import build_manifest
from toolkit.report.tca_section import add_tca_section
from toolkit.report.tearsheet import write_tearsheet


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for manifests and summaries (paths, numpy scalars, NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return f if np.isfinite(f) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def benchmark_returns(closes: pd.Series, index: pd.Index) -> pd.Series:
    """Buy-and-hold returns of benchmark ``closes`` on the strategy's bars (0 on the first
    bar, like the strategy's own first return before it trades); the summary and the tear
    sheet both use this one series."""
    return closes.reindex(index).ffill().pct_change().fillna(0.0)


def write_backtest_report(
    result: BacktestResult,
    out_dir: Path,
    *,
    config: Mapping[str, Any],
    data_files: Iterable[Mapping[str, str]],
    benchmark: pd.Series | None,
    title: str,
    repo: Path,
    tearsheet: bool = True,
    benchmark_name: str | None = None,
    progress: Callable[[str], None] | None = None,
    bars: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write the report files into ``out_dir`` and return their paths by kind.

    The tear sheet covers exactly the bars of ``result`` (the period of the printed summary)
    and names the benchmark ``benchmark_name`` (default: ``config``'s ``[data] benchmark``);
    ``progress`` hears its stages (it is the slow part). ``bars`` (the frame the backtest ran
    on) adds the orders' transaction-cost analysis: ``tca.csv`` and the tear sheet's
    "Transaction costs" section (:func:`toolkit.execution.engine_tca`), and the orders on
    the price to ``chart.html``, the interactive figure written with the tear sheet.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "equity": out_dir / "equity.csv",
        "trades": out_dir / "trades.csv",
        "orders": out_dir / "orders.csv",
        "manifest": out_dir / "manifest.json",
    }
    frame = pd.concat(
        [result.equity, result.returns, result.cash, result.positions.add_prefix("position_")],
        axis=1,
    )
    frame.to_csv(paths["equity"], index_label="timestamp")
    result.trades.to_csv(paths["trades"], index=False)
    result.orders.to_csv(paths["orders"], index=False)
    tca = None if bars is None else engine_tca(result, bars)
    if tca is not None:
        paths["tca"] = out_dir / "tca.csv"
        tca.to_csv(paths["tca"])
    if tearsheet:
        bench = None
        if benchmark is not None:
            bench = benchmark_returns(benchmark, result.returns.index)
            data = config.get("data")
            named = data.get("benchmark") if isinstance(data, Mapping) else None
            benchmark_name = benchmark_name or (named if isinstance(named, str) else None)
        paths["tearsheet"] = write_tearsheet(
            result.returns,
            out_dir / "tearsheet.html",
            benchmark=bench,
            title=title,
            periods_per_year=round(result.settings.periods_per_year),
            benchmark_title=benchmark_name,
            strategy_title=result.strategy or "Strategy",
            progress=progress,
        )
        if tca is not None:
            add_tca_section(paths["tearsheet"], tca)
        if progress is not None:
            progress("interactive chart: chart.html")
        paths["chart"] = write_chart(
            result,
            out_dir / "chart.html",
            bars=bars,
            benchmark=benchmark,
            benchmark_name=benchmark_name,
        )
    settings = asdict(result.settings)
    manifest = build_manifest(
        config=to_jsonable(config),
        resolved=to_jsonable(
            {"strategy": result.strategy, "params": result.params, "engine": settings}
        ),
        data_files=data_files,
        metrics=to_jsonable(result.metrics()),
        repo=repo,
    )
    paths["manifest"].write_text(json.dumps(to_jsonable(manifest), indent=2) + "\n")
    return paths
