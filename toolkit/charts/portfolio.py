"""A book's composition over time: weights by symbol (or sector), long/short/gross/net
exposure, and each symbol's contribution to the book's volatility, with the estimators of
:mod:`toolkit.analysis.portfolio` (what the portfolio risk rules saw)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.analysis.portfolio import (
    covariance,
    exposures,
    risk_contributions,
    sector_weights,
    weights,
)
from toolkit.charts._equity import closes
from toolkit.charts._style import layout
from toolkit.engine.result import BacktestResult
from toolkit.errors import ConfigError


def weights_figure(
    result: BacktestResult,
    bars: pd.DataFrame,
    *,
    by: str = "symbol",
    sectors: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Top: each symbol's (``by="sector"``: each sector's) signed weight at every close,
    stacked. Bottom: long, short, gross and net exposure. Fractions of equity."""
    close = closes(bars, result)
    w = weights(result, close)
    if by == "sector":
        parts = sector_weights(w, sectors)
    elif by == "symbol":
        parts = w
    else:
        raise ConfigError(f"by must be 'symbol' or 'sector', not {by!r}.")
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.62, 0.38],
        subplot_titles=(f"weight by {by}", "exposure"),
    )
    for col in parts.columns:
        fig.add_trace(
            go.Scatter(
                x=parts.index,
                y=parts[col].to_numpy(),
                name=str(col),
                stackgroup="weights",
                line={"width": 0.5},
                hovertemplate=f"{col}: %{{y:.1%}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    ex = exposures(w)
    for col, dash in (("long", "solid"), ("short", "solid"), ("gross", "dot"), ("net", "dash")):
        fig.add_trace(
            go.Scatter(
                x=ex.index,
                y=ex[col].to_numpy(),
                name=col,
                line={"width": 1.2, "dash": dash},
                hovertemplate=f"{col}: %{{y:.1%}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(tickformat=".0%")
    head = title or f"{result.strategy or 'book'}: weights of {close.shape[1]} symbols"
    return layout(fig, head, 620, hovermode="x unified")


def risk_contributions_over_time(
    result: BacktestResult, bars: pd.DataFrame, *, window: int = 250, points: int = 250
) -> pd.DataFrame:
    """Each symbol's contribution to the book's annualised volatility (Euler decomposition,
    :func:`toolkit.analysis.portfolio.risk_contributions`) at ``points`` bars spread evenly
    from the first bar with ``window`` returns behind it to the last; rows sum to the book's
    volatility at that bar."""
    close = closes(bars, result)
    w = weights(result, close)
    n = len(close)
    if n <= window:
        raise ConfigError(
            f"the backtest has {n} bars; risk contributions need more than the window of "
            f"{window} returns: pass a shorter window."
        )
    at = np.unique(np.linspace(window, n - 1, max(1, points)).round().astype(np.int64))
    rows = []
    for b in at:
        cov = covariance(close, int(b), window)
        rc = risk_contributions(w.iloc[int(b)], cov, result.settings.periods_per_year)
        rows.append(rc["contribution"].to_numpy())
    return pd.DataFrame(rows, index=close.index[at], columns=close.columns)


def risk_figure(
    result: BacktestResult,
    bars: pd.DataFrame,
    *,
    window: int = 250,
    points: int = 250,
    title: str | None = None,
) -> go.Figure:
    """Left: contributions to the book's annualised volatility over time, stacked (their sum
    is the volatility). Right: the last bar's weight and share of risk per symbol."""
    contrib = risk_contributions_over_time(result, bars, window=window, points=points)
    close = closes(bars, result)
    last = risk_contributions(
        weights(result, close).iloc[-1],
        covariance(close, -1, window),
        result.settings.periods_per_year,
    )
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.64, 0.36],
        horizontal_spacing=0.1,
        subplot_titles=(
            "contribution to annualised volatility",
            f"last bar ({close.index[-1]:%Y-%m-%d}): weight and share of risk",
        ),
    )
    for col in contrib.columns:
        fig.add_trace(
            go.Scatter(
                x=contrib.index,
                y=contrib[col].to_numpy(),
                name=str(col),
                stackgroup="risk",
                line={"width": 0.5},
                hovertemplate=f"{col}: %{{y:.2%}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    symbols = [str(s) for s in last.index]
    for col, colour in (("weight", "#9ecae1"), ("share", "#d73027")):
        fig.add_trace(
            go.Bar(
                x=symbols,
                y=last[col].to_numpy(),
                name=f"{col} (last bar)",
                marker={"color": colour},
                hovertemplate=f"%{{x}} {col}: %{{y:.1%}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(tickformat=".0%")
    head = title or f"{result.strategy or 'book'}: risk contributions ({window}-bar covariance)"
    return layout(fig, head, 460, barmode="group")
