"""Market-neutral long/short momentum (research/strategies/neutral_momentum.py): hand-checked
legs and hedge, the book's beta at every rebalance measured with the [risk] rules' own
estimator (|beta| <= 0.05), causality, and the sweep / walk-forward doors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import toolkit as tk
from research.strategies.neutral_momentum import betas, neutral_momentum
from toolkit.engine.backtest import strategy_targets
from toolkit.risk.portfolio import build_context, window_estimates_nb

REPO = Path(__file__).resolve().parents[2]
STOCKS = ["AAPL", "MSFT", "JPM", "BAC", "XOM", "CVX", "JNJ", "PFE", "KO", "PEP", "WMT", "CAT"]


def _signal(close: np.ndarray, **params: float) -> np.ndarray:
    vec = neutral_momentum.vector(neutral_momentum.resolve(params))
    return neutral_momentum.signal(close, close, close, close, np.ones_like(close), vec)


def test_legs_and_hedge_by_hand() -> None:
    """Four stocks and a benchmark, 60 random bars; lookback 30, skip 5, top 1, beta window
    25, rebalance 20: decisions at bars 30 and 50, NaN in between. The best 30-5 return is
    long 0.5, the worst short 0.5, the benchmark at -(0.5 beta_best - 0.5 beta_worst), each
    beta numpy's least-squares slope of the last 25 returns on the benchmark's."""
    rng = np.random.default_rng(4)
    bench = 100 * np.cumprod(1 + rng.normal(0, 0.01, 60))
    stocks = [100 * np.cumprod(1 + rng.normal(0.001 * k, 0.02, 60)) for k in range(4)]
    close = np.column_stack([*stocks, bench])
    w = _signal(close, lookback=30, skip=5, top=1, rebalance=20, beta_window=25)
    assert (w[:30] == 0).all() and np.isnan(w[[31, 49, 51, 59]]).all()
    r = close[1:] / close[:-1] - 1.0
    for t in (30, 50):
        mom = close[t - 5, :4] / close[t - 30, :4] - 1.0
        best, worst = int(np.argmax(mom)), int(np.argmin(mom))
        window = r[t - 25 : t]  # returns of bars t-24 .. t
        slope = [np.polyfit(window[:, -1], window[:, j], 1)[0] for j in range(4)]
        expected = np.zeros(5)
        expected[best], expected[worst] = 0.5, -0.5
        expected[4] = -(0.5 * slope[best] - 0.5 * slope[worst])
        np.testing.assert_allclose(w[t], expected, rtol=1e-9, atol=1e-12)


def test_sector_neutral_legs_by_hand() -> None:
    """Two sectors of two stocks (sector_size 2), top 1: in each sector the better 30-5
    return is long 0.25 and the worse short 0.25, so each sector nets to 0; the benchmark
    hedges the legs' beta as before."""
    rng = np.random.default_rng(8)
    bench = 100 * np.cumprod(1 + rng.normal(0, 0.01, 40))
    stocks = [100 * np.cumprod(1 + rng.normal(0, 0.02, 40)) for _ in range(4)]
    close = np.column_stack([*stocks, bench])
    w = _signal(close, lookback=30, skip=5, top=1, rebalance=20, beta_window=25, sector_size=2)
    mom = close[25, :4] / close[0, :4] - 1.0
    b = betas(close, 25)[30, :4]
    expected = np.zeros(5)
    for lo in (0, 2):
        best = lo + int(np.argmax(mom[lo : lo + 2]))
        expected[best], expected[2 * lo + 1 - best] = 0.25, -0.25
    expected[4] = -float(expected[:4] @ b)
    np.testing.assert_allclose(w[30], expected, rtol=1e-12, atol=1e-15)
    assert w[30, :2].sum() == 0.0 and w[30, 2:4].sum() == 0.0


@pytest.mark.parametrize("sector_size", [0, 2])
def test_book_beta_is_within_five_hundredths_at_every_rebalance(sector_size: int) -> None:
    """The engine's book after each rebalance's fills (next open), measured with the [risk]
    max_beta rule's estimator (toolkit.risk.portfolio: cov / var of the last 250 daily
    returns): at the decision close |beta| <= 0.005 (only whole shares differ from the
    weights) and at the fill prices, after the overnight gap, |beta| <= 0.05."""
    panel = tk.load_many([*STOCKS, "SPY"], start="2012-01-01", end="2019-12-31")
    settings = tk.EngineSettings(rebalance="every_bar", init_cash=1_000_000)
    params = {"lookback": 126, "skip": 21, "top": 3, "rebalance": 21, "beta_window": 250}
    params["sector_size"] = sector_size  # 2: six blocks of two, one long and one short each
    res = tk.backtest(panel, neutral_momentum, params, settings)
    close = panel["close"].to_numpy()
    opens = panel["open"].to_numpy()
    ctx = build_context(close, 250, close[:, -1])
    beta = np.zeros(close.shape[1])
    cov = np.zeros((close.shape[1], close.shape[1]))
    pos, eq, cash = res.positions.to_numpy(), res.equity.to_numpy(), res.cash.to_numpy()
    decided = np.flatnonzero(np.isfinite(res.targets.to_numpy()).all(axis=1))
    decided = decided[(decided >= 250) & (decided + 1 < len(close))]
    assert len(decided) >= 60
    at_close, at_fill = [], []
    for t in decided:
        assert window_estimates_nb(ctx, t, cov, beta)
        at_close.append(pos[t + 1] * close[t] / eq[t] @ beta)
        fill_equity = cash[t + 1] + pos[t + 1] @ opens[t + 1]
        at_fill.append(pos[t + 1] * opens[t + 1] / fill_equity @ beta)
        gross = np.abs(pos[t + 1, :-1] * close[t, :-1]).sum() / eq[t]
        assert gross == pytest.approx(1.0, abs=0.01)  # both legs were built
    assert np.abs(at_close).max() <= 0.005
    assert np.abs(at_fill).max() <= 0.05
    # the same numbers through toolkit.stats' rolling OLS (the strategy's own estimator)
    b = betas(close, 250)
    assert window_estimates_nb(ctx, int(decided[0]), cov, beta)
    np.testing.assert_allclose(b[decided[0]], beta, rtol=1e-9, atol=1e-12)


def test_neutral_momentum_is_causal() -> None:
    panel = tk.load_many([*STOCKS[:6], "SPY"], start="2014-01-01", end="2017-12-31")
    params = {"lookback": 63, "skip": 5, "top": 2, "rebalance": 10, "beta_window": 60}
    report = tk.check_causal(neutral_momentum, panel, params, cuts=6, random_sets=1, seed=3)
    assert report.passed, report


def test_sweep_rows_are_backtests_and_walk_forward_trades_the_book() -> None:
    panel = tk.load_many([*STOCKS[:8], "SPY"], start="2012-01-01", end="2018-12-31")
    settings = tk.EngineSettings(rebalance="every_bar", init_cash=1_000_000)
    base = {"lookback": 126, "beta_window": 120}
    rows = tk.sweep(panel, neutral_momentum, {**base, "top": [2, 3]}, settings, progress=False)
    assert len(rows) == 2
    for _, row in rows.iterrows():
        m = tk.backtest(panel, neutral_momentum, {**base, "top": int(row["top"])}, settings)
        assert row["total_return"] == pytest.approx(m.metrics()["total_return"], rel=1e-9)
    wf = tk.walk_forward(panel, neutral_momentum, {**base, "top": [2, 3]}, settings, n_folds=3)
    assert len(wf.folds) == 3 and wf.folds["oos_trades"].sum() > 0
    w = strategy_targets(panel, neutral_momentum, {**base, "top": 2})
    assert (w.dropna() != 0).any().all()  # every column, SPY included, is traded


def test_too_few_columns_is_a_config_error() -> None:
    panel = tk.load_many(["KO", "SPY"], start="2015-01-01", end="2016-12-31")
    with pytest.raises(tk.ConfigError, match="two stocks and the benchmark"):
        tk.backtest(panel, neutral_momentum, {"lookback": 63})


def test_the_config_lists_its_stocks_sector_by_sector() -> None:
    """research/configs/neutral_momentum.toml: each block of sector_size names is one GICS
    sector of the shipped S&P 500 map, and SPY comes last."""
    from toolkit.config import load_config
    from toolkit.data.reference import load_sector_map

    cfg = load_config(REPO / "research" / "configs" / "neutral_momentum.toml")
    size, symbols = int(cfg.params["sector_size"]), list(cfg.data.symbols)
    sectors = load_sector_map()
    assert symbols[-1] == "SPY" and (len(symbols) - 1) % size == 0
    blocks = [symbols[g : g + size] for g in range(0, len(symbols) - 1, size)]
    names = [{sectors[s] for s in block} for block in blocks]
    assert all(len(n) == 1 for n in names) and len(set().union(*names)) == len(blocks)
