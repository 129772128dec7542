"""The backtest page as a static matplotlib figure, for e-mail and PDF (PNG/SVG/PDF through
``fig.savefig``): the same rows as :func:`toolkit.charts.backtest_figure` from the same
series (equity and benchmark, drawdown, exposure, orders on the price), without plotly or a
browser engine (kaleido is not a dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from toolkit.analysis.portfolio import weights
from toolkit.charts._equity import _price_symbol, benchmark_equity, closes, drawdown
from toolkit.charts._style import BENCHMARK, BUY, SELL, STRATEGY
from toolkit.engine.result import BacktestResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def backtest_static(
    result: BacktestResult,
    bars: pd.DataFrame | None = None,
    *,
    benchmark: pd.Series | pd.DataFrame | None = None,
    symbol: str | None = None,
    title: str | None = None,
) -> Figure:
    """Matplotlib figure of :func:`toolkit.charts.backtest_figure`'s rows (same arguments);
    save it with ``fig.savefig("run.png", dpi=150)``."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    init = float(result.settings.init_cash)
    close = closes(bars, result) if bars is not None else None
    rows = 4 if close is not None else 3
    fig, axes = plt.subplots(
        rows,
        1,
        figsize=(11, 2.4 * rows + 1),
        sharex=True,
        height_ratios=[3.0, 1.2, 1.0, 1.6][:rows],
    )
    name = result.strategy or "strategy"
    eq = result.equity
    axes[0].plot(eq.index, eq.to_numpy(), color=STRATEGY, lw=1.4, label=name)
    bench_closes = benchmark if benchmark is not None else close
    if bench_closes is not None:
        bench = benchmark_equity(bench_closes, eq.index, init)
        label = (
            str(getattr(benchmark, "name", None) or "benchmark")
            if benchmark is not None
            else "buy & hold"
        )
        axes[0].plot(bench.index, bench.to_numpy(), color=BENCHMARK, lw=1.0, label=label)
    axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes[0].set_ylabel("equity")
    axes[0].legend(loc="upper left", fontsize=8)
    dd = drawdown(eq, init)
    axes[1].fill_between(dd.index, dd.to_numpy(), 0.0, color=SELL, alpha=0.4, lw=0)
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[1].set_ylabel("drawdown")
    exposure = weights(result, close) if close is not None else result.positions
    for col in exposure.columns:
        axes[2].step(exposure.index, exposure[col].to_numpy(), where="post", lw=0.9, label=str(col))
    if close is not None:
        axes[2].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[2].set_ylabel("exposure" if close is not None else "position")
    if close is not None:
        sym = _price_symbol(result, close, symbol)
        column = next(c for c in close.columns if str(c) == sym)
        axes[3].plot(close.index, close[column].to_numpy(), color=BENCHMARK, lw=0.9)
        orders = result.orders
        mine = orders[orders["symbol"].astype(str) == sym] if len(orders) else orders
        for side, colour, marker in (("BUY", BUY, "^"), ("SELL", SELL, "v")):
            part = mine[mine["side"] == side] if len(mine) else mine
            if len(part):
                axes[3].scatter(
                    pd.DatetimeIndex(part["time"]),
                    part["price"].to_numpy(dtype=np.float64),
                    marker=marker,
                    color=colour,
                    s=28,
                    zorder=3,
                    label=side.lower(),
                )
        axes[3].set_ylabel(f"{sym} close")
    m = result.metrics()
    fig.suptitle(
        title
        or f"{name}: total return {m['total_return']:.1%}, Sharpe {m['sharpe']:.2f}, "
        f"max drawdown {m['max_drawdown']:.1%}, {int(m['trades'])} trades",
        fontsize=11,
    )
    fig.tight_layout()
    return fig
