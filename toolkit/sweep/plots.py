"""Pictures of sweep results with matplotlib: heatmaps, parallel coordinates, scatter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size)
    return new


def _check(results: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise ConfigError(
            f"sweep results have no column {', '.join(missing)}; "
            f"columns: {', '.join(map(str, results.columns))}."
        )


def heatmap_table(
    results: pd.DataFrame, x: str, y: str, metric: str = "sharpe", agg: str = "max"
) -> pd.DataFrame:
    """``metric`` over a (y, x) grid, aggregated (``agg``) over every other column."""
    _check(results, [x, y, metric])
    table = results.pivot_table(index=y, columns=x, values=metric, aggfunc=agg)  # type: ignore[arg-type]
    return table.sort_index()


def heatmap(
    results: pd.DataFrame,
    x: str,
    y: str,
    metric: str = "sharpe",
    *,
    agg: str = "max",
    ax: Axes | None = None,
    cmap: str = "RdYlGn",
) -> Axes:
    """Heatmap of ``metric`` over two parameters; other parameters reduced with ``agg``."""
    table = heatmap_table(results, x, y, metric, agg)
    axes = _axes(ax, (8, 6))
    data = table.to_numpy(dtype=float)
    finite = data[np.isfinite(data)]
    lim = float(np.max(np.abs(finite))) if finite.size and metric not in ("max_drawdown",) else None
    image = axes.imshow(
        np.ma.masked_invalid(data),
        origin="lower",
        aspect="auto",
        cmap=cmap,
        vmin=-lim if lim else None,
        vmax=lim if lim else None,
        extent=(-0.5, data.shape[1] - 0.5, -0.5, data.shape[0] - 0.5),
    )
    _ticks(axes, table.columns.to_numpy(), axis="x")
    _ticks(axes, table.index.to_numpy(), axis="y")
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(f"{metric} ({agg} over other parameters)")
    axes.figure.colorbar(image, ax=axes, label=metric)
    return axes


def _ticks(axes: Axes, labels: np.ndarray, axis: str, most: int = 12) -> None:
    step = max(1, len(labels) // most)
    pos = np.arange(0, len(labels), step)
    text = [f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v) for v in labels[pos]]
    if axis == "x":
        axes.set_xticks(pos, text, rotation=45)
    else:
        axes.set_yticks(pos, text)


def parallel_coordinates(
    results: pd.DataFrame,
    params: Sequence[str],
    metric: str = "sharpe",
    *,
    top: int | None = None,
    ax: Axes | None = None,
    cmap: str = "viridis",
) -> Axes:
    """One line per row across ``params`` (each scaled to [0, 1]), coloured by ``metric``.

    ``top`` keeps only the best rows by ``metric`` so the shape of the good region shows.
    """
    import matplotlib as mpl

    _check(results, [*params, metric])
    if len(params) < 2:
        raise ConfigError("parallel_coordinates needs at least two parameters.")
    data = results[[*params, metric]].dropna(subset=[metric])
    if top is not None:
        data = data.nlargest(top, metric)
    axes = _axes(ax, (9, 5))
    lo = data[list(params)].min()
    span = (data[list(params)].max() - lo).replace(0, 1)
    scaled = (data[list(params)] - lo) / span
    norm = mpl.colors.Normalize(vmin=float(data[metric].min()), vmax=float(data[metric].max()))
    colours = mpl.colormaps[cmap](norm(data[metric].to_numpy()))
    xs = np.arange(len(params))
    order = np.argsort(data[metric].to_numpy())  # best lines drawn last, on top
    for i in order:
        axes.plot(xs, scaled.iloc[i].to_numpy(), color=colours[i], alpha=0.6, linewidth=0.8)
    axes.set_xticks(xs, [f"{p}\n[{lo[p]:g}, {lo[p] + span[p]:g}]" for p in params])
    axes.set_ylabel("scaled value")
    axes.set_title(
        f"parameters of {'top ' + str(top) if top else 'all'} rows, coloured by {metric}"
    )
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    axes.figure.colorbar(sm, ax=axes, label=metric)
    return axes


def scatter(
    results: pd.DataFrame,
    x: str,
    y: str,
    metric: str = "sharpe",
    *,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Scatter of two parameters (or metrics), coloured by ``metric``."""
    _check(results, [x, y, metric])
    axes = _axes(ax, (7, 5))
    points = axes.scatter(results[x], results[y], c=results[metric], cmap="viridis", s=12, **kwargs)
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.figure.colorbar(points, ax=axes, label=metric)
    return axes
