"""The walkforward and sensitivity commands apply a config's [risk] limits and weights: the
rows they write equal backtests run with them (before, the sweep kernels carried no limits and
the command printed a note saying so)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from tests.sweep.test_sweep_equals_engine import _compare
from toolkit.app.backtest import load_run_bars
from toolkit.config import parse_config

CONFIG = """
name = "risky"
[data]
symbols = ["QQQ"]
start = "2008-01-01"
end = "2016-12-31"
[strategy]
name = "sma_cross"
[strategy.params]
fast = 20
slow = 100
allow_short = 0
cross = 0
[engine]
weights = [0.8]
[risk]
max_position = 50000
max_drawdown = 0.12
[grid]
fast = [10, 30]
slow = [80, 160]
[walkforward]
train = "3Y"
test = "1Y"
[sensitivity]
radius = 1
noise_runs = 2
pbo_trials = 4
pbo_splits = 4
"""


def test_sensitivity_rows_and_stress_use_the_limits(tmp_path: Path) -> None:
    from toolkit.app.robustness import run_sensitivity

    cfg = parse_config(tomllib.loads(CONFIG), tmp_path / "risky.toml")
    bars = load_run_bars(cfg).frame
    summary, _, files = run_sensitivity(cfg, tmp_path / "reports")
    rows = pd.read_csv(files["sweep"])
    assert len(rows) == 4
    for _, row in rows.iterrows():
        params = {**cfg.params, "fast": int(row["fast"]), "slow": int(row["slow"])}
        _compare(
            row,
            tk.backtest(bars, cfg.strategy, params, cfg.engine, cfg.weights, cfg.risk).metrics(),
        )
    stress = pd.read_csv(files["stress"], index_col=0)
    base = tk.backtest(bars, cfg.strategy, cfg.params, cfg.engine, cfg.weights, cfg.risk)
    assert stress.loc["baseline", "final_equity"] == pytest.approx(
        base.metrics()["final_equity"], rel=1e-12
    )
    free = tk.backtest(bars, cfg.strategy, cfg.params, cfg.engine, cfg.weights)
    assert base.metrics()["final_equity"] != pytest.approx(free.metrics()["final_equity"], rel=1e-6)
    assert np.isfinite(summary["overfitting"]["dsr"])


def test_walkforward_folds_use_the_limits(tmp_path: Path) -> None:
    from toolkit.app.robustness import run_walkforward

    cfg = parse_config(tomllib.loads(CONFIG), tmp_path / "risky.toml")
    bars = load_run_bars(cfg).frame
    _, _, files = run_walkforward(cfg, tmp_path / "reports")
    folds = pd.read_csv(files["folds"], parse_dates=["test_start", "test_end"])
    spec = tk.get_strategy(cfg.strategy)
    for _, fold in folds.iterrows():
        params = {**cfg.params, "fast": int(fold["fast"]), "slow": int(fold["slow"])}
        test = bars.loc[fold["test_start"] : fold["test_end"]]
        target = tk.engine.strategy_targets(bars.loc[: fold["test_end"]], spec, params)
        oos = tk.simulate(test, target.loc[test.index], cfg.engine, cfg.weights, cfg.risk)
        assert oos.metrics()["sharpe"] == pytest.approx(fold["oos_sharpe"], rel=1e-9, nan_ok=True)
