"""Every sweep row equals toolkit.engine's result for that single combination."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

import toolkit as tk
from tests.strategies.test_causality import _random_params
from toolkit import strategies
from toolkit.strategies._dispatch import IDS, TARGETS
from toolkit.sweep import METRICS, make_grid, sweep


def _settings(rng: np.random.Generator) -> tk.EngineSettings:
    maybe = lambda: None if rng.random() < 0.6 else float(rng.uniform(0.02, 0.15))  # noqa: E731
    return tk.EngineSettings(
        init_cash=float(rng.choice([10_000.0, 100_000.0])),
        fill=str(rng.choice(["next_open", "close"])),
        order_type=str(rng.choice(["market", "market", "limit", "stop"])),
        order_offset_bps=float(rng.choice([0.0, 10.0, 50.0])),
        slippage_bps=float(rng.choice([0.0, 2.0])),
        commission=[tk.ibkr_fixed(), tk.ibkr_tiered(), tk.proportional(0.001), tk.no_costs()][
            int(rng.integers(4))
        ],
        stop_loss=maybe(),
        take_profit=maybe(),
        trailing_stop=maybe(),
        rebalance=str(rng.choice(["on_change", "on_change", "every_bar"])),
        rebalance_band=float(rng.choice([0.0, 0.0, 0.05])),
        max_leverage=float(rng.choice([1.0, 1.0, 2.0])),
        fractional=bool(rng.random() < 0.3),
    )


def _compare(row: pd.Series, m: dict[str, float]) -> None:
    for key in METRICS:
        a, b = float(row[key]), float(m[key] if key != "trades" else m["trades"])
        if np.isnan(b):
            assert np.isnan(a), key
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12), (key, a, b)


# the built-ins (the registry also holds whatever example strategies other test modules
# imported before this one was collected: cross-sectional ones need their own panels)
CASES = [(name, seed) for name in sorted(set(IDS) - {TARGETS}) for seed in range(3)]


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_sampled_rows_equal_engine(name: str, seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    spec = strategies.get(name)
    symbol = str(rng.choice(["SPY", "QQQ", "TLT", "GLD", "AAPL", "XOM"]))
    bars = tk.load(symbol, start="2012-01-01", end="2019-12-31")
    points = [_random_params(spec, rng) for _ in range(6)]
    axes = {p.name: sorted({pt[p.name] for pt in points}) for p in spec.params}
    grid = make_grid(name, axes, sample=12, seed=seed)
    settings = _settings(rng)
    rows = sweep(bars, name, grid, settings, progress=False)
    assert len(rows) == len(grid)
    for i in rng.choice(len(rows), size=min(5, len(rows)), replace=False):
        row = rows.iloc[int(i)]
        params = {p: row[p] for p in spec.param_names}
        _compare(row, tk.backtest(bars, name, params, settings).metrics())


def test_metrics_agree_with_quantstats_on_sampled_rows() -> None:
    bars = tk.load("SPY", start="2010-01-01")
    rows = sweep(bars, "sma_cross", {"fast": [5, 20, 50], "slow": [60, 150]}, progress=False)
    for _, row in rows.sample(3, random_state=1).iterrows():
        res = tk.backtest(bars, "sma_cross", {"fast": row.fast, "slow": row.slow})
        r = res.returns.copy()
        r.index = r.index.tz_localize(None)
        assert row.sharpe == pytest.approx(qs.stats.sharpe(r), rel=1e-9)
        assert row.sortino == pytest.approx(qs.stats.sortino(r), rel=1e-9)
        assert row.cagr == pytest.approx(qs.stats.cagr(r), rel=1e-9)
        assert row.max_drawdown == pytest.approx(qs.stats.max_drawdown(r), rel=1e-9)


def test_multi_symbol_rows_and_dict_input() -> None:
    panel = tk.load_many(["SPY", "TLT"], start="2015-01-01")
    rows = sweep(panel, "donchian", {"entry_window": [20, 55], "exit_window": [10]}, progress=False)
    assert list(rows["symbol"]) == ["SPY", "SPY", "TLT", "TLT"]
    single = sweep(
        tk.load("TLT", start="2015-01-01"),
        "donchian",
        {"entry_window": [20, 55], "exit_window": [10]},
        progress=False,
    )
    np.testing.assert_array_equal(
        rows[rows.symbol == "TLT"]["final_equity"], single["final_equity"]
    )
    both = sweep(
        {"A": tk.load("SPY", start="2019-01-01"), "B": tk.load("QQQ", start="2010-01-01")},
        "sma_cross",
        {"fast": [10], "slow": [30]},
        progress=False,
    )
    assert list(both["symbol"]) == ["A", "B"]
