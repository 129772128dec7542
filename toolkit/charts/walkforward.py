"""A walk-forward as one figure: the stitched out-of-sample equity (against buy and hold) over
the folds' in-sample and out-of-sample spans, with each fold's choice in the hover label."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.analysis.walkforward import WalkForwardResult
from toolkit.charts._equity import benchmark_equity, closes, equity_line
from toolkit.charts._style import layout

IN_SAMPLE = "#9ecae1"
OUT_OF_SAMPLE = "#fd8d3c"


def _spans(folds: pd.DataFrame, start: str, end: str) -> tuple[pd.DatetimeIndex, pd.Index]:
    """Bar bases and lengths (milliseconds, as plotly's date axes count) of fold spans."""
    begin = pd.DatetimeIndex(folds[start])
    length = (pd.DatetimeIndex(folds[end]) - begin).total_seconds() * 1000.0
    return begin, length


def walk_forward_figure(
    result: WalkForwardResult, bars: pd.DataFrame | None = None, *, title: str | None = None
) -> go.Figure:
    """Top: the out-of-sample equity chained over the folds (and buy and hold of ``bars``,
    equal weights for a panel). Bottom: one row per fold, its in-sample span and its
    out-of-sample span, the chosen parameters and the in/out-of-sample objective on hover."""
    folds = result.folds
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.62, 0.38],
        subplot_titles=("out-of-sample equity", "folds: in-sample and out-of-sample spans"),
    )
    eq = result.oos_equity
    fig.add_trace(equity_line(eq, "walk-forward OOS", "OOS equity "), row=1, col=1)
    if bars is not None:
        close = closes(bars)
        hold = benchmark_equity(close, eq.index, result.init_cash)
        label = "buy & hold" if close.shape[1] == 1 else "equal-weight buy & hold"
        fig.add_trace(equity_line(hold, label, f"{label} ", benchmark=True), row=1, col=1)
    labels = [f"fold {int(n)}" for n in folds["fold"]]
    chosen = [
        ", ".join(
            f"{p}={row[p]:g}" if isinstance(row[p], float) else f"{p}={row[p]}"
            for p in result.param_names
        )
        for _, row in folds.iterrows()
    ]
    for kind, (start, end), colour in (
        ("in-sample", ("train_start", "train_end"), IN_SAMPLE),
        ("out-of-sample", ("test_start", "test_end"), OUT_OF_SAMPLE),
    ):
        base, length = _spans(folds, start, end)
        objective = folds["is_objective" if kind == "in-sample" else "oos_objective"].to_numpy()
        custom = list(
            zip(
                base.strftime("%Y-%m-%d"),
                pd.to_datetime(folds[end]).dt.strftime("%Y-%m-%d"),
                chosen,
                objective,
                strict=True,
            )
        )
        fig.add_trace(
            go.Bar(
                base=base,
                x=length.to_numpy(),
                y=labels,
                orientation="h",
                name=kind,
                marker={"color": colour},
                customdata=custom,
                hovertemplate=(
                    f"%{{y}} {kind}: %{{customdata[0]}} to %{{customdata[1]}}<br>"
                    f"%{{customdata[2]}}<br>{result.objective} %{{customdata[3]:.3f}}"
                    "<extra></extra>"
                ),
            ),
            row=2,
            col=1,
        )
    fig.update_xaxes(type="date", row=2, col=1)
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_yaxes(tickformat=",.0f", row=1, col=1)
    head = title or (
        f"Walk-forward: {len(folds)} folds, objective {result.objective}, "
        f"efficiency {result.efficiency:.2f}"
    )
    return layout(fig, head, 620, barmode="overlay")
