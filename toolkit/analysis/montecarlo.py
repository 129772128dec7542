"""Monte Carlo of a backtest: how final equity, CAGR and drawdowns vary under resampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from toolkit.analysis._mc_kernels import (
    BOOTSTRAP,
    N_PATH_STATS,
    SHUFFLE,
    STATIONARY,
    simulate_paths_nb,
)
from toolkit.engine.result import BacktestResult
from toolkit.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from plotly.graph_objects import Figure

Method = Literal["trade_shuffle", "trade_bootstrap", "block_bootstrap"]
_METHODS = {"trade_shuffle": SHUFFLE, "trade_bootstrap": BOOTSTRAP, "block_bootstrap": STATIONARY}
_STATS = ("final_equity", "cagr", "max_drawdown", "longest_drawdown", "hit_drawdown")


@dataclass(frozen=True)
class MonteCarloResult:
    """Per-path statistics, their percentiles, and equity percentiles over time (fan)."""

    method: str
    paths: pd.DataFrame
    fan: pd.DataFrame
    init_cash: float
    dd_threshold: float
    seed: int

    @property
    def prob_drawdown(self) -> float:
        """Probability that a path's max drawdown reaches ``dd_threshold``."""
        return float(self.paths["hit_drawdown"].mean())

    def plot(self, *, title: str | None = None) -> Figure:
        """Interactive figure: the equity percentile fan and the paths' drawdowns
        (:func:`toolkit.charts.monte_carlo_figure`)."""
        from toolkit.charts import monte_carlo_figure

        return monte_carlo_figure(self, title=title)

    def percentiles(self, q: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
        """Percentiles of final equity, CAGR, max drawdown and longest drawdown."""
        cols = ["final_equity", "cagr", "max_drawdown", "longest_drawdown"]
        return self.paths[cols].quantile(list(q)).rename_axis("percentile")


def trade_returns(result: BacktestResult) -> pd.Series:
    """Each closed trade's P&L as a fraction of account equity just before it was entered."""
    trades = result.closed_trades
    if trades.empty:
        raise ConfigError("the backtest closed no trades; trade resampling needs some.")
    eq = result.equity
    before = eq.shift(1).fillna(result.settings.init_cash)
    base = before.reindex(trades["entry_time"]).to_numpy()
    return pd.Series(
        trades["pnl"].to_numpy() / base, index=trades["exit_time"], name="trade_return"
    )


def monte_carlo(
    result: BacktestResult,
    method: Method = "block_bootstrap",
    *,
    n_paths: int = 10_000,
    mean_block: float = 20.0,
    seed: int = 0,
    dd_threshold: float = 0.2,
    fan_points: int = 200,
) -> MonteCarloResult:
    """Resample a backtest's returns into ``n_paths`` alternative histories.

    * ``trade_shuffle``: the same closed trades in random order (final equity is unchanged;
      drawdowns are not).
    * ``trade_bootstrap``: trades drawn with replacement.
    * ``block_bootstrap``: the stationary bootstrap of per-bar returns, which keeps volatility
      clustering and short-range dependence within blocks of mean length ``mean_block`` bars.

    Paths have the length of the source; CAGR annualises with the source's trades (or bars)
    per year. Seeded and reproducible regardless of thread count.
    """
    if method not in _METHODS:
        raise ConfigError(f"method {method!r} is not one of {', '.join(_METHODS)}.")
    if n_paths < 1 or mean_block < 1 or not 0 < dd_threshold < 1:
        raise ConfigError("need n_paths >= 1, mean_block >= 1 and 0 < dd_threshold < 1.")
    years = len(result.returns) / result.settings.periods_per_year
    if method == "block_bootstrap":
        source = result.returns.to_numpy(dtype=np.float64)
        periods = result.settings.periods_per_year
    else:
        source = trade_returns(result).to_numpy(dtype=np.float64)
        periods = len(source) / years
    length = len(source)
    steps = np.unique(np.linspace(1, length, min(fan_points, length)).round().astype(np.int64))
    stats = np.empty((n_paths, N_PATH_STATS))
    fan = np.empty((n_paths, len(steps)))
    simulate_paths_nb(
        np.ascontiguousarray(source),
        n_paths,
        length,
        _METHODS[method],
        float(mean_block),
        int(seed),
        float(periods),
        float(dd_threshold),
        steps,
        stats,
        fan,
    )
    init = result.settings.init_cash
    paths = pd.DataFrame(stats, columns=list(_STATS))
    paths["final_equity"] *= init
    paths["longest_drawdown"] = paths["longest_drawdown"].astype(np.int64)
    paths["hit_drawdown"] = paths["hit_drawdown"].astype(bool)
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    fan_frame = pd.DataFrame(
        np.quantile(fan * init, qs, axis=0).T, index=steps, columns=[f"p{int(q * 100)}" for q in qs]
    )
    fan_frame.index.name = "step"
    return MonteCarloResult(method, paths, fan_frame, init, dd_threshold, seed)


def fan_chart(mc: MonteCarloResult, ax: Axes | None = None) -> Axes:
    """Equity percentiles across paths (5-95 and 25-75 bands, median line)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 5))
    f = mc.fan
    ax.fill_between(f.index, f["p5"], f["p95"], alpha=0.2, color="tab:blue", label="5-95%")
    ax.fill_between(f.index, f["p25"], f["p75"], alpha=0.35, color="tab:blue", label="25-75%")
    ax.plot(f.index, f["p50"], color="tab:blue", label="median")
    ax.axhline(mc.init_cash, color="grey", linewidth=0.8)
    unit = "trades" if mc.method.startswith("trade") else "bars"
    ax.set_xlabel(unit)
    ax.set_ylabel("equity")
    ax.set_yscale("log")
    ax.set_title(f"Monte Carlo ({mc.method}, {len(mc.paths):,} paths, seed {mc.seed})")
    ax.legend(loc="upper left")
    return ax
