"""result.plot(): the figure carries the result's own numbers -- equity, drawdown (against
the metric and quantstats), exposure, benchmark and every order at its time and price."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

import toolkit as tk
from toolkit.analysis.portfolio import weights
from toolkit.errors import ConfigError


def _trace(fig, name: str):
    (found,) = [t for t in fig.data if t.name == name]
    return found


@pytest.fixture(scope="module")
def run():
    bars = tk.load("SPY", start="2019-01-01", end="2023-12-31")
    result = tk.backtest(bars, "sma_cross", {"fast": 10, "slow": 40})
    return bars, result


def test_equity_drawdown_exposure_and_orders_are_the_results(run) -> None:
    bars, result = run
    fig = result.plot(bars)
    equity = _trace(fig, "sma_cross")
    np.testing.assert_array_equal(equity.y, result.equity.to_numpy())
    assert list(pd.DatetimeIndex(equity.x)) == list(result.equity.index)
    dd = _trace(fig, "drawdown")
    # its minimum is the metric; pointwise it is quantstats' drawdown series (flat start)
    assert float(np.min(dd.y)) == pytest.approx(result.metrics()["max_drawdown"], abs=1e-12)
    assert result.returns.iloc[0] == 0.0
    oracle = qs.stats.to_drawdown_series(result.returns)
    np.testing.assert_allclose(dd.y, oracle.to_numpy(), atol=1e-12)
    # exposure: position x close / equity at each close
    np.testing.assert_allclose(
        _trace(fig, "SPY").y, (result.positions["SPY"] * bars["close"] / result.equity).to_numpy()
    )
    # buy and hold of the same bars from the same cash
    hold = _trace(fig, "buy & hold SPY")
    np.testing.assert_allclose(hold.y, 100_000 * bars["close"] / bars["close"].iloc[0])
    # every order at its fill time and price, buys and sells apart, quantities in the hover
    orders = result.orders
    assert len(orders) > 10
    for side in ("BUY", "SELL"):
        part = orders[orders["side"] == side]
        marks = _trace(fig, side.lower())
        assert list(pd.DatetimeIndex(marks.x)) == list(part["time"])
        np.testing.assert_array_equal(marks.y, part["price"].to_numpy())
        np.testing.assert_array_equal(marks.customdata[:, 0].astype(float), part["quantity"].abs())
    # four rows on one shared time axis, the title with the headline metrics
    axes = (fig.layout.xaxis, fig.layout.xaxis2, fig.layout.xaxis3)
    assert {a.matches for a in axes} == {"x4"}  # zoom one row, all follow
    assert "Sharpe" in fig.layout.title.text and "trades" in fig.layout.title.text
    assert fig.layout.hovermode == "x unified"


def test_without_bars_positions_and_no_price_row(run) -> None:
    _, result = run
    fig = result.plot()
    assert "xaxis4" not in fig.layout and not [t for t in fig.data if t.name in ("buy", "sell")]
    np.testing.assert_array_equal(_trace(fig, "SPY").y, result.positions["SPY"].to_numpy())
    assert fig.layout.annotations[2].text == "position (shares)"


def test_a_benchmark_series_is_bought_and_held(run) -> None:
    bars, result = run
    qqq = tk.load("QQQ", start="2019-01-01", end="2023-12-31")["close"].rename("QQQ")
    fig = result.plot(bars, benchmark=qqq, title="mine")
    np.testing.assert_allclose(_trace(fig, "QQQ").y, 100_000 * qqq / qqq.iloc[0])
    assert fig.layout.title.text == "mine"


def test_panel_shows_the_most_traded_symbol_or_the_one_asked() -> None:
    panel = tk.load_many(["SPY", "TLT", "GLD"], start="2020-01-01", end="2022-12-31")
    result = tk.backtest(panel, "sma_cross", {"fast": 10, "slow": 40})
    fig = result.plot(panel)
    w = weights(result, panel["close"])
    for sym in ("SPY", "TLT", "GLD"):
        np.testing.assert_allclose(_trace(fig, sym).y, w[sym].to_numpy())
    most = result.orders["symbol"].value_counts().index[0]
    assert _trace(fig, f"{most} close") is not None
    assert "buy & hold (equal weight)" in [t.name for t in fig.data]
    gld = result.plot(panel, symbol="GLD")
    mine = result.orders[(result.orders["symbol"] == "GLD") & (result.orders["side"] == "BUY")]
    np.testing.assert_array_equal(_trace(gld, "buy").y, mine["price"].to_numpy())
    with pytest.raises(
        ConfigError, match="symbol 'XYZ' is not in the backtest; it has SPY, TLT, GLD"
    ):
        result.plot(panel, symbol="XYZ")


def test_a_large_book_shows_its_exposure_totals() -> None:
    symbols = ["SPY", "QQQ", "IWM", "TLT", "GLD", "XLE", "XLF", "XLK", "XLV"]
    panel = tk.load_many(symbols, start="2021-01-01", end="2022-12-31")
    result = tk.backtest(panel, "sma_cross", {"fast": 10, "slow": 40})
    fig = result.plot(panel)
    w = weights(result, panel["close"])
    np.testing.assert_allclose(_trace(fig, "gross").y, w.abs().sum(axis=1).to_numpy())
    np.testing.assert_allclose(_trace(fig, "net").y, w.sum(axis=1).to_numpy())
    assert not [t for t in fig.data if t.name in symbols]  # no line per symbol
