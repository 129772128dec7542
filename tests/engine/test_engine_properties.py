"""Property tests for the simulation kernel: accounting identities hold for any input."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.engine import EngineSettings, ibkr_fixed, ibkr_tiered, proportional, simulate


@st.composite
def scenario(draw):
    n = draw(st.integers(3, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    open_ = close * np.exp(rng.normal(0, 0.02, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.03, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.03, n))
    idx = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    bars = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1e6}, index=idx
    )
    levels = draw(
        st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.3, 1.0, 1.5]), min_size=n, max_size=n)
    )
    maybe = st.one_of(st.none(), st.floats(0.01, 0.2))
    s = EngineSettings(
        init_cash=draw(st.sampled_from([1_000.0, 25_000.0])),
        fill=draw(st.sampled_from(["next_open", "close"])),
        order_type=draw(st.sampled_from(["market", "limit", "stop"])),
        order_offset_bps=draw(st.sampled_from([0.0, 20.0, 100.0])),
        slippage_bps=draw(st.sampled_from([0.0, 5.0])),
        commission=draw(st.sampled_from([ibkr_fixed(), ibkr_tiered(), proportional(0.001)])),
        stop_loss=draw(maybe),
        take_profit=draw(maybe),
        trailing_stop=draw(maybe),
        rebalance=draw(st.sampled_from(["on_change", "every_bar"])),
        max_leverage=draw(st.sampled_from([1.0, 2.0])),
        fractional=draw(st.booleans()),
    )
    return bars, pd.Series(levels, index=idx), s


@settings(max_examples=150, deadline=None)
@given(case=scenario())
def test_accounting_identities(case) -> None:
    bars, target, s = case
    r = simulate(bars, target, s)
    pos = r.positions.iloc[:, 0].to_numpy()
    # equity is cash plus positions marked at the close, every bar
    np.testing.assert_allclose(
        r.equity.to_numpy(),
        r.cash.to_numpy() + pos * bars["close"].to_numpy(),
        rtol=1e-10,
        atol=1e-8,
    )
    # position path is the running sum of fills
    fills = r.orders.groupby("bar")["quantity"].sum().reindex(range(len(bars)), fill_value=0.0)
    np.testing.assert_allclose(np.cumsum(fills.to_numpy()), pos, atol=1e-9)
    # cash moves only by fills and their commissions
    flows = (r.orders["quantity"] * r.orders["price"] + r.orders["commission"]).sum()
    assert abs(r.cash.iloc[-1] - (s.init_cash - flows)) < 1e-9 * s.init_cash
    # round trips (open ones marked to the last close) add up to the equity change
    assert abs(r.trades["pnl"].sum() - (r.equity.iloc[-1] - s.init_cash)) < 1e-7 * s.init_cash
    assert (r.orders["commission"] >= 0).all()
    if not s.fractional:
        assert (r.orders["quantity"] == np.round(r.orders["quantity"])).all()
    # fills happen inside the bar's range, up to slippage
    px = r.orders["price"].to_numpy()
    b = r.orders["bar"].to_numpy()
    slip = 1 + s.slippage_bps / 1e4 + 1e-12
    assert (px <= bars["high"].to_numpy()[b] * slip).all()
    assert (px >= bars["low"].to_numpy()[b] / slip).all()
    # long buys never spend more than the buying power allowed
    if s.max_leverage == 1.0:
        assert (r.cash.to_numpy()[pos >= 0] >= -1e-6).all()
