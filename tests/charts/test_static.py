"""backtest_static: the backtest page as a matplotlib figure (for e-mail and PDF) drawn from
the same series as the interactive one."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import toolkit as tk
from toolkit.charts import backtest_static, drawdown


def test_static_page_draws_the_runs_series(tmp_path: Path) -> None:
    bars = tk.load("SPY", start="2019-01-01", end="2021-12-31")
    result = tk.backtest(bars, "sma_cross", {"fast": 10, "slow": 40})
    fig = backtest_static(result, bars)
    equity_ax, dd_ax, exposure_ax, price_ax = fig.axes
    strategy, hold = equity_ax.get_lines()
    np.testing.assert_array_equal(strategy.get_ydata(), result.equity.to_numpy())
    np.testing.assert_allclose(hold.get_ydata(), 100_000 * bars["close"] / bars["close"].iloc[0])
    # the drawdown area reaches the metric's maximum drawdown
    (area,) = dd_ax.collections
    lowest = min(float(p.vertices[:, 1].min()) for p in area.get_paths())
    assert lowest == pytest.approx(result.metrics()["max_drawdown"], abs=1e-12)
    assert lowest == pytest.approx(float(drawdown(result.equity, 100_000).min()), abs=1e-12)
    np.testing.assert_allclose(
        exposure_ax.get_lines()[0].get_ydata(),
        (result.positions["SPY"] * bars["close"] / result.equity).to_numpy(),
    )
    buys, sells = price_ax.collections
    orders = result.orders
    np.testing.assert_array_equal(
        buys.get_offsets()[:, 1], orders[orders["side"] == "BUY"]["price"]
    )
    np.testing.assert_array_equal(
        sells.get_offsets()[:, 1], orders[orders["side"] == "SELL"]["price"]
    )
    assert "Sharpe" in fig._suptitle.get_text()
    path = tmp_path / "run.png"
    fig.savefig(path, dpi=80)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)
    assert len(backtest_static(result).axes) == 3  # no bars: no price row
    plt.close("all")
