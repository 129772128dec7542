"""A live session's equity from its journal (table ``equity``): one line per strategy, marked at
each decided close, over its drawdown -- the figure of report notebook 12, interactive (the web
app's session page and notebooks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.charts._style import MONEY, PERCENT, layout


def session_equity(rows: Sequence[Mapping[str, Any]]) -> dict[str, pd.Series]:
    """Each strategy's journaled equity snapshots (``net_liquidation`` by ``ts``), in time
    order; the session-wide rows (no strategy) are left out, as report 12 does."""
    curves: dict[str, list[tuple[pd.Timestamp, float]]] = {}
    for r in rows:
        if r.get("strategy"):
            ts = pd.Timestamp(r["ts"])
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            curves.setdefault(str(r["strategy"]), []).append((ts, float(r["net_liquidation"])))
    out = {}
    for name, points in curves.items():
        s = pd.Series([p[1] for p in points], index=pd.DatetimeIndex([p[0] for p in points]))
        out[name] = s.sort_index(kind="stable").rename(name)
    return out


def session_equity_figure(
    rows: Sequence[Mapping[str, Any]], *, title: str = "Equity and drawdown by strategy"
) -> go.Figure:
    """Equity (top) and drawdown from its running peak (bottom) of each strategy of a session,
    from the journal's equity rows (``Journal.rows("equity", sid)``)."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06
    )
    for name, curve in session_equity(rows).items():
        fig.add_trace(
            go.Scatter(
                x=curve.index,
                y=curve.to_numpy(),
                name=name,
                mode="lines",
                legendgroup=name,
                hovertemplate=f"{name}: %{{y:{MONEY}}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        dd = curve / curve.cummax() - 1.0
        fig.add_trace(
            go.Scatter(
                x=dd.index,
                y=dd.to_numpy(),
                name=f"{name} drawdown",
                mode="lines",
                legendgroup=name,
                showlegend=False,
                fill="tozeroy",
                hovertemplate=f"{name}: %{{y:{PERCENT}}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(title_text="equity", tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".1%", row=2, col=1)
    return layout(fig, title, 460)
