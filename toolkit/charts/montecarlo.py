"""A Monte Carlo as a fan of equity percentiles over the path, beside the distribution of
the paths' maximum drawdowns."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.analysis.montecarlo import MonteCarloResult
from toolkit.charts._style import MONEY, SELL, STRATEGY, layout

_BANDS = (("p5", "p95", "5-95%", 0.18), ("p25", "p75", "25-75%", 0.35))


def monte_carlo_figure(result: MonteCarloResult, *, title: str | None = None) -> go.Figure:
    """Left: equity percentiles across the paths (5-95 and 25-75 bands, the median, the
    initial cash), x in bars or trades as the method resamples. Right: the histogram of the
    paths' maximum drawdowns with the threshold and how often it was reached."""
    fan = result.fan
    unit = "trades" if result.method.startswith("trade") else "bars"
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.68, 0.32],
        horizontal_spacing=0.08,
        subplot_titles=(f"equity percentiles after n {unit}", "max drawdown of each path"),
    )
    steps = fan.index.to_numpy()
    for lo, hi, label, alpha in _BANDS:
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=fan[lo].to_numpy(),
                name=f"{label} low",
                line={"width": 0},
                showlegend=False,
                hovertemplate=f"{lo}: %{{y:{MONEY}}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=fan[hi].to_numpy(),
                name=label,
                fill="tonexty",
                fillcolor=f"rgba(31, 119, 180, {alpha})",
                line={"width": 0},
                hovertemplate=f"{hi}: %{{y:{MONEY}}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=fan["p50"].to_numpy(),
            name="median",
            line={"color": STRATEGY, "width": 1.8},
            hovertemplate=f"median: %{{y:{MONEY}}}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_hline(y=result.init_cash, line={"color": "grey", "width": 0.8}, row=1, col=1)
    fig.add_trace(
        go.Histogram(
            x=result.paths["max_drawdown"].to_numpy(),
            name="max drawdown",
            marker={"color": SELL},
            opacity=0.75,
            nbinsx=50,
            hovertemplate="max drawdown %{x}<br>%{y} paths<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    fig.add_vline(
        x=-result.dd_threshold,
        line={"color": "black", "dash": "dot"},
        annotation_text=f"P(dd <= -{result.dd_threshold:.0%}) = {result.prob_drawdown:.1%}",
        annotation_position="top left",
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text=unit, row=1, col=1)
    fig.update_yaxes(title_text="equity", type="log", tickformat=",.0f", row=1, col=1)
    fig.update_xaxes(title_text="max drawdown", tickformat=".0%", row=1, col=2)
    fig.update_yaxes(title_text="paths", row=1, col=2)
    head = title or (
        f"Monte Carlo ({result.method}, {len(result.paths):,} paths, seed {result.seed})"
    )
    return layout(fig, head, 460, hovermode="x unified")
