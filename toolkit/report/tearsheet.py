"""quantstats HTML tear sheets for a strategy's returns against a benchmark.

Three quantstats defaults would make the tear sheet disagree with the summary we print, so
they are overridden here:

* ``match_dates=True`` cuts both series to start at the strategy's first non-zero return
  (the first trade, months after the first bar); we pass ``match_dates=False`` so the tear
  sheet covers exactly the bars the summary covers.
* the benchmark is named by ``benchmark_title`` (quantstats otherwise prints "BENCHMARK").
* its EOY returns bar chart puts the year labels at 0..n-1 while pandas draws the bars of a
  DatetimeIndex elsewhere, so with more than ten years labels and bars fall apart
  (quantstats issue #518, PR #515). We draw that chart ourselves, on integer positions,
  and put it where quantstats' template has it.

The report took 6-14 s of every ``make run``, mostly quantstats drawing 14 matplotlib figures
(0.1-0.7 s each) after its metrics table (~1 s of pandas). Charts that repeat another chart or
that we replace are not drawn (see ``LEFT_OUT``), and the stages are reported through
``progress``. Every table -- the numbers -- is quantstats' own, unchanged.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

_EOY_SLOT = "<!-- toolkit: eoy_returns -->"  # quantstats deletes unfilled {{slots}}

# quantstats charts the tear sheet does not draw: template slot -> why
LEFT_OUT = {
    "log_returns": "the cumulative returns chart again, on a log scale",
    "vol_returns": "the cumulative returns chart again, benchmark rescaled to the same volatility",
    "daily_returns": "a scatter of every daily return; the distribution and heatmap say more",
    "rolling_sortino": "moves with the rolling Sharpe chart above it",
    "returns_dist": "return quantiles by period; the monthly distribution chart shows the same",
}
# the quantstats.plots functions behind them (vol_returns is ``returns`` called with
# match_volatility=True), and yearly_returns, whose chart eoy_chart_svg replaces
_NOT_DRAWN = ("log_returns", "daily_returns", "rolling_sortino", "distribution", "yearly_returns")


def _skip(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for a quantstats chart that is not drawn: its slot stays empty."""


@contextmanager
def _charts(plots: ModuleType, progress: Callable[[str], None]) -> Iterator[None]:
    """While quantstats' ``html`` runs: the charts in ``_NOT_DRAWN`` (and the
    volatility-matched returns chart) do nothing, and the first chart drawn says so through
    ``progress`` (the metrics table is done by then)."""
    saved = {name: getattr(plots, name) for name in (*_NOT_DRAWN, "returns")}
    started = False

    def returns(*args: Any, **kwargs: Any) -> Any:
        nonlocal started
        if kwargs.get("match_volatility"):
            return None
        if not started:
            started = True
            progress("tear sheet: quantstats charts (returns, drawdowns, rolling, heatmap)")
        return saved["returns"](*args, **kwargs)

    try:
        for name in _NOT_DRAWN:
            setattr(plots, name, _skip)
        setattr(plots, "returns", returns)  # noqa: B010 (ModuleType declares no such attribute)
        yield
    finally:
        for name, function in saved.items():
            setattr(plots, name, function)


def _naive(series: pd.Series) -> pd.Series:
    """quantstats expects tz-naive indexes; our UTC index is converted at this edge only."""
    out = series.copy()
    if isinstance(out.index, pd.DatetimeIndex) and out.index.tz is not None:
        out.index = out.index.tz_convert("UTC").tz_localize(None)
    return out


def yearly_returns(returns: pd.Series) -> pd.Series:
    """Compounded return of each calendar year, prod(1 + r) - 1, indexed by year."""
    index = pd.DatetimeIndex(returns.index)
    grouped: pd.Series = (1.0 + returns).groupby(index.year).prod() - 1.0
    return grouped


def eoy_chart_svg(
    returns: pd.Series, benchmark: pd.Series | None, strategy_title: str, benchmark_title: str
) -> str:
    """The "EOY Returns" bar chart as inline SVG: one group of bars per calendar year, each
    year's label under its own bars, every year labelled (thinned only past 30 years)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    strat = yearly_returns(returns)
    series = [(strategy_title, strat, "#348dc1")]
    if benchmark is not None:
        series.insert(
            0, (benchmark_title, yearly_returns(benchmark).reindex(strat.index), "#fedd78")
        )
    years = list(strat.index)
    x = np.arange(len(years), dtype=float)
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8, 4))
    try:
        for i, (label, values, color) in enumerate(series):
            offset = (i - (len(series) - 1) / 2) * width
            ax.bar(x + offset, values.to_numpy(float), width, label=label, color=color)
        ax.axhline(float(strat.mean()), ls="--", lw=1.5, color="red")
        ax.axhline(0.0, ls="--", lw=1, color="black")
        step = max(1, math.ceil(len(years) / 30))
        ax.set_xticks(x[::step], [str(y) for y in years[::step]], rotation=90, fontsize=9)
        ax.set_xlim(-0.6, len(years) - 0.4)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.0f}%"))
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
        title = "EOY Returns" + ("  vs Benchmark" if benchmark is not None else "")
        ax.set_title(title, fontweight="bold", fontsize=14)
        if benchmark is not None:
            ax.legend(fontsize=10)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.find("<svg") :]


def _template() -> str:
    """quantstats' own report template, with its EOY chart slot renamed to ours and the
    charts in ``LEFT_OUT`` taken out."""
    import quantstats

    text = (Path(quantstats.__file__).parent / "report.html").read_text(encoding="utf-8")
    for slot in ("eoy_returns", *LEFT_OUT):
        if f'<div id="{slot}">{{{{{slot}}}}}</div>' not in text:
            raise RuntimeError(f"quantstats' report.html has no {slot} chart; pin quantstats")
    for slot in LEFT_OUT:
        text = text.replace(f'<div id="{slot}">{{{{{slot}}}}}</div>', "")
    return text.replace("{{eoy_returns}}", _EOY_SLOT)


def write_tearsheet(
    returns: pd.Series,
    path: Path,
    *,
    benchmark: pd.Series | None = None,
    title: str = "Strategy",
    periods_per_year: int = 252,
    benchmark_title: str | None = None,
    strategy_title: str = "Strategy",
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write quantstats' HTML report for ``returns`` (vs ``benchmark`` returns) to ``path``,
    over exactly the bars of ``returns``, without the charts in ``LEFT_OUT``.
    ``benchmark_title`` defaults to the benchmark series' name; ``progress`` hears each stage
    (the whole takes a few seconds)."""
    say = progress or (lambda _message: None)
    say("tear sheet: loading matplotlib and quantstats")
    import matplotlib

    matplotlib.use("Agg")
    import quantstats as qs

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    path.parent.mkdir(parents=True, exist_ok=True)
    strat = _naive(returns.rename(strategy_title))
    bench = None
    if benchmark is not None:
        name = benchmark.name if isinstance(benchmark.name, str) else None
        benchmark_title = benchmark_title or name or "Benchmark"
        bench = _naive(benchmark.rename(benchmark_title)).reindex(strat.index).fillna(0.0)
    template = path.with_name(f".{path.name}.template.html")
    template.write_text(_template(), encoding="utf-8")
    say("tear sheet: quantstats metrics, EOY and drawdown tables")
    try:
        with warnings.catch_warnings(), _charts(qs.plots, say):
            warnings.simplefilter("ignore")
            qs.reports.html(  # type: ignore[no-untyped-call]
                strat,
                benchmark=bench,
                output=str(path),
                title=title,
                periods_per_year=periods_per_year,
                download_filename=str(path),
                template_path=str(template),
                match_dates=False,
                benchmark_title=benchmark_title,
                strategy_title=strategy_title,
            )
    finally:
        template.unlink(missing_ok=True)
    say("tear sheet: EOY returns chart")
    chart = eoy_chart_svg(strat, bench, strategy_title, benchmark_title or "Benchmark")
    html = path.read_text(encoding="utf-8")
    if _EOY_SLOT not in html:
        raise RuntimeError(f"{path}: quantstats dropped the EOY chart slot; pin quantstats")
    # "CAGR\N{SMALL PERCENT SIGN}" renders as a missing glyph in common browser fonts
    html = html.replace(_EOY_SLOT, chart).replace("CAGR\N{SMALL PERCENT SIGN}", "CAGR %")
    path.write_text(html, encoding="utf-8")
    return path
