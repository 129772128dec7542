"""The sweep's change-point driver (work only where something happens) gives the rows of the
per-bar driver, and both give the engine's (tk.simulate) metrics, on real data with randomised
settings, risk limits, weights and parameters. Both drivers call the engine's step functions;
this is the proof that skipping quiet bars changes nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from tests.strategies.test_causality import _random_params
from toolkit import strategies
from toolkit.engine._step import STATE_COLS, TRADE_COLS
from toolkit.engine.backtest import month_ids, strategy_targets
from toolkit.metrics._kernels import STACK_ROWS, price_tables_nb
from toolkit.risk import RiskLimits
from toolkit.strategies._dispatch import IDS, TARGETS, target_changes_nb
from toolkit.sweep import METRICS, sweep
from toolkit.sweep import _kernels as sk
from toolkit.sweep._changes import HELD_COLS, simulate_changes_nb
from toolkit.sweep._fold import ACC_SIZE


def _fast_settings(rng: np.random.Generator) -> tk.EngineSettings:
    """Settings in the event driver's domain: market orders, no stops, on_change."""
    return tk.EngineSettings(
        init_cash=float(rng.choice([5_000.0, 100_000.0, 1_000_000.0])),
        fill=str(rng.choice(["next_open", "close"])),
        slippage_bps=float(rng.choice([0.0, 0.0, 3.0])),
        commission=[tk.ibkr_fixed(), tk.ibkr_tiered(), tk.proportional(0.001), tk.no_costs()][
            int(rng.integers(4))
        ],
        rebalance_band=float(rng.choice([0.0, 0.0, 0.05])),
        max_leverage=float(rng.choice([1.0, 1.0, 2.0])),
        fractional=bool(rng.random() < 0.4),
    )


def _random_risk(rng: np.random.Generator) -> RiskLimits:
    """Order-trimming limits (the change-point driver's domain: no daily-loss or drawdown
    limit), each on in about half the draws."""
    maybe = lambda lo, hi: None if rng.random() < 0.5 else float(rng.uniform(lo, hi))  # noqa: E731
    return RiskLimits(
        max_position=maybe(5_000.0, 80_000.0),
        max_order=maybe(2_000.0, 50_000.0),
        max_gross=maybe(0.3, 1.5),
    )


def _both_drivers(
    bars: pd.DataFrame,
    target: np.ndarray,
    s: tk.EngineSettings,
    risk: RiskLimits | None = None,
    weight: float = 1.0,
) -> np.ndarray:
    """(2, N_METRICS): the change-point driver's row, then the per-bar driver's."""
    o = np.ascontiguousarray(bars["open"].to_numpy(np.float64))
    h = np.ascontiguousarray(bars["high"].to_numpy(np.float64))
    lo = np.ascontiguousarray(bars["low"].to_numpy(np.float64))
    c = np.ascontiguousarray(bars["close"].to_numpy(np.float64))
    t = np.ascontiguousarray(target, dtype=np.float64)
    month = month_ids(pd.DatetimeIndex(bars.index))
    days = np.zeros(len(c), dtype=np.int64)
    k = s.kernel(risk or RiskLimits())
    cost, risk, init, next_open = k.cost, k.risk, k.init_cash, k.next_open
    order_type, offset, slip = k.order_type, k.order_offset, k.slippage
    sl, tp, ts = k.stop_loss, k.take_profit, k.trailing_stop
    always, band, lev, frac = k.rebalance_always, k.band, k.max_leverage, k.fractional
    st, acc, scratch = np.empty(STATE_COLS), np.empty(ACC_SIZE), np.empty((1, TRADE_COLS))
    out = np.full((2, sk.N_METRICS), -7.0)
    cp_bar, cp_val = np.empty(len(t), dtype=np.int64), np.empty(len(t))
    m = target_changes_nb(t, cp_bar, cp_val)
    stack = np.empty((STACK_ROWS, 2), dtype=np.int64)
    held = np.empty((len(c), HELD_COLS))
    simulate_changes_nb(
        o, c, cp_bar, cp_val, m, month, weight, k, *price_tables_nb(c), st, acc, scratch, stack,
        held, out[0],
    )  # fmt: skip
    sk.simulate_metrics_nb(
        o, h, lo, c, t, cost, month, days, init, next_open, order_type, offset, slip, sl, tp,
        ts, always, band, lev, frac, risk, weight, float(s.periods_per_year), st, acc, scratch,
        out[1],
    )  # fmt: skip
    return out


def _assert_row(row: np.ndarray, m: dict[str, float]) -> None:
    for i, key in enumerate(METRICS):
        a, b = float(row[i]), float(m[key])
        if np.isnan(b):
            assert np.isnan(a), key
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12), (key, a, b)


CASES = [(name, seed) for name in IDS if name != TARGETS for seed in range(4)]


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_change_point_driver_rows_equal_per_bar_driver_and_engine(name: str, seed: int) -> None:
    rng = np.random.default_rng(7_000 + seed)
    spec = strategies.get(name)
    symbol = str(rng.choice(["SPY", "QQQ", "TLT", "GLD", "AAPL", "XOM"]))
    bars = tk.load(symbol, start="2006-01-01")
    params = _random_params(spec, rng)
    s = _fast_settings(rng)
    target = strategy_targets(bars, spec, params).iloc[:, 0].to_numpy()
    if seed % 2:  # "no instruction" bars must be skipped identically
        target = target.copy()
        target[rng.random(len(target)) < 0.05] = np.nan
    events, per_bar = _both_drivers(bars, target, s)
    np.testing.assert_allclose(events, per_bar, rtol=1e-9, atol=1e-12, equal_nan=True)
    engine = tk.simulate(bars, pd.Series(target, index=bars.index, name=symbol), s)
    _assert_row(events, engine.metrics())
    # with order-trimming limits and a sleeve weight: still the per-bar driver's row and the
    # engine's (a one-symbol book at that weight under those limits)
    risk, weight = _random_risk(rng), float(rng.choice([0.3, 0.5, 1.0]))
    events, per_bar = _both_drivers(bars, target, s, risk, weight)
    np.testing.assert_allclose(events, per_bar, rtol=1e-9, atol=1e-12, equal_nan=True)
    series = pd.Series(target, index=bars.index, name=symbol)
    _assert_row(events, tk.simulate(bars, series, s, [weight], risk).metrics())


def test_change_point_driver_handles_a_wiped_out_account_like_the_engine() -> None:
    """Twice-levered short into a tripling price: equity goes below zero, the step flattens."""
    idx = pd.date_range("2020-01-01", periods=60, freq="D", tz="UTC")
    px = np.concatenate([np.full(10, 10.0), np.linspace(10.0, 35.0, 30), np.full(20, 30.0)])
    bars = pd.DataFrame(
        {"open": px, "high": px * 1.01, "low": px * 0.99, "close": px, "volume": 1e6}, index=idx
    )
    target = np.where(np.arange(60) >= 5, -2.0, 0.0)
    for fill in ("close", "next_open"):
        s = tk.EngineSettings(fill=fill, max_leverage=2.0, commission=tk.ibkr_fixed())
        events, per_bar = _both_drivers(bars, target, s)
        engine = tk.simulate(bars, pd.Series(target, index=idx, name="X"), s)
        assert (engine.equity <= 0).any()
        np.testing.assert_allclose(events, per_bar, rtol=1e-9, atol=1e-12, equal_nan=True)
        _assert_row(events, engine.metrics())


def test_the_sweep_uses_the_change_point_driver_and_matches_backtests() -> None:
    """The headline configuration (market orders, no stops) through tk.sweep itself."""
    bars = tk.load("SPY").iloc[-3000:]
    s = tk.EngineSettings(commission=tk.ibkr_fixed())
    rows = sweep(
        bars, "sma_cross", {"fast": [5, 20, 50], "slow": [60, 200], "cross": [0, 1]}, s,
        progress=False,
    )  # fmt: skip
    for _, row in rows.iterrows():
        p = {"fast": row.fast, "slow": row.slow, "cross": row.cross}
        m = tk.backtest(bars, "sma_cross", p, s).metrics()
        _assert_row(row[list(METRICS)].to_numpy(dtype=np.float64), m)


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_rows_are_the_same_for_any_thread_count(fill: str) -> None:
    """The threads take blocks of rows from a shared counter as they free up, so which
    thread scores a row changes from run to run; every row is scored alone in its thread's
    buffers, so the rows must not: 1, 2 and 5 threads (more workers than the machine's
    cores: some find the grid done) give identical frames, on the change-point driver and
    on the per-bar one (stops)."""
    import numba

    bars = tk.load("SPY").iloc[-1500:]
    grid = {"fast": np.arange(2, 40), "slow": np.arange(5, 60, 3), "cross": 1}
    frames = {}
    for stop in (None, 0.05):
        s = tk.EngineSettings(fill=fill, stop_loss=stop)
        for threads in (1, 2, 5):
            before = numba.get_num_threads()
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            try:
                rows = sweep(bars, "sma_cross", grid, s, progress=False)
                if threads == 5:  # more workers than threads: the kernel called directly
                    rows = _sweep_with_workers(bars, grid, s, 5)
            finally:
                numba.set_num_threads(before)
            frames[(stop, threads)] = rows
        assert len(frames[(stop, 1)]) == 500  # ~31 blocks of 16 rows
        pd.testing.assert_frame_equal(frames[(stop, 1)], frames[(stop, 2)])
        np.testing.assert_array_equal(
            frames[(stop, 1)][list(METRICS)].to_numpy(), frames[(stop, 5)]
        )


def _sweep_with_workers(
    bars: pd.DataFrame, grid: dict[str, object], s: tk.EngineSettings, workers: int
) -> np.ndarray:
    """The sweep kernel's metric rows with ``workers`` parallel loops."""
    from toolkit.sweep import runner
    from toolkit.sweep.grid import make_grid

    data = runner._symbol_arrays(bars)[0]
    params = np.ascontiguousarray(make_grid("sma_cross", grid).values)
    aux, index = runner._features("sma_cross", data, params)
    out = np.empty((len(params), len(METRICS)))
    sk.sweep_nb(
        IDS["sma_cross"], data.open, data.high, data.low, data.close, data.volume, aux, index,
        params, data.month, data.day, 1.0, s.kernel(None), workers, s.stop_loss is not None,
        False, out,
    )  # fmt: skip
    return out
