"""The honest scorecard of an ML config: every model and hyper-parameter set of its
``[grid]`` is a trial, each walk-forward backtested by the engine with the config's costs;
the best by Sharpe is deflated by the number of trials (DSR, Bailey & Lopez de Prado 2014)
and the probability that picking it overfits is estimated by CSCV (PBO, Bailey et al. 2017).

All trials are scored on the same bars: from the first bar every trial has a model (the
walk-forward's out-of-sample stretch) to the end; buy-and-hold of the same symbols on the same
bars is reported beside them, so "beats costs" and "beats holding" are both visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from toolkit.analysis.overfitting import (
    DeflatedSharpe,
    PBOResult,
    deflated_sharpe,
    probability_of_backtest_overfitting,
)
from toolkit.config import RunConfig
from toolkit.engine.backtest import backtest
from toolkit.ml.artefact import load_bars, require_ml, symbol_arrays
from toolkit.ml.strategy import ml_params
from toolkit.ml.walkforward import walk_forward
from toolkit.sweep import make_grid


@dataclass(frozen=True)
class Study:
    """Trials (one row per parameter set: params, Sharpe, return, trades, costs), the chosen
    trial, its DSR, the PBO over all trials and buy-and-hold on the same bars."""

    trials: pd.DataFrame
    chosen: int
    dsr: DeflatedSharpe
    pbo: PBOResult | None
    hold_sharpe: float
    start: pd.Timestamp
    end: pd.Timestamp
    periods_per_year: float

    def summary(self) -> dict[str, Any]:
        best = self.trials.iloc[self.chosen]
        return {
            "trials": len(self.trials),
            "chosen": {k: _num(v) for k, v in best.items()},
            "oos_start": str(self.start.date()),
            "oos_end": str(self.end.date()),
            "sharpe": float(best["sharpe"]),
            "deflated_sharpe": self.dsr.dsr,
            "sharpe_threshold_annual": self.dsr.sharpe_threshold * math.sqrt(self.periods_per_year),
            "pbo": None if self.pbo is None else self.pbo.pbo,
            "buy_and_hold_sharpe": self.hold_sharpe,
            "beats_costs": bool(best["total_return"] > 0),
            "beats_holding": bool(best["sharpe"] > self.hold_sharpe),
        }


def _num(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def study(cfg: RunConfig, pbo_splits: int | None = None) -> Study:
    """Run every trial: each set of ``cfg``'s grid and the config's own set."""
    require_ml(cfg)
    bars, _ = load_bars(cfg)
    if cfg.grid is not None:
        axes = {**{k: [v] for k, v in cfg.params.items()}, **cfg.grid.axes}
        frame = make_grid(cfg.strategy, axes, where=cfg.grid.where).frame()
        sets = [
            {str(k): _num(v) for k, v in row.items()} for row in frame.to_dict(orient="records")
        ]
    else:
        sets = []
    own = {k: _num(v) for k, v in cfg.params.items()}
    if all(any(float(s[k]) != float(v) for k, v in own.items()) for s in sets):
        sets.append(own)  # the config's own set was tried too: it counts
    results = [backtest(bars, cfg.strategy, s, cfg.engine, cfg.weights, cfg.risk) for s in sets]
    # the common out-of-sample stretch: from the first bar every trial holds a model
    first = max(_first_model_bar(bars, s) for s in sets)
    index = pd.DatetimeIndex(bars.index[first:])
    rets = pd.DataFrame({i: r.returns.reindex(index).fillna(0.0) for i, r in enumerate(results)})
    ppy = _periods_per_year(index)
    rows = []
    for s, r, col in zip(sets, results, rets.columns, strict=True):
        x = rets[col].to_numpy()
        sd = x.std(ddof=1)
        rows.append({
            **s,
            "sharpe": float(x.mean() / sd * math.sqrt(ppy)) if sd > 0 else 0.0,
            "total_return": float(np.prod(1 + x) - 1),
            "orders": int((r.orders["time"] >= index[0]).sum()),
            "commission": float(r.orders.loc[r.orders["time"] >= index[0], "commission"].sum()),
        })  # fmt: skip
    trials = pd.DataFrame(rows)
    chosen = int(trials["sharpe"].to_numpy().argmax())
    per_period = trials["sharpe"].to_numpy() / math.sqrt(ppy)
    variance = float(per_period.var(ddof=1)) if len(per_period) > 1 else 0.0
    dsr = deflated_sharpe(rets.iloc[:, chosen].to_numpy(), len(trials), variance)
    pbo = None
    if len(trials) >= 2:
        splits = pbo_splits or cfg.sensitivity.pbo_splits
        pbo = probability_of_backtest_overfitting(rets.to_numpy(), n_splits=splits)
    close = np.asarray(bars["close"].reindex(index).to_numpy(np.float64))
    hold = np.nan_to_num(close[1:] / close[:-1] - 1.0).mean(axis=1)
    hold_sharpe = float(hold.mean() / hold.std(ddof=1) * math.sqrt(ppy))
    return Study(trials, chosen, dsr, pbo, hold_sharpe, index[0], index[-1], ppy)


def _first_model_bar(bars: pd.DataFrame, values: dict[str, Any]) -> int:
    """The first bar at which every symbol has a model (its fits come from the cache)."""
    p = ml_params(values)
    first = 0
    for sym in bars["close"].columns:
        prob, _ = walk_forward(*symbol_arrays(bars, sym), p)
        have = np.isfinite(prob)
        first = max(first, int(np.argmax(have)) if have.any() else len(have) - 1)
    return first


def _periods_per_year(index: pd.DatetimeIndex) -> float:
    years = (index[-1] - index[0]).days / 365.25
    return len(index) / years if years > 0 else 252.0
