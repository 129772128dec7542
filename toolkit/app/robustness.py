"""The robustness commands: walk-forward optimisation, Monte Carlo and sensitivity of a
configured strategy, run with the config's engine settings, weights and [risk] limits, then
written by :mod:`toolkit.report.robustness`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit import analysis
from toolkit.app.backtest import load_config_bars, load_run_bars
from toolkit.app.progress import Progress, bar_progress
from toolkit.app.run_config import require_grid
from toolkit.config import RunConfig
from toolkit.data import LoadedFile
from toolkit.engine import backtest
from toolkit.errors import ConfigError
from toolkit.report import robustness as written
from toolkit.sweep import ParamGrid, make_grid, sweep, sweep_portfolio

Outcome = tuple[dict[str, Any], Path, dict[str, Path]]


def _grid(cfg: RunConfig, command: str) -> ParamGrid:
    g = require_grid(cfg, command)
    # parameters without an axis keep the config's values, not the strategy's defaults
    axes = {**{k: [v] for k, v in cfg.params.items()}, **g.axes}
    return make_grid(cfg.strategy, axes, sample=g.sample, seed=g.seed, where=g.where)


def _finish(
    cfg: RunConfig,
    out: Path,
    files: dict[str, Path],
    summary: dict[str, Any],
    sources: tuple[LoadedFile, ...],
) -> Outcome:
    files = written.write_summary(
        out,
        files,
        summary,
        config=cfg.raw,
        resolved={"strategy": cfg.strategy, "params": cfg.params, "engine": asdict(cfg.engine)},
        data_files=[s.record() for s in sources],
    )
    return summary, out, files


def _headless() -> None:
    import matplotlib

    matplotlib.use("Agg")


def run_walkforward(
    cfg: RunConfig, reports_root: Path, progress: Progress | None = None
) -> Outcome:
    """Walk-forward optimisation over [grid] with [walkforward] settings; with ``progress``,
    a bar over the folds on stderr."""
    _headless()
    loaded = load_config_bars(cfg)
    bars = loaded.frame
    w = cfg.walkforward
    result = analysis.walk_forward(
        bars,
        cfg.strategy,
        _grid(cfg, "walkforward"),
        cfg.engine,
        n_folds=w.folds if w.folds is not None or w.train is not None else 10,
        train=w.train,
        test=w.test,
        anchored=w.anchored,
        gap=w.gap,
        objective=w.objective,
        weights=cfg.weights,
        risk=cfg.risk,
        on_fold=bar_progress("walk-forward", "fold") if progress is not None else None,
    )
    if progress is not None:
        progress(f"{len(result.folds)} folds done; writing the report")
    out = written.robustness_folder(cfg.name, "walkforward", reports_root)
    files = written.write_walkforward(result, bars, out)
    summary = {**result.summary(), "objective": result.objective}
    return _finish(cfg, out, files, summary, loaded.sources)


def run_montecarlo(cfg: RunConfig, reports_root: Path, progress: Progress | None = None) -> Outcome:
    """The configured backtest, then each [montecarlo] method (each told to ``progress``)."""
    say = progress or (lambda _message: None)
    _headless()
    loaded = load_run_bars(cfg)
    result = backtest(loaded.frame, cfg.strategy, cfg.params, cfg.engine, cfg.weights, cfg.risk)
    m = cfg.montecarlo
    out = written.robustness_folder(cfg.name, "montecarlo", reports_root)
    files: dict[str, Path] = {}
    summary: dict[str, Any] = {"backtest": result.metrics(), "methods": {}}
    for method in m.methods:
        say(f"{method}: {m.paths:,} paths, percentiles and fan chart")
        try:
            mc = analysis.monte_carlo(
                result,
                method,  # type: ignore[arg-type]
                n_paths=m.paths,
                mean_block=m.mean_block,
                seed=m.seed,
                dd_threshold=m.drawdown,
            )
        except ConfigError as exc:
            summary["methods"][method] = {"skipped": str(exc)}
            continue
        table = mc.percentiles()
        files.update(written.write_montecarlo(mc, table, method, out))
        summary["methods"][method] = {
            "paths": m.paths,
            "seed": m.seed,
            "prob_drawdown": mc.prob_drawdown,
            "drawdown_threshold": m.drawdown,
            "percentiles": table.to_dict(),
        }
    return _finish(cfg, out, files, summary, loaded.sources)


def run_sensitivity(
    cfg: RunConfig, reports_root: Path, progress: Progress | None = None
) -> Outcome:
    """Sweep over [grid], responses, plateau score, stress of the configured parameters, and
    the overfitting statistics (DSR of the best set given all trials, PBO by CSCV); each stage
    told to ``progress`` (the sweep with a bar)."""
    say = progress or (lambda _message: None)
    _headless()
    loaded = load_config_bars(cfg)
    bars = loaded.frame
    s = cfg.sensitivity
    grid = _grid(cfg, "sensitivity")
    say(f"sweep of {len(grid):,} parameter set(s)")
    if len(loaded.sources) > 1:
        rows = sweep_portfolio(bars, cfg.strategy, grid, cfg.engine, cfg.weights, cfg.risk)
    else:
        symbol = loaded.sources[0].symbol
        rows = sweep(
            {symbol: bars},
            cfg.strategy,
            grid,
            cfg.engine,
            progress=progress is not None,
            risk=cfg.risk,
            weights=cfg.weights,
        )
    varying = [p for p in grid.names if rows[p].nunique() > 1]
    plateau = analysis.plateau_score(
        rows, varying, s.metric, radius=s.radius, tolerance=s.tolerance
    )
    say(f"stress: costs, slippage and {s.noise_runs} price-noise runs")
    table = analysis.stress(
        bars,
        cfg.strategy,
        cfg.params,
        cfg.engine,
        commission_factor=s.commission_factor,
        extra_slippage_bps=s.extra_slippage_bps,
        noise_bps=s.noise_bps,
        noise_runs=s.noise_runs,
        seed=s.seed,
        weights=cfg.weights,
        risk=cfg.risk,
    )
    out = written.robustness_folder(cfg.name, "sensitivity", reports_root)
    files = written.write_sensitivity(rows, table, varying, s.metric, out)
    say(f"overfitting: deflated Sharpe and PBO ({min(s.pbo_trials, len(rows))} backtests)")
    overfit = _overfitting(bars, cfg, rows, grid, cfg.weights)
    summary = {
        "trials": len(rows),
        "plateau": plateau,
        "overfitting": overfit,
        "stress": table.to_dict(orient="index"),
    }
    return _finish(cfg, out, files, summary, loaded.sources)


def _overfitting(
    bars: pd.DataFrame,
    cfg: RunConfig,
    rows: pd.DataFrame,
    grid: ParamGrid,
    weights: tuple[float, ...] | None,
) -> dict[str, Any]:
    """DSR of the best set and PBO, from backtests scored exactly as the sweep rows were
    (with the config's weights and [risk] limits)."""
    s = cfg.sensitivity
    periods = cfg.engine.periods_per_year
    finite = rows.dropna(subset=["sharpe"])
    if len(finite) < 2:
        return {"skipped": "fewer than two trials with a finite Sharpe ratio"}
    best = finite.iloc[int(np.argmax(finite["sharpe"].to_numpy()))]
    params = {p: best[p] for p in grid.names}
    best_returns = backtest(bars, cfg.strategy, params, cfg.engine, weights, cfg.risk).returns
    dsr = analysis.deflated_sharpe(
        best_returns, len(finite), float((finite["sharpe"] / np.sqrt(periods)).var())
    )
    rng = np.random.default_rng(s.seed)
    pick = rng.choice(len(finite), size=min(s.pbo_trials, len(finite)), replace=False)
    matrix = np.column_stack(
        [
            backtest(
                bars,
                cfg.strategy,
                {p: finite.iloc[i][p] for p in grid.names},
                cfg.engine,
                weights,
                cfg.risk,
            ).returns.to_numpy()
            for i in pick
        ]
    )
    pbo = analysis.probability_of_backtest_overfitting(matrix, n_splits=s.pbo_splits)
    return {
        "best_params": params,
        "dsr": dsr.dsr,
        "dsr_significant": dsr.significant,
        "sharpe_per_period": dsr.sharpe,
        "sharpe_threshold": dsr.sharpe_threshold,
        "n_trials": dsr.n_trials,
        "pbo": pbo.pbo,
        "pbo_trials": len(pick),
        "pbo_splits": s.pbo_splits,
    }
