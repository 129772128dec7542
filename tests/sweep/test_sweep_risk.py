"""``[risk]`` limits and sleeve weights apply in sweeps: every row equals ``tk.backtest`` of
that set with the same limits and weight (every metric to 1e-9), on both sweep drivers (the
event driver: market orders without stops or loss switches; the per-bar one otherwise), on
the fused path and the generic one."""

from __future__ import annotations

import pandas as pd
import pytest

import toolkit as tk
from tests.sweep.test_sweep_equals_engine import _compare
from toolkit.risk import RiskLimits
from toolkit.strategies.spec import Strategy
from toolkit.sweep import sweep

GRID = {"fast": [5, 20], "slow": [60, 150]}
# Each limit binds on SPY 2008-2019 with 100,000 of capital (checked below: rows change).
LIMITS = {
    "max_position": RiskLimits(max_position=40_000.0),
    "max_order": RiskLimits(max_order=25_000.0),
    "max_gross": RiskLimits(max_gross=0.5),
    "daily_loss": RiskLimits(daily_loss=0.02),
    "max_drawdown": RiskLimits(max_drawdown=0.08),
    "all": RiskLimits(
        max_position=60_000.0,
        max_order=45_000.0,
        max_gross=0.7,
        daily_loss=0.03,
        max_drawdown=0.15,
    ),
}
SETTINGS = {
    # the event driver's domain (when the loss switches are off)
    "market_next_open": tk.EngineSettings(commission=tk.ibkr_fixed()),
    "market_close": tk.EngineSettings(fill="close", commission=tk.ibkr_tiered()),
    # the per-bar driver's
    "limit_stops": tk.EngineSettings(
        order_type="limit", order_offset_bps=10.0, stop_loss=0.08, commission=tk.ibkr_fixed()
    ),
    "every_bar_fractional": tk.EngineSettings(
        rebalance="every_bar", rebalance_band=0.02, fractional=True, slippage_bps=2.0
    ),
}


@pytest.fixture(scope="module")
def spy() -> pd.DataFrame:
    return tk.load("SPY", start="2008-01-01", end="2019-12-31")


def _rows_equal_backtests(
    rows: pd.DataFrame,
    bars: pd.DataFrame,
    strategy: str | Strategy,
    settings: tk.EngineSettings,
    risk: RiskLimits | None,
    weight: float,
    names: tuple[str, ...] = ("fast", "slow"),
) -> list[dict[str, float]]:
    out = []
    for _, row in rows.iterrows():
        params = {p: int(row[p]) for p in names}
        m = tk.backtest(bars, strategy, params, settings, [weight], risk).metrics()
        _compare(row, m)
        out.append(m)
    return out


@pytest.mark.parametrize("limit", list(LIMITS))
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("weight", [1.0, 0.55])
def test_rows_with_limits_equal_backtest(
    spy: pd.DataFrame, limit: str, setting: str, weight: float
) -> None:
    risk, s = LIMITS[limit], SETTINGS[setting]
    rows = sweep(spy, "sma_cross", GRID, s, progress=False, risk=risk, weights=[weight])
    assert len(rows) == 4
    limited = _rows_equal_backtests(rows, spy, "sma_cross", s, risk, weight)
    free = [
        tk.backtest(spy, "sma_cross", {"fast": int(r.fast), "slow": int(r.slow)}, s, [weight])
        .metrics()["final_equity"]
        for r in rows.itertuples()
    ]  # fmt: skip
    # the limit binds: without it some row ends elsewhere (so a sweep ignoring it would fail)
    assert any(
        m["final_equity"] != pytest.approx(f, rel=1e-6) for m, f in zip(limited, free, strict=True)
    )


def test_a_weight_alone_scales_the_sleeve(spy: pd.DataFrame) -> None:
    s = SETTINGS["market_next_open"]
    rows = sweep(spy, "sma_cross", GRID, s, progress=False, weights={"SPY": 0.3})
    _rows_equal_backtests(rows, spy, "sma_cross", s, None, 0.3)
    full = sweep(spy, "sma_cross", GRID, s, progress=False)
    assert (rows["exposure"] == full["exposure"]).all()  # invested on the same bars ...
    assert (rows["max_drawdown"].abs() < full["max_drawdown"].abs()).all()  # ... with less


def test_each_symbol_gets_its_own_weight() -> None:
    bars = tk.load_many(["SPY", "TLT"], start="2012-01-01", end="2019-12-31")
    s = SETTINGS["market_close"]
    risk = LIMITS["all"]
    rows = sweep(bars, "sma_cross", GRID, s, progress=False, risk=risk, weights=[0.7, 0.4])
    for sym, w in (("SPY", 0.7), ("TLT", 0.4)):
        mine = rows[rows["symbol"] == sym]
        _rows_equal_backtests(mine, bars.xs(sym, axis=1, level=1), "sma_cross", s, risk, w)
    with pytest.raises(tk.ConfigError, match="2 symbols"):
        sweep(bars, "sma_cross", GRID, s, progress=False, weights=[1.0])
    with pytest.raises(tk.ConfigError, match="QQQ"):
        sweep(bars, "sma_cross", GRID, s, progress=False, weights={"QQQ": 1.0})


@pytest.mark.parametrize("setting", ["market_next_open", "limit_stops"])
def test_generic_path_rows_with_limits_equal_backtest(spy: pd.DataFrame, setting: str) -> None:
    from research.strategies.channel_trend import channel_trend

    s, risk = SETTINGS[setting], LIMITS["all"]
    grid = {"lookback": [20, 120], "exit_window": [10, 30]}
    rows = sweep(spy, channel_trend, grid, s, progress=False, risk=risk, weights=[0.8])
    assert rows.attrs["path"] == "generic"
    _rows_equal_backtests(rows, spy, channel_trend, s, risk, 0.8, ("lookback", "exit_window"))


def test_cross_sectional_book_takes_limits_and_weights() -> None:
    from research.strategies.xs_momentum import xs_momentum

    symbols = ["SPY", "QQQ", "TLT", "GLD"]
    panel = tk.load_many(symbols, start="2012-01-01", end="2019-12-31")
    risk = RiskLimits(max_position=30_000.0, max_drawdown=0.1)
    w = [0.5, 0.5, 1.0, 1.0]
    rows = sweep(panel, xs_momentum, {"lookback": [21, 126], "top": [2]}, progress=False,
                 risk=risk, weights=w)  # fmt: skip
    for _, row in rows.iterrows():
        params = {"lookback": int(row["lookback"]), "top": int(row["top"])}
        _compare(row, tk.backtest(panel, xs_momentum, params, None, w, risk).metrics())


def test_daily_loss_counts_new_york_days_on_minute_bars() -> None:
    """Minute bars: the sweep numbers trading days as the engine does (New York dates)."""
    path = tk.data.default_data_dir() / "intraday" / "SPY_1min_2024-02-20_2024-05-17.csv"
    bars = tk.load(path, start="2024-04-01", end="2024-04-30")
    s = tk.EngineSettings(fill="close", fractional=True, periods_per_year=252 * 960)
    risk = RiskLimits(daily_loss=0.004)
    grid = {"fast": [5, 30], "slow": [60, 240]}
    rows = sweep(bars, "sma_cross", grid, s, progress=False, risk=risk)
    limited = _rows_equal_backtests(rows, bars, "sma_cross", s, risk, 1.0)
    free = sweep(bars, "sma_cross", grid, s, progress=False)
    assert any(m["final_equity"] != f for m, f in zip(limited, free["final_equity"], strict=True))
