"""The numbers behind the pairs and market-neutral configs: ``python -m research.strategies.
pairs_study`` (about a minute).

1. Full-sample Engle-Granger over the 435 pairs of the 30 original symbols: raw p < 0.05
   "discoveries" vs Benjamini-Hochberg rejections (the careless screen the issue describes).
2. The 13-stock universe's screens on trailing formation windows only: raw vs BH per window.
3. Each pairs config: full backtest, walk-forward out-of-sample Sharpe and CAGR, and the
   deflated Sharpe ratio (Bailey & Lopez de Prado 2014) with every screened pair x swept
   parameter set counted as a trial.
4. The neutral book: its beta at every rebalance (the [risk] rule's estimator), Sharpe, CAGR,
   walk-forward out-of-sample Sharpe and CAGR.
"""

from __future__ import annotations

import itertools
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from research.strategies.neutral_momentum import neutral_momentum
from research.strategies.pairs import pair_trials, pairs_dsr, pairs_trading, selections
from toolkit.app.backtest import load_bars
from toolkit.config import RunConfig, load_config
from toolkit.risk.portfolio import build_context, window_estimates_nb
from toolkit.stats import coint_screen

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ORIGINAL_30 = [
    *("AAPL", "AGG", "AMZN", "BAC", "BIL", "DBC", "EEM", "EFA", "GE", "GLD"),
    *("GOOGL", "HYG", "IEF", "INTC", "IWM", "JNJ", "JPM", "KO", "LQD", "MSFT"),
    *("NVDA", "PG", "QQQ", "SHY", "SPY", "TIP", "TLT", "VNQ", "WMT", "XOM"),
]


def _panel(name: str) -> tuple[pd.DataFrame, RunConfig]:
    """A shipped config and its bars, loaded as the commands load them."""
    cfg = load_config(CONFIGS / f"{name}.toml")
    return load_bars(cfg), cfg


def full_sample() -> None:
    screen = coint_screen(np.log(tk.load_many(ORIGINAL_30)["close"]))
    raw = int((screen["p_value"] < 0.05).sum())
    print(
        f"full sample, {len(screen)} pairs of 30 symbols: raw p < 0.05: {raw} "
        f"(expected by chance {0.05 * len(screen):.1f}); BH q <= 0.05: "
        f"{int((screen['q_value'] <= 0.05).sum())}; q <= 0.10: "
        f"{int((screen['q_value'] <= 0.10).sum())}; smallest q {screen['q_value'].min():.4f}"
    )


def windows() -> None:
    panel, cfg = _panel("pairs_sector_screen")
    p = cfg.params
    sel = selections(panel["close"], int(p["formation"]), int(p["trade"]), p["fdr"], 5)
    print(
        f"13-stock universe, {len(sel)} formation windows x {sel['screened'].iloc[0]} pairs: "
        f"raw p < 0.05 {sel['raw_p05'].sum()} (chance {0.05 * sel['screened'].sum():.0f}), "
        f"BH {sel['bh'].sum()}, windows with a BH pair {(sel['bh'] > 0).sum()}"
    )


def pairs_config(name: str) -> None:
    panel, cfg = _panel(name)
    settings, params = cfg.engine, dict(cfg.params)
    res = tk.backtest(panel, pairs_trading, params, settings)
    m = res.metrics()
    grid = cfg.grid.axes if cfg.grid else {}
    sets = int(np.prod([len(v) for v in grid.values()])) if grid else 1
    wf = tk.walk_forward(
        panel,
        pairs_trading,
        {**params, **grid},
        settings,
        train=cfg.walkforward.train,
        test=cfg.walkforward.test,
        objective=cfg.walkforward.objective,
        n_folds=None,
    )
    oos = wf.oos_returns
    years = len(oos) / 252.0
    oos_cagr = float((1 + oos).prod() ** (1 / years) - 1)
    oos_sharpe = float(oos.mean() / oos.std(ddof=1) * np.sqrt(252)) if oos.std() > 0 else 0.0
    grid_sets = [
        {**params, **dict(zip(grid, values, strict=True))}
        for values in itertools.product(*grid.values())
    ] or [params]
    trials = pair_trials(panel, grid_sets, settings)
    dsr = pairs_dsr(res.returns, trials)
    windows = len(range(int(params["formation"]) - 1, len(panel), int(params["trade"])))
    every = pairs_dsr(res.returns, trials, n_trials=len(trials) * windows)
    n = panel["close"].shape[1]
    print(
        f"{name}: full {m['sharpe']:.2f} Sharpe, CAGR {m['cagr']:.2%}, {int(m['trades'])} trades;"
        f" walk-forward OOS ({len(wf.folds)} folds, {years:.1f} y) Sharpe {oos_sharpe:.2f}, "
        f"CAGR {oos_cagr:.2%}; DSR {dsr.dsr:.3f} with {dsr.n_trials} trials "
        f"({comb(n, 2)} pairs x {sets} sets; SR {dsr.sharpe:.4f}/day vs SR0 "
        f"{dsr.sharpe_threshold:.4f}); x {windows} windows: {every.n_trials} trials, DSR "
        f"{every.dsr:.3f}"
    )


def neutral() -> None:
    panel, cfg = _panel("neutral_momentum")
    res = tk.backtest(panel, neutral_momentum, dict(cfg.params), cfg.engine)
    close, opens = panel["close"].to_numpy(), panel["open"].to_numpy()
    window = int(cfg.params["beta_window"])
    ctx = build_context(close, window, True, close[:, -1])
    m = close.shape[1]
    beta, cov = np.zeros(m), np.zeros((m, m))
    pos, eq, cash = res.positions.to_numpy(), res.equity.to_numpy(), res.cash.to_numpy()
    decided = np.flatnonzero(np.isfinite(res.targets.to_numpy()).all(axis=1))
    decided = decided[(decided >= window) & (decided + 1 < len(close))]
    at_close, at_fill = [], []
    for t in decided:
        window_estimates_nb(ctx, t, cov, beta)
        at_close.append(pos[t + 1] * close[t] / eq[t] @ beta)
        at_fill.append(pos[t + 1] * opens[t + 1] / (cash[t + 1] + pos[t + 1] @ opens[t + 1]) @ beta)
    met = res.metrics()
    spy = panel["close"]["SPY"].pct_change().fillna(0.0)
    grid = cfg.grid.axes if cfg.grid else {}
    wf = tk.walk_forward(
        panel,
        neutral_momentum,
        {**cfg.params, **grid},
        cfg.engine,
        train=cfg.walkforward.train,
        test=cfg.walkforward.test,
        n_folds=None,
    )
    oos = wf.oos_returns
    oos_sharpe = float(oos.mean() / oos.std(ddof=1) * np.sqrt(252))
    oos_cagr = float((1 + oos).prod() ** (252 / len(oos)) - 1)
    print(
        f"neutral_momentum: {len(decided)} rebalances, |beta| max {np.max(np.abs(at_close)):.5f}"
        f" at the decision close, {np.max(np.abs(at_fill)):.4f} (median "
        f"{np.median(np.abs(at_fill)):.4f}) at the fills; Sharpe {met['sharpe']:.2f}, CAGR "
        f"{met['cagr']:.2%}, corr with SPY {np.corrcoef(res.returns, spy)[0, 1]:.3f}; "
        f"walk-forward OOS ({len(wf.folds)} folds) Sharpe {oos_sharpe:.2f}, CAGR {oos_cagr:.2%}"
    )


def main() -> None:
    full_sample()
    windows()
    for name in ("pairs_gld_gdx", "pairs_ewa_ewc", "pairs_sector_screen"):
        pairs_config(name)
    neutral()


if __name__ == "__main__":
    main()
