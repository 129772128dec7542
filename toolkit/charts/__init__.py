"""Interactive charts of results (plotly): hover for values, drag to zoom, double-click to
reset; shown in JupyterLab and kept, live, in the HTML reports exported from notebooks.

* a backtest: :func:`backtest_figure` (also ``result.plot()``) -- equity against a benchmark,
  drawdown, exposure and the orders on the price, on one shared time axis
* a sweep: :func:`sweep_heatmap` (a metric over two parameters), :func:`sweep_parallel`
  (parallel coordinates over any number of them)
* a walk-forward: :func:`walk_forward_figure` (also ``result.plot()``) -- the folds'
  in-sample and out-of-sample spans under the stitched out-of-sample equity
* a Monte Carlo: :func:`monte_carlo_figure` (also ``result.plot()``) -- percentile fan and the
  distribution of drawdowns
* a portfolio: :func:`weights_figure` (weights by symbol or sector, exposures),
  :func:`risk_figure` (contributions to volatility over time and at the last bar)
* a live session: :func:`session_equity_figure` (equity and drawdown by strategy, from the
  journal)
* options: :func:`payoff_figure` (P&L at expiry and now), :func:`smile_figure`,
  :func:`surface_figure` (also ``surface.plot()``)
* report tables: :func:`table` (percent, money, no row numbers, relative paths)

Static images for e-mail and PDF come from matplotlib: :func:`backtest_static` (the backtest
page), ``toolkit.sweep.heatmap``, ``toolkit.analysis.plot_walk_forward``, ``fan_chart``
(``fig.savefig``). A plotly figure saves as a self-contained page with ``fig.write_html``;
``fig.write_image`` would need kaleido (and a Chrome), which is not a dependency.
"""

from toolkit.charts._equity import backtest_figure, benchmark_equity, drawdown
from toolkit.charts.montecarlo import monte_carlo_figure
from toolkit.charts.options import payoff_figure, smile_figure, surface_figure
from toolkit.charts.portfolio import risk_contributions_over_time, risk_figure, weights_figure
from toolkit.charts.session import session_equity_figure
from toolkit.charts.static import backtest_static
from toolkit.charts.sweep import sweep_heatmap, sweep_parallel
from toolkit.charts.tables import relative_path, table
from toolkit.charts.walkforward import walk_forward_figure

__all__ = [
    "backtest_figure",
    "backtest_static",
    "benchmark_equity",
    "drawdown",
    "monte_carlo_figure",
    "payoff_figure",
    "relative_path",
    "risk_contributions_over_time",
    "risk_figure",
    "session_equity_figure",
    "smile_figure",
    "surface_figure",
    "sweep_heatmap",
    "sweep_parallel",
    "table",
    "walk_forward_figure",
    "weights_figure",
]
