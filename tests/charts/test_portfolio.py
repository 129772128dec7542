"""Portfolio figures: stacked weights are the book's weights, the exposures their sums, and
the risk contributions add up to the book's volatility from an independent covariance."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit as tk
from toolkit.analysis.portfolio import close_of, weights
from toolkit.charts import risk_contributions_over_time, risk_figure, weights_figure
from toolkit.errors import ConfigError


@pytest.fixture(scope="module")
def run():
    panel = tk.load_many(["SPY", "TLT", "GLD"], start="2019-01-01", end="2022-12-31")
    return panel, tk.backtest(panel, "sma_cross", {"fast": 10, "slow": 40})


def test_weights_and_exposures(run) -> None:
    panel, result = run
    fig = weights_figure(result, panel)
    w = weights(result, close_of(panel, result))
    stacked = {t.name: t for t in fig.data if t.type == "scatter" and t.stackgroup == "weights"}
    assert list(stacked) == ["SPY", "TLT", "GLD"]
    for sym, trace in stacked.items():
        np.testing.assert_array_equal(trace.y, w[sym].to_numpy())
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_allclose(by_name["gross"].y, w.abs().sum(axis=1).to_numpy())
    np.testing.assert_allclose(by_name["net"].y, w.sum(axis=1).to_numpy())
    sectors = weights_figure(
        result, panel, by="sector", sectors={"SPY": "Equity", "TLT": "Bonds", "GLD": "Equity"}
    )
    groups = {t.name: t for t in sectors.data if t.stackgroup == "weights"}
    np.testing.assert_allclose(groups["Equity"].y, (w["SPY"] + w["GLD"]).to_numpy())
    with pytest.raises(ConfigError, match="by must be 'symbol' or 'sector'"):
        weights_figure(result, panel, by="industry")


def test_risk_contributions_sum_to_the_books_volatility(run) -> None:
    panel, result = run
    contrib = risk_contributions_over_time(result, panel, window=120, points=12)
    assert len(contrib) == 12 and contrib.index[-1] == panel.index[-1]
    w = weights(result, close_of(panel, result))
    returns = panel["close"].pct_change().fillna(0.0).to_numpy()
    for when in (contrib.index[0], contrib.index[-1]):
        b = panel.index.get_loc(when)
        cov = np.cov(returns[b - 119 : b + 1], rowvar=False, ddof=1) * 252
        wb = w.iloc[b].to_numpy()
        vol = float(np.sqrt(wb @ cov @ wb))
        assert contrib.loc[when].sum() == pytest.approx(vol, rel=1e-9)
        np.testing.assert_allclose(contrib.loc[when].to_numpy(), wb * (cov @ wb) / vol, rtol=1e-9)
    fig = risk_figure(result, panel, window=120, points=12)
    stacked = {t.name: t for t in fig.data if t.type == "scatter" and t.stackgroup == "risk"}
    np.testing.assert_array_equal(stacked["TLT"].y, contrib["TLT"].to_numpy())
    share = next(t for t in fig.data if t.name == "share (last bar)")
    assert float(np.sum(share.y)) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="need more than the window of 2000 returns"):
        risk_contributions_over_time(result, panel, window=2000)
