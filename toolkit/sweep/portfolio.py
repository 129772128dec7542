"""``sweep_portfolio``: evaluate a parameter grid on several symbols traded as one book.

:func:`toolkit.sweep.sweep` scores each symbol on its own at full weight, in fused numba
kernels. A multi-asset strategy is judged as the portfolio it trades (sleeves, shared cash,
rebalancing), so each parameter set here is one run of the engine's ``backtest`` on the
whole panel: the same numbers ``toolkit.backtest`` gives, one engine run per set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit.engine._bars import as_panel, bar_arrays
from toolkit.engine.backtest import backtest
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError
from toolkit.risk import RiskLimits
from toolkit.sweep._kernels import METRICS
from toolkit.sweep.grid import ParamGrid, make_grid

PORTFOLIO = "portfolio"


def sweep_portfolio(
    bars: pd.DataFrame,
    strategy: str,
    grid: ParamGrid | Mapping[str, Any],
    settings: EngineSettings | None = None,
    weights: Sequence[float] | None = None,
    risk: RiskLimits | None = None,
) -> pd.DataFrame:
    """One row per parameter set: the parameters, ``symbol = "portfolio"`` and the metrics
    of ``sweep`` (total_return, cagr, sharpe, sortino, max_drawdown, trades, win_rate,
    exposure, commissions, final_equity) of the engine's backtest on all of ``bars``
    with ``weights`` (default equal sleeves) and the ``risk`` limits."""
    pgrid = grid if isinstance(grid, ParamGrid) else make_grid(strategy, grid)
    if pgrid.strategy != strategy:
        raise ConfigError(f"the grid was built for {pgrid.strategy!r}, not {strategy!r}.")
    if len(pgrid) == 0:
        raise ConfigError("the grid is empty after constraints; widen the axes.")
    bar_arrays(as_panel(bars))  # the engine's input gate, once for the whole grid
    params = pgrid.frame()
    rows = []
    for values in params.to_dict(orient="records"):
        named = {str(k): v for k, v in values.items()}
        m = backtest(bars, strategy, named, settings, weights, risk).metrics()
        rows.append([m[k] for k in METRICS])
    metrics = pd.DataFrame(rows, columns=list(METRICS), index=params.index)
    metrics["trades"] = metrics["trades"].astype(np.int64)
    out = pd.concat(
        [params, pd.Series(PORTFOLIO, index=params.index, name="symbol"), metrics], axis=1
    )
    out.attrs["interrupted"] = False
    out.attrs["strategy"] = pgrid.strategy
    out.attrs["dropped_by_constraints"] = pgrid.dropped
    return out.reset_index(drop=True)
