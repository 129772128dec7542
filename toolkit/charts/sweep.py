"""Sweep results as interactive figures: a heatmap of a metric over two parameters and
parallel coordinates across any number of them (drag on an axis to filter the lines)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from toolkit.charts._style import layout, metric_format
from toolkit.errors import ConfigError
from toolkit.sweep.plots import heatmap_table

# metrics where lower is better or that have no natural zero: no diverging scale around 0
_ONE_SIDED = frozenset({"max_drawdown", "trades", "exposure", "win_rate", "final_equity"})


def sweep_heatmap(
    results: pd.DataFrame,
    x: str,
    y: str,
    metric: str = "sharpe",
    *,
    agg: str = "max",
    title: str | None = None,
) -> go.Figure:
    """``metric`` over the (``y``, ``x``) grid of a sweep's rows, other parameters reduced
    with ``agg`` (:func:`toolkit.sweep.heatmap_table`, so the cells are that table's)."""
    table = heatmap_table(results, x, y, metric, agg)
    fmt = metric_format(metric)
    diverging = metric not in _ONE_SIDED
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(dtype=float),
            x=table.columns.to_numpy(),
            y=table.index.to_numpy(),
            colorscale="RdYlGn",
            zmid=0.0 if diverging else None,
            colorbar={"title": {"text": metric}, "tickformat": fmt},
            hovertemplate=f"{x} %{{x}}<br>{y} %{{y}}<br>{metric} %{{z:{fmt}}}<extra></extra>",
            hoverongaps=False,
        )
    )
    fig.update_xaxes(title_text=x, type="category" if table.columns.dtype == object else None)
    fig.update_yaxes(title_text=y, type="category" if table.index.dtype == object else None)
    head = (
        title or f"{metric} over {x} x {y} ({agg} over the other parameters, {len(results):,} runs)"
    )
    return layout(fig, head, 520)


def sweep_parallel(
    results: pd.DataFrame,
    params: Sequence[str],
    metric: str = "sharpe",
    *,
    top: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """One line per sweep row across ``params`` and ``metric``, coloured by ``metric``; ``top``
    keeps the best rows so the shape of the good region shows. Rows without a finite metric
    are left out."""
    missing = [c for c in [*params, metric] if c not in results.columns]
    if missing:
        raise ConfigError(
            f"sweep results have no column {', '.join(missing)}; "
            f"columns: {', '.join(map(str, results.columns))}."
        )
    if len(params) < 2:
        raise ConfigError("parallel coordinates need at least two parameters.")
    data = results[[*params, metric]].replace([float("inf"), float("-inf")], float("nan"))
    data = data.dropna(subset=[metric])
    if top is not None:
        data = data.nlargest(top, metric)
    fmt = metric_format(metric)
    dimensions = [{"label": p, "values": data[p].to_numpy()} for p in params]
    dimensions.append({"label": metric, "values": data[metric].to_numpy(), "tickformat": fmt})
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": data[metric].to_numpy(),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": metric}, "tickformat": fmt},
            },
            dimensions=dimensions,
        )
    )
    shown = f"top {top}" if top is not None else "all"
    head = (
        title
        or f"{shown} of {len(results):,} runs across {', '.join(params)}, coloured by {metric}"
    )
    return layout(fig, head, 480)
