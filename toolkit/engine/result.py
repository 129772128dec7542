"""Backtest output: equity, returns, positions, orders and trades as pandas objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toolkit import metrics
from toolkit.engine.settings import EngineSettings


@dataclass(frozen=True)
class BacktestResult:
    """Everything one simulation produced. ``returns`` are equity returns per bar, the first
    measured against ``init_cash``; ``trades`` are round trips (open ones flagged ``is_open``).
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

    @property
    def closed_trades(self) -> pd.DataFrame:
        return self.trades[~self.trades["is_open"]]

    def metrics(self) -> dict[str, float]:
        """Headline statistics, returns-based ones on the same definitions as quantstats."""
        r = self.returns
        p = self.settings.periods_per_year
        closed = self.closed_trades
        return {
            "total_return": metrics.total_return(r),
            "cagr": metrics.cagr(r, p),
            "sharpe": metrics.sharpe(r, p),
            "sortino": metrics.sortino(r, p),
            "max_drawdown": metrics.max_drawdown(r),
            "trades": float(len(closed)),
            "win_rate": metrics.win_rate(closed["pnl"]),
            "avg_trade_pnl": metrics.average_trade_pnl(closed["pnl"]),
            "exposure": metrics.exposure(self.positions),
            "commissions": float(self.orders["commission"].sum()),
            "final_equity": float(self.equity.iloc[-1]),
        }

    def summary(self) -> pd.Series:
        """Metrics as a Series, for printing or notebooks."""
        return pd.Series(self.metrics(), name=self.strategy or "backtest")


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: np.array([], dtype=np.float64) for c in columns})
