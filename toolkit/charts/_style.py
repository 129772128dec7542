"""What every chart shares: number formats for hover labels and axes, and the base layout.

A metric's format follows its unit: fractions (returns, drawdowns, exposure, win rate) as
percentages, ratios with two or three decimals, money with thousands separators. Hover labels
use d3-format strings, as plotly does (https://plotly.com/python/hover-text-and-formatting/).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

MONEY = ",.2f"
PERCENT = ".2%"
RATIO = ".3f"

# metrics the engine, the sweep and the walk-forward report as fractions of 1
FRACTIONS = frozenset(
    {
        "total_return",
        "cagr",
        "max_drawdown",
        "win_rate",
        "exposure",
        "oos_cagr",
        "is_cagr",
        "oos_max_drawdown",
        "volatility",
    }
)
MONEY_METRICS = frozenset({"final_equity", "avg_trade_pnl", "commissions"})


def metric_format(metric: str) -> str:
    """The d3 format of ``metric``'s values (percent, money or a ratio)."""
    if metric in FRACTIONS:
        return PERCENT
    if metric in MONEY_METRICS:
        return MONEY
    return RATIO


def layout(fig: go.Figure, title: str, height: int, **extra: Any) -> go.Figure:
    """The toolkit's layout: a title, white template, legend above the plot, unified hover."""
    top = 10.0 / height  # title 10 px below the top edge, the legend under it
    fig.update_layout(
        title={
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "yref": "container",
            "y": 1 - top,
            "yanchor": "top",
        },
        template="plotly_white",
        height=height,
        margin={"l": 70, "r": 30, "t": 105, "b": 40},
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "top",
            "y": 1 - 4.2 * top,
            "x": 0.0,
        },
        **extra,
    )
    return fig


PALETTE = (  # plotly's default qualitative colours, for pairing a fit with its data
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
    "#ff97ff",
    "#fecb52",
)
BUY = "#1a9850"
SELL = "#d73027"
STRATEGY = "#1f77b4"
BENCHMARK = "#7f7f7f"
