"""The generic sweep path: a signal-only strategy (a user's) sweeps with rows equal to
``tk.backtest`` of each parameter set, single-symbol per symbol and cross-sectional per book."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from tests.sweep.test_sweep_equals_engine import _compare, _settings
from toolkit.sweep import make_grid, sweep


@pytest.mark.parametrize("seed", range(3))
def test_single_symbol_rows_equal_backtest(seed: int) -> None:
    from research.strategies.channel_trend import channel_trend

    rng = np.random.default_rng(seed)
    settings = _settings(rng)
    bars = tk.load_many(["SPY", "TLT"], start="2014-01-01", end="2019-12-31")
    grid = make_grid(channel_trend, {"lookback": [10, 40, 120], "exit_window": [5, 30]})
    rows = sweep(bars, channel_trend, grid, settings, progress=False)
    assert rows.attrs["path"] == "generic" and rows.attrs["strategy"] == "channel_trend"
    assert len(rows) == 2 * len(grid) and set(rows["symbol"]) == {"SPY", "TLT"}
    for i in rng.choice(len(rows), size=4, replace=False):
        row = rows.iloc[int(i)]
        one = bars.xs(row["symbol"], axis=1, level=1)
        params = {"lookback": int(row["lookback"]), "exit_window": int(row["exit_window"])}
        _compare(row, tk.backtest(one, "channel_trend", params, settings).metrics())


def test_cross_sectional_rows_are_books_equal_to_backtest() -> None:
    from research.strategies.xs_momentum import xs_momentum

    symbols = ["SPY", "QQQ", "TLT", "GLD", "EEM"]
    panel = tk.load_many(symbols, start="2012-01-01", end="2019-12-31")
    rows = sweep(panel, "xs_momentum", {"lookback": [21, 126], "top": [1, 2]}, progress=False)
    assert list(rows["symbol"].unique()) == ["portfolio"] and len(rows) == 4
    for _, row in rows.iterrows():
        params = {"lookback": int(row["lookback"]), "top": int(row["top"])}
        result = tk.backtest(panel, xs_momentum, params)
        _compare(row, result.metrics())
        # one book: weights are fractions of the whole account, never more than fully invested
        gross = (result.positions.abs() * panel["close"]).sum(axis=1) / result.equity
        assert gross.max() <= 1.0 + 1e-9
    # a mapping of per-symbol frames is aligned into the same book
    frames = {s: panel.xs(s, axis=1, level=1) for s in symbols}
    again = sweep(frames, xs_momentum, {"lookback": [21, 126], "top": [1, 2]}, progress=False)
    pd.testing.assert_frame_equal(again, rows)


@pytest.mark.xdist_group("dask")  # one LocalCluster at a time (2 worker processes each)
def test_generic_path_runs_on_a_dask_cluster_with_identical_rows() -> None:
    distributed = pytest.importorskip("distributed")
    from research.strategies.channel_trend import channel_trend

    bars = tk.load("SPY", start="2015-01-01", end="2019-12-31")
    grid = {"lookback": [10, 20, 40], "exit_window": [5, 10]}
    local = sweep(bars, channel_trend, grid, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = sweep(bars, channel_trend, grid, client=client)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_targets_with_gaps_are_scored_by_the_engine() -> None:
    """NaN means "no instruction this bar" to the engine; such a target path is scored by
    tk.backtest itself, the others by the fused kernels, and every row equals the engine."""
    from toolkit import strategies

    @tk.strategy(params=[tk.Param("window", int, 20, 2, 200), tk.Param("gaps", int, 0, 0, 1)])
    def mean_gap(close: np.ndarray, window: int, gaps: int) -> np.ndarray:
        sums = np.concatenate(([0.0], np.cumsum(close)))
        mean = np.full(close.shape, np.nan)
        mean[window - 1 :] = (sums[window:] - sums[:-window]) / window
        out = (close > mean).astype(np.float64)
        if gaps:
            out[np.isnan(mean)] = np.nan  # warm-up: no instruction
            out[::7] = np.nan  # and every 7th bar
        return out

    try:
        bars = tk.load("QQQ", start="2016-01-01", end="2019-12-31")
        settings = tk.EngineSettings(rebalance="every_bar", stop_loss=0.05)
        rows = sweep(bars, mean_gap, {"window": [10, 50], "gaps": [0, 1]}, settings, progress=False)
        assert len(rows) == 4
        for _, row in rows.iterrows():
            params = {"window": int(row["window"]), "gaps": int(row["gaps"])}
            _compare(row, tk.backtest(bars, mean_gap, params, settings).metrics())
        with_gaps = rows[rows["gaps"] == 1].reset_index(drop=True)
        without = rows[rows["gaps"] == 0].reset_index(drop=True)
        assert not np.allclose(with_gaps["final_equity"], without["final_equity"])
    finally:
        strategies.unregister("mean_gap")


def test_block_calls_bind_parameters_like_the_signal() -> None:
    """The generic sweep calls a user's function through ``signal.calls`` (arguments bound
    once per block): each row's array equals ``signal`` of that row -- ints passed as ints,
    floats as floats, a list or int array converted to float64 -- and a wrong shape is still
    a ConfigError naming the strategy; the sweep's rows equal tk.backtest."""
    from numba import njit

    from toolkit import strategies
    from toolkit.errors import ConfigError

    seen: list[tuple[type, type]] = []

    @tk.strategy(
        params=[tk.Param("window", int, 20, 2, 200), tk.Param("level", float, 1.0, 0.5, 2.0)]
    )
    def py_band(close: np.ndarray, window: int, level: float) -> list[int]:
        seen.append((type(window), type(level)))
        mean = pd.Series(close).rolling(window, min_periods=1).mean().to_numpy()
        return [int(c > level * m) for c, m in zip(close, mean, strict=True)]

    @tk.strategy(params=[tk.Param("window", int, 20, 2, 200)])
    @njit
    def nb_above(high: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
        out = np.zeros(close.shape[0])
        for t in range(window, close.shape[0]):
            out[t] = 1.0 if close[t] > high[t - window] else -0.5
        return out

    @tk.strategy(params=[tk.Param("window", int, 20, 2, 200)])
    def short(close: np.ndarray, window: int) -> np.ndarray:
        return np.ones(len(close) - window)

    try:
        bars = tk.load("SPY", start="2018-01-01", end="2019-12-31")
        c = np.ascontiguousarray(bars["close"].to_numpy(np.float64))
        h = np.ascontiguousarray(bars["high"].to_numpy(np.float64))
        fields = (c, h, c, c, c)
        for spec, axes in (
            (py_band, {"window": [3, 30], "level": [0.9, 1.0, 1.1]}),
            (nb_above, {"window": [2, 5, 60]}),
        ):
            values = make_grid(spec, axes).values
            rows = list(spec.signal.calls(*fields, values))  # type: ignore[attr-defined]
            assert len(rows) == len(values)
            for row, vec in zip(rows, values, strict=True):
                assert row.dtype == np.float64 and row.shape == c.shape
                np.testing.assert_array_equal(row, spec.signal(*fields, vec))
            swept = sweep(bars, spec, axes, progress=False)
            for _, r in swept.iterrows():
                params = {p.name: p.kind(r[p.name]) for p in spec.params}
                _compare(r, tk.backtest(bars, spec, params).metrics())
        assert set(seen) == {(int, float)}
        with pytest.raises(ConfigError, match=r"'short'.*return one exposure per bar"):
            list(short.signal.calls(*fields, make_grid(short, {"window": [5]}).values))  # type: ignore[attr-defined]
    finally:
        for label in ("py_band", "nb_above", "short"):
            strategies.unregister(label)


def test_blocks_scored_while_the_next_fills_give_the_rows_of_one_block(monkeypatch) -> None:
    """A local sweep scores block b in a worker thread while it fills block b+1's targets
    (two buffers in turn): with blocks of 1-3 sets, some only NaN paths (engine rows, no
    kernel call), the rows, their order and the progress calls are those of one block."""
    from toolkit import strategies
    from toolkit.sweep import _generic

    @tk.strategy(params=[tk.Param("window", int, 20, 2, 200), tk.Param("gaps", int, 0, 0, 1)])
    def half_gap(close: np.ndarray, window: int, gaps: int) -> np.ndarray:
        sums = np.concatenate(([0.0], np.cumsum(close)))
        out = np.zeros(close.shape)
        out[window - 1 :] = close[window - 1 :] > (sums[window:] - sums[:-window]) / window
        if gaps:
            out[::5] = np.nan
        return out

    try:
        bars = tk.load("SPY", start="2017-01-01", end="2019-12-31")
        grid = make_grid(half_gap, {"window": [5, 10, 20, 40, 80], "gaps": [0, 1]})
        order = np.argsort(grid.values[:, 1], kind="stable")  # the NaN paths last, together
        grid = dataclasses.replace(grid, values=grid.values[order])
        whole = sweep(bars, half_gap, grid, progress=False)
        calls: list[tuple[int, int]] = []
        for size in (1, 3):
            monkeypatch.setattr(_generic, "_BLOCK_MIN", size)
            monkeypatch.setattr(_generic, "_BLOCK_VALUES", 1)
            calls.clear()
            blocks = sweep(
                bars, half_gap, grid, progress=False, on_block=lambda *a: calls.append(a)
            )
            pd.testing.assert_frame_equal(blocks, whole, check_exact=True)
            assert calls[-1] == (10, 10) and len(calls) == -(-10 // size)
        for _, row in whole.iloc[[0, 9]].iterrows():
            params = {"window": int(row["window"]), "gaps": int(row["gaps"])}
            _compare(row, tk.backtest(bars, half_gap, params).metrics())
    finally:
        strategies.unregister("half_gap")


def test_the_switch_interval_is_given_back() -> None:
    """The pipelined path shortens Python's GIL switch interval while it runs (so the
    kernel's thread gets in and out between the signal loop's calls); the caller's value
    is back afterwards, also when the user's signal raises."""
    import sys

    from toolkit import strategies
    from toolkit.errors import ConfigError

    @tk.strategy(params=[tk.Param("window", int, 20, 2, 200)])
    def wrong_late(close: np.ndarray, window: int) -> np.ndarray:
        return np.zeros(len(close) if window < 30 else 3)

    try:
        bars = tk.load("SPY", start="2019-01-01", end="2019-12-31")
        before = sys.getswitchinterval()
        rows = sweep(bars, wrong_late, {"window": [5, 10, 20]}, progress=False)
        assert len(rows) == 3 and sys.getswitchinterval() == before
        with pytest.raises(ConfigError, match="wrong_late"):
            sweep(bars, wrong_late, {"window": [5, 10, 40]}, progress=False)
        assert sys.getswitchinterval() == before
    finally:
        strategies.unregister("wrong_late")
