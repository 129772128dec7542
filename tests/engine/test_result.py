"""A backtest's pandas fields are built on first read, and the result behaves as before."""

from __future__ import annotations

import dataclasses
import pickle

import pandas as pd
import pytest

import toolkit as tk
from toolkit.engine.result import LAZY_FIELDS, BacktestResult


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return tk.load("SPY", start="2015-01-01", end="2020-12-31")


def _eager(r: BacktestResult) -> BacktestResult:
    fields = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
    return BacktestResult(**fields)


def test_frames_are_built_on_first_read_and_kept(bars) -> None:
    r = tk.backtest(bars, "sma_cross", {"fast": 10, "slow": 50})
    assert not any(name in vars(r) for name in LAZY_FIELDS)
    orders = r.orders
    assert r.orders is orders and "orders" in vars(r) and "trades" not in vars(r)
    assert r.strategy == "sma_cross" and r.params["fast"] == 10 and r.params["slow"] == 50
    with pytest.raises(AttributeError, match="no attribute 'ordres'"):
        _ = r.ordres  # type: ignore[attr-defined]


CASES = [
    ("sma_cross", {"fast": 10, "slow": 50}, tk.EngineSettings(), tk.RiskLimits(max_drawdown=0.2)),
    ("sma_cross", {"fast": 5, "slow": 20, "allow_short": 1}, tk.EngineSettings(fill="close"), None),
    ("donchian", None, tk.EngineSettings(stop_loss=0.03, fractional=True), None),
    ("rsi_reversion", None, tk.EngineSettings(commission=tk.proportional(0.001)), None),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_deferred_result_equals_its_eager_copy(bars, case) -> None:
    # metrics (read from the kernel's arrays) and frames equal exactly those of a result
    # built eagerly from its fields (metrics from the frames); replace() works the same
    name, params, settings, risk = CASES[case]
    r = tk.backtest(bars, name, params, settings, risk=risk)
    eager = _eager(tk.backtest(bars, name, params, settings, risk=risk))
    assert "_build" not in vars(eager)
    pd.testing.assert_series_equal(r.summary(), eager.summary(), check_exact=True)
    for field in LAZY_FIELDS:
        pd.testing.assert_frame_equal(
            pd.DataFrame(getattr(r, field)), pd.DataFrame(getattr(eager, field)), check_exact=True
        )
    assert len(r.orders) > 2 and len(r.closed_trades) > 0
    trimmed = dataclasses.replace(r, equity=r.equity.iloc[:10], strategy="x")
    assert len(trimmed.equity) == 10 and trimmed.strategy == "x"
    assert trimmed.orders is r.orders


def test_an_unread_result_pickles(bars) -> None:
    r = tk.simulate(bars, pd.Series(1.0, index=bars.index))
    back = pickle.loads(pickle.dumps(r))
    assert not any(name in vars(back) for name in LAZY_FIELDS)
    pd.testing.assert_frame_equal(back.positions, r.positions)
    pd.testing.assert_series_equal(back.summary(), r.summary())


def test_backtests_in_threads_equal_serial_ones() -> None:
    # the engine remembers the last index's month ids, settings record and column layout:
    # threads interleaving two different books and settings still get their own
    from concurrent.futures import ThreadPoolExecutor

    a = tk.load("SPY", start="2016-01-01", end="2018-12-31")
    b = tk.load("QQQ", start="2012-06-01", end="2019-12-31")[
        ["close", "open", "high", "low", "volume"]
    ]
    tiered = tk.EngineSettings(commission=tk.ibkr_tiered())
    jobs = [(a, None), (b, tiered)] * 20

    def run(job: tuple[pd.DataFrame, tk.EngineSettings | None]) -> pd.Series:
        bars, settings = job
        return tk.backtest(bars, "sma_cross", {"fast": 5, "slow": 30}, settings).summary()

    serial = [run(job) for job in jobs[:2]]
    with ThreadPoolExecutor(4) as pool:
        for i, got in enumerate(pool.map(run, jobs)):
            pd.testing.assert_series_equal(got, serial[i % 2], check_exact=True)
