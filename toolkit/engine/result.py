"""Backtest output: equity, returns, positions, orders and trades as pandas objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from toolkit import metrics
from toolkit.engine.settings import EngineSettings

if TYPE_CHECKING:
    from plotly.graph_objects import Figure


class MetricInputs(NamedTuple):
    """The parts of a result :meth:`BacktestResult.metrics` reads."""

    returns: pd.Series | np.ndarray
    closed_pnl: pd.Series | np.ndarray  # net P&L of each closed trade, in trade order
    positions: pd.DataFrame | np.ndarray
    commissions: float  # sum over orders
    final_equity: float


# the pandas fields a result can leave to build on first read
LAZY_FIELDS = ("equity", "returns", "cash", "positions", "targets", "orders", "trades", "guards")
GUARD_COLUMNS = ("time", "bar", "symbol", "rules", "target_position", "sent")


def _no_guards() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in GUARD_COLUMNS})


@dataclass(frozen=True)
class BacktestResult:
    """Everything one simulation produced. ``returns`` are equity returns per bar, the first
    measured against ``init_cash``; ``trades`` are round trips (open ones flagged ``is_open``);
    ``guards`` the decisions a risk rule cut, blocked or held back (time, bar, symbol, the
    rules' names joined by "+", the position the target wanted and the order's shares sent).

    The engine hands its arrays over unbuilt (:meth:`deferred`): each pandas field is built
    on its first read, since building them all costs ~7x the simulation itself and most
    callers (sweeps, metrics, optimisers) read only a few.
    """

    equity: pd.Series
    returns: pd.Series
    cash: pd.Series
    positions: pd.DataFrame
    targets: pd.DataFrame
    orders: pd.DataFrame
    trades: pd.DataFrame
    settings: EngineSettings
    strategy: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    guards: pd.DataFrame = field(default_factory=_no_guards)

    @classmethod
    def deferred(
        cls,
        build: Callable[[str], Any],
        settings: EngineSettings,
        strategy: str = "",
        params: dict[str, Any] | None = None,
    ) -> BacktestResult:
        """A result whose pandas fields (:data:`LAZY_FIELDS`) ``build(name)`` makes on first
        read; ``build`` must be picklable for the result to be."""
        result = cls.__new__(cls)
        for name, value in (
            ("settings", settings),
            ("strategy", strategy),
            ("params", {} if params is None else params),
            ("_build", build),
        ):
            object.__setattr__(result, name, value)
        return result

    if not TYPE_CHECKING:  # only reached for a field not built yet; mypy sees plain fields

        def __getattr__(self, name: str) -> Any:
            build = self.__dict__.get("_build")
            if build is None or name not in LAZY_FIELDS:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            value = build(name)
            object.__setattr__(self, name, value)
            return value

    @property
    def closed_trades(self) -> pd.DataFrame:
        return self.trades[~self.trades["is_open"]]

    def metrics(self) -> dict[str, float]:
        """Headline statistics, returns-based ones on the same definitions as quantstats."""
        m = self._metric_inputs()
        r, p, pnl = m.returns, self.settings.periods_per_year, m.closed_pnl
        return {
            "total_return": metrics.total_return(r),
            "cagr": metrics.cagr(r, p),
            "sharpe": metrics.sharpe(r, p),
            "sortino": metrics.sortino(r, p),
            "max_drawdown": metrics.max_drawdown(r),
            "trades": float(len(pnl)),
            "win_rate": metrics.win_rate(pnl),
            "avg_trade_pnl": metrics.average_trade_pnl(pnl),
            "exposure": metrics.exposure(m.positions),
            "commissions": m.commissions,
            "final_equity": m.final_equity,
        }

    def _metric_inputs(self) -> MetricInputs:
        """What :meth:`metrics` reads: for a result the engine made, straight from its
        arrays (the values its frames hold, without building them: ~0.1 ms, not ~2 ms);
        for one built from fields (e.g. by ``replace``), from the fields."""
        fast = getattr(self.__dict__.get("_build"), "metric_inputs", None)
        if fast is not None:
            inputs: MetricInputs = fast()
            return inputs
        closed = self.closed_trades
        return MetricInputs(
            returns=self.returns,
            closed_pnl=closed["pnl"],
            positions=self.positions,
            commissions=float(self.orders["commission"].sum()),
            final_equity=float(self.equity.iloc[-1]),
        )

    def summary(self) -> pd.Series:
        """Metrics as a Series, for printing or notebooks."""
        return pd.Series(self.metrics(), name=self.strategy or "backtest")

    def plot(self, bars: pd.DataFrame | None = None, **options: Any) -> Figure:
        """Interactive figure: equity against a benchmark, drawdown, exposure, and (given the
        ``bars`` it ran on) the orders on the price; see :func:`toolkit.charts.backtest_figure`
        for ``options`` (benchmark, symbol, title, height)."""
        from toolkit.charts import backtest_figure

        return backtest_figure(self, bars, **options)


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: np.array([], dtype=np.float64) for c in columns})
