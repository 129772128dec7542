"""Report folders for ``python -m toolkit walkforward | montecarlo | sensitivity``."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit import analysis
from toolkit.config import RunConfig
from toolkit.data import LoadedBars, LoadedFile
from toolkit.engine import backtest
from toolkit.errors import ConfigError
from toolkit.report.backtest_report import to_jsonable
from toolkit.report.manifest import build_manifest
from toolkit.sweep import ParamGrid, heatmap, make_grid, sweep, sweep_portfolio

REPO = Path(__file__).resolve().parents[2]


def _out_dir(cfg: RunConfig, kind: str, root: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = root / f"{cfg.name}-{kind}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _config_bars(cfg: RunConfig) -> LoadedBars:
    """One symbol's bars as a plain frame (scored by the fused sweep), several symbols as a
    (field, symbol) panel (scored as one book by sweep_portfolio)."""
    from toolkit.run import load_config_bars  # toolkit.run imports toolkit.report

    return load_config_bars(cfg)


def _grid(cfg: RunConfig, command: str) -> ParamGrid:
    if cfg.grid is None:
        raise ConfigError(
            f"{cfg.source}: {command} needs a [grid] table of parameter axes, e.g. "
            "fast = { from = 5, to = 100, step = 5 }."
        )
    g = cfg.grid
    # parameters without an axis keep the config's values, not the strategy's defaults
    axes = {**{k: [v] for k, v in cfg.params.items()}, **g.axes}
    return make_grid(cfg.strategy, axes, sample=g.sample, seed=g.seed, where=g.where)


def _finish(
    cfg: RunConfig,
    out: Path,
    files: dict[str, Path],
    summary: dict[str, Any],
    sources: tuple[LoadedFile, ...],
) -> dict[str, Path]:
    files["summary"] = out / "summary.json"
    files["summary"].write_text(json.dumps(to_jsonable(summary), indent=2) + "\n")
    manifest = build_manifest(
        config=to_jsonable(cfg.raw),
        resolved=to_jsonable(
            {"strategy": cfg.strategy, "params": cfg.params, "engine": asdict(cfg.engine)}
        ),
        data_files=[s.record() for s in sources],
        metrics=to_jsonable(summary),
        repo=REPO,
    )
    files["manifest"] = out / "manifest.json"
    files["manifest"].write_text(json.dumps(to_jsonable(manifest), indent=2) + "\n")
    return files


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def run_walkforward(
    cfg: RunConfig, reports_root: Path
) -> tuple[dict[str, Any], Path, dict[str, Path]]:
    """Walk-forward optimisation over [grid] with [walkforward] settings."""
    import matplotlib

    matplotlib.use("Agg")
    loaded = _config_bars(cfg)
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
    )
    out = _out_dir(cfg, "walkforward", reports_root)
    files = {
        "folds": out / "folds.csv",
        "oos_equity": out / "oos_equity.csv",
        "stability": out / "stability.csv",
    }
    result.folds.to_csv(files["folds"], index=False)
    result.oos_equity.to_frame().join(result.oos_returns).to_csv(files["oos_equity"])
    result.stability().to_csv(files["stability"])
    ax = analysis.plot_walk_forward(result, bars)
    files["plot"] = _save(ax.figure, out / "walkforward.png")
    summary = {**result.summary(), "objective": result.objective}
    return summary, out, _finish(cfg, out, files, summary, loaded.sources)


def run_montecarlo(
    cfg: RunConfig, reports_root: Path
) -> tuple[dict[str, Any], Path, dict[str, Path]]:
    """The configured backtest, then each [montecarlo] method."""
    import matplotlib

    matplotlib.use("Agg")
    from toolkit.run import load_run_bars

    loaded = load_run_bars(cfg)
    bars = loaded.frame
    result = backtest(bars, cfg.strategy, cfg.params, cfg.engine, cfg.weights, cfg.risk)
    m = cfg.montecarlo
    out = _out_dir(cfg, "montecarlo", reports_root)
    files: dict[str, Path] = {}
    summary: dict[str, Any] = {"backtest": result.metrics(), "methods": {}}
    for method in m.methods:
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
        files[f"percentiles_{method}"] = out / f"percentiles_{method}.csv"
        table.to_csv(files[f"percentiles_{method}"])
        files[f"fan_{method}"] = _save(analysis.fan_chart(mc).figure, out / f"fan_{method}.png")
        summary["methods"][method] = {
            "paths": m.paths,
            "seed": m.seed,
            "prob_drawdown": mc.prob_drawdown,
            "drawdown_threshold": m.drawdown,
            "percentiles": table.to_dict(),
        }
    return summary, out, _finish(cfg, out, files, summary, loaded.sources)


def run_sensitivity(
    cfg: RunConfig, reports_root: Path
) -> tuple[dict[str, Any], Path, dict[str, Path]]:
    """Sweep over [grid], responses, plateau score, stress of the configured parameters, and
    the overfitting statistics (DSR of the best set given all trials, PBO by CSCV)."""
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    loaded = _config_bars(cfg)
    bars = loaded.frame
    s = cfg.sensitivity
    grid = _grid(cfg, "sensitivity")
    if len(loaded.sources) > 1:
        rows = sweep_portfolio(bars, cfg.strategy, grid, cfg.engine, cfg.weights, cfg.risk)
    else:
        symbol = loaded.sources[0].symbol
        rows = sweep(
            {symbol: bars},
            cfg.strategy,
            grid,
            cfg.engine,
            progress=False,
            risk=cfg.risk,
            weights=cfg.weights,
        )
    out = _out_dir(cfg, "sensitivity", reports_root)
    files = {"sweep": out / "sweep.csv", "stress": out / "stress.csv"}
    rows.to_csv(files["sweep"], index=False)
    varying = [p for p in grid.names if rows[p].nunique() > 1]
    plateau = analysis.plateau_score(
        rows, varying, s.metric, radius=s.radius, tolerance=s.tolerance
    )
    if len(varying) >= 2:
        ax = heatmap(rows, varying[0], varying[1], s.metric)
        files["response"] = _save(ax.figure, out / "response.png")
    elif varying:
        fig, ax = plt.subplots(figsize=(8, 4))
        analysis.response(rows, varying[0], s.metric).plot(ax=ax, marker="o")
        ax.set_ylabel(s.metric)
        files["response"] = _save(fig, out / "response.png")
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
    table.to_csv(files["stress"])
    overfit = _overfitting(bars, cfg, rows, grid, cfg.weights)
    summary = {
        "trials": len(rows),
        "plateau": plateau,
        "overfitting": overfit,
        "stress": table.to_dict(orient="index"),
    }
    return summary, out, _finish(cfg, out, files, summary, loaded.sources)


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
