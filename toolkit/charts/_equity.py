"""A backtest on one interactive page: equity against a benchmark, drawdown, exposure and the
orders marked on the price, in rows that share one time axis (zoom one, all follow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.analysis.portfolio import close_of, exposures, weights
from toolkit.charts._style import BENCHMARK, BUY, MONEY, SELL, STRATEGY, layout
from toolkit.engine.result import BacktestResult
from toolkit.errors import ConfigError

MAX_LINES = 8  # symbols drawn one by one in the exposure row; a larger book shows its totals


def drawdown(equity: pd.Series, init_cash: float) -> pd.Series:
    """Fall of equity from its running peak (<= 0), the peak starting at ``init_cash``: the
    series whose minimum is :func:`toolkit.metrics.max_drawdown` of the result's returns
    (wealth starts at 1 there, and the first return is measured against the initial cash)."""
    values = equity.to_numpy(dtype=np.float64)
    peak = np.maximum.accumulate(np.maximum(values, init_cash))
    return pd.Series(values / peak - 1.0, index=equity.index, name="drawdown")


def benchmark_equity(
    closes: pd.Series | pd.DataFrame, index: pd.Index, init_cash: float
) -> pd.Series:
    """Buy and hold of ``closes`` (equal weights across columns, rebalanced never) on the
    strategy's bars, starting with ``init_cash`` on the first bar."""
    frame = closes.to_frame() if isinstance(closes, pd.Series) else closes
    frame = frame.astype(np.float64).reindex(index).ffill()
    first = frame.bfill().iloc[0]
    growth = (frame / first).mean(axis=1)
    return (init_cash * growth).rename("benchmark")


def equity_line(curve: pd.Series, name: str, hover: str, *, benchmark: bool = False) -> go.Scatter:
    """An equity curve in money, drawn alike in every figure: the strategy's (1.6 px) or a
    buy and hold's (``benchmark``: grey, 1.2 px); ``hover`` precedes the amount on hover."""
    colour, width = (BENCHMARK, 1.2) if benchmark else (STRATEGY, 1.6)
    return go.Scatter(
        x=curve.index,
        y=curve.to_numpy(),
        name=name,
        line={"color": colour, "width": width},
        hovertemplate=f"{hover}%{{y:{MONEY}}}<extra></extra>",
    )


def closes(bars: pd.DataFrame, result: BacktestResult | None = None) -> pd.DataFrame:
    """The (bars x symbols) closes of one symbol's OHLCV frame or of a (field, symbol) panel,
    checked against ``result`` (:func:`toolkit.analysis.portfolio.close_of`)."""
    if not isinstance(bars.columns, pd.MultiIndex) and "close" in bars.columns:
        name = str(result.positions.columns[0]) if result is not None else "close"
        bars = bars[["close"]].set_axis([name], axis=1)
    return close_of(bars, result)


def _price_symbol(result: BacktestResult, close: pd.DataFrame, symbol: str | None) -> str:
    symbols = [str(c) for c in close.columns]
    if symbol is not None:
        if symbol not in symbols:
            raise ConfigError(
                f"symbol {symbol!r} is not in the backtest; it has {', '.join(symbols)}."
            )
        return symbol
    if len(symbols) == 1 or result.orders.empty:
        return symbols[0]
    counts = result.orders["symbol"].astype(str).value_counts()
    return str(counts.index[0])  # the most traded symbol


def backtest_figure(
    result: BacktestResult,
    bars: pd.DataFrame | None = None,
    *,
    benchmark: pd.Series | pd.DataFrame | None = None,
    symbol: str | None = None,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """Equity (with a benchmark), drawdown, exposure and the orders on the price of one symbol.

    ``bars`` are the bars the backtest ran on (one symbol's OHLCV or a (field, symbol) panel):
    with them the exposure row shows each symbol's weight (position x close / equity; a book of
    more than eight symbols: its long, short, gross and net exposure) and the
    last row the close of ``symbol`` (default: the only or the most traded one) with every
    order of that symbol at its fill time and price. ``benchmark`` is a series of closes (or
    a frame, held equally weighted) bought and held with the initial cash; without it, the
    traded symbols' own buy and hold is shown when ``bars`` are given.
    """
    init = float(result.settings.init_cash)
    equity = result.equity
    close = closes(bars, result) if bars is not None else None
    rows = 4 if close is not None else 3
    heights = [0.45, 0.17, 0.15, 0.23][:rows]
    titles = [
        "equity",
        "drawdown",
        "exposure (fraction of equity)" if close is not None else "position (shares)",
    ]
    sym = _price_symbol(result, close, symbol) if close is not None else None
    if close is not None:
        titles.append(f"{sym}: close and orders")
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=heights,
        subplot_titles=titles,
    )
    name = result.strategy or "strategy"
    fig.add_trace(equity_line(equity, name, f"{name}: "), row=1, col=1)
    bench_closes = benchmark if benchmark is not None else close
    if bench_closes is not None:
        bench = benchmark_equity(bench_closes, equity.index, init)
        if benchmark is not None:
            label = str(getattr(benchmark, "name", None) or "benchmark")
        elif close is not None and close.shape[1] == 1:
            label = f"buy & hold {close.columns[0]}"
        else:
            label = "buy & hold (equal weight)"
        fig.add_trace(equity_line(bench, label, f"{label}: ", benchmark=True), row=1, col=1)
    dd = drawdown(equity, init)
    fig.add_trace(
        go.Scatter(
            x=dd.index,
            y=dd.to_numpy(),
            name="drawdown",
            fill="tozeroy",
            line={"color": SELL, "width": 1},
            hovertemplate="drawdown: %{y:.2%}<extra></extra>",
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    exposure = weights(result, close) if close is not None else result.positions
    unit = ".1%" if close is not None else ",.0f"
    if close is not None and exposure.shape[1] > MAX_LINES:  # a book: its totals, not 100 lines
        exposure = exposures(exposure)[["long", "short", "gross", "net"]]
    for col in exposure.columns:
        fig.add_trace(
            go.Scatter(
                x=exposure.index,
                y=exposure[col].to_numpy(),
                name=str(col),
                mode="lines",
                line={"width": 1, "shape": "hv"},
                hovertemplate=f"{col}: %{{y:{unit}}}<extra></extra>",
                showlegend=False,
            ),
            row=3,
            col=1,
        )
    if close is not None and sym is not None:
        _price_row(fig, result, close, sym)
    fig.update_yaxes(tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(tickformat=unit.replace(".1%", ".0%"), row=3, col=1)
    metrics = result.metrics()
    head = title or (
        f"{name}: total return {metrics['total_return']:.1%}, Sharpe {metrics['sharpe']:.2f}, "
        f"max drawdown {metrics['max_drawdown']:.1%}, {int(metrics['trades'])} trades"
    )
    return layout(fig, head, height or (240 * rows + 60), hovermode="x unified")


def _price_row(fig: go.Figure, result: BacktestResult, close: pd.DataFrame, sym: str) -> None:
    """Close of ``sym`` and its orders: buys as up-triangles, sells as down-triangles, with
    quantity, price, commission and reason in the hover label."""
    column = next(c for c in close.columns if str(c) == sym)
    price = close[column]
    fig.add_trace(
        go.Scatter(
            x=price.index,
            y=price.to_numpy(),
            name=f"{sym} close",
            line={"color": BENCHMARK, "width": 1},
            hovertemplate=f"{sym}: %{{y:{MONEY}}}<extra></extra>",
            showlegend=False,
        ),
        row=4,
        col=1,
    )
    orders = result.orders
    if orders.empty:
        return
    mine = orders[orders["symbol"].astype(str) == sym]
    for side, colour, marker in (("BUY", BUY, "triangle-up"), ("SELL", SELL, "triangle-down")):
        part = mine[mine["side"] == side]
        if part.empty:
            continue
        reason = part["reason"].astype(str) if "reason" in part else pd.Series("", index=part.index)
        custom = np.empty((len(part), 3), dtype=object)  # numbers stay numbers for d3 formats
        custom[:, 0] = part["quantity"].abs().to_numpy(dtype=np.float64)
        custom[:, 1] = part["commission"].to_numpy(dtype=np.float64)
        custom[:, 2] = reason.to_numpy()
        fig.add_trace(
            go.Scatter(
                x=pd.DatetimeIndex(part["time"]),
                y=part["price"].to_numpy(),
                name=side.lower(),
                mode="markers",
                marker={"symbol": marker, "size": 9, "color": colour, "line": {"width": 0.5}},
                customdata=custom,
                hovertemplate=(
                    f"{side.lower()} %{{customdata[0]:,.0f}} @ %{{y:{MONEY}}}"
                    f"<br>commission %{{customdata[1]:{MONEY}}} (%{{customdata[2]}})<extra></extra>"
                ),
            ),
            row=4,
            col=1,
        )
