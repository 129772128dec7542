"""Parameter sensitivity and stress: is the edge a plateau or a spike, and what breaks it?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from toolkit.engine import backtest
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError
from toolkit.risk import RiskLimits


def response(
    results: pd.DataFrame, params: str | Sequence[str], metric: str = "sharpe", agg: str = "mean"
) -> pd.DataFrame | pd.Series:
    """``metric`` as a function of one parameter (Series) or two (DataFrame: rows = first).

    Other parameters are aggregated with ``agg`` (mean, median, max ...).
    """
    names = [params] if isinstance(params, str) else list(params)
    missing = [c for c in [*names, metric] if c not in results.columns]
    if missing or not 1 <= len(names) <= 2:
        raise ConfigError(
            f"response needs 1 or 2 parameter columns and a metric; missing {missing}."
        )
    grouped = results.groupby(names)[metric].agg(agg)
    return grouped if len(names) == 1 else grouped.unstack(names[1])


def plateau_score(
    results: pd.DataFrame,
    params: Sequence[str],
    metric: str = "sharpe",
    *,
    radius: int = 2,
    tolerance: float = 0.25,
) -> dict[str, Any]:
    """How much of the best point's neighbourhood keeps its performance.

    Neighbours are grid points within ``radius`` steps of the optimum on every parameter axis
    (steps counted in each axis's sorted distinct values). The score is the share of
    neighbours whose ``metric`` is at least ``best - tolerance * |best|``: 1 is a broad
    plateau, values near 0 a lone spike that will not survive out of sample.
    """
    cols = list(params)
    data = results.dropna(subset=[metric])
    if data.empty:
        raise ConfigError(f"no rows with a finite {metric}.")
    best = data.iloc[int(np.argmax(data[metric].to_numpy()))]
    position = {c: np.searchsorted(np.sort(data[c].unique()), data[c].to_numpy()) for c in cols}
    best_pos = {c: int(np.searchsorted(np.sort(data[c].unique()), best[c])) for c in cols}
    near = np.ones(len(data), dtype=bool)
    for c in cols:
        near &= np.abs(position[c] - best_pos[c]) <= radius
    near &= ~(data.index == best.name)
    neighbours = data.loc[near, metric]
    floor = best[metric] - tolerance * abs(best[metric])
    score = float((neighbours >= floor).mean()) if len(neighbours) else float("nan")
    return {
        "best": {c: best[c] for c in cols},
        "best_value": float(best[metric]),
        "neighbours": len(neighbours),
        "score": score,
        "neighbour_median": float(neighbours.median()) if len(neighbours) else float("nan"),
    }


def _jitter(bars: pd.DataFrame, sigma: float, rng: np.random.Generator) -> pd.DataFrame:
    """Multiply each bar's OHLC by one lognormal factor (keeps every bar consistent); in a
    (field, symbol) panel each symbol's bar gets its own factor."""
    out = bars.copy()
    if isinstance(bars.columns, pd.MultiIndex):
        shape = (len(bars), pd.DataFrame(bars["close"]).shape[1])
        factors = np.exp(rng.normal(0.0, sigma, shape))
        for col in ("open", "high", "low", "close"):
            out.loc[:, col] = pd.DataFrame(bars[col]).to_numpy() * factors
        return out
    factor = np.exp(rng.normal(0.0, sigma, len(bars)))
    for col in ("open", "high", "low", "close"):
        out[col] = bars[col].to_numpy() * factor
    return out


def stress(
    bars: pd.DataFrame,
    strategy: str,
    params: Mapping[str, Any],
    settings: EngineSettings,
    *,
    commission_factor: float = 2.0,
    extra_slippage_bps: float = 5.0,
    noise_bps: float = 10.0,
    noise_runs: int = 20,
    seed: int = 0,
    weights: Sequence[float] | None = None,
    risk: RiskLimits | None = None,
) -> pd.DataFrame:
    """Metrics of one parameter set under cost and data stress, next to the baseline.

    Scenarios: baseline; commissions x ``commission_factor``; slippage + ``extra_slippage_bps``;
    both; and ``noise_runs`` runs on prices jittered by lognormal noise of ``noise_bps``
    (reported as their mean and worst). Signals are recomputed on the jittered prices. Every
    run is a backtest with ``weights`` and the ``risk`` limits.
    """
    cases = {
        "baseline": settings,
        f"commission x{commission_factor:g}": replace(
            settings, commission=settings.commission.scaled(commission_factor)
        ),
        f"slippage +{extra_slippage_bps:g} bps": replace(
            settings, slippage_bps=settings.slippage_bps + extra_slippage_bps
        ),
    }
    cases["both"] = replace(
        cases[f"commission x{commission_factor:g}"],
        slippage_bps=settings.slippage_bps + extra_slippage_bps,
    )
    rows = {
        name: backtest(bars, strategy, params, s, weights, risk).metrics()
        for name, s in cases.items()
    }
    rng = np.random.default_rng(seed)
    noisy = pd.DataFrame(
        [
            backtest(
                _jitter(bars, noise_bps / 1e4, rng), strategy, params, settings, weights, risk
            ).metrics()
            for _ in range(noise_runs)
        ]
    )
    rows[f"price noise {noise_bps:g} bps (mean of {noise_runs})"] = {
        str(k): float(v) for k, v in noisy.mean().items()
    }
    worst = noisy.iloc[int(np.argmin(noisy["sharpe"].fillna(np.inf).to_numpy()))]
    rows[f"price noise {noise_bps:g} bps (worst)"] = {str(k): float(v) for k, v in worst.items()}
    table = pd.DataFrame(rows).T
    keep = [
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "trades",
        "win_rate",
        "commissions",
        "final_equity",
    ]
    table = table[keep]
    base = float(table["sharpe"].iloc[0])  # the baseline row
    table["sharpe_change"] = table["sharpe"] / base - 1.0
    return table
