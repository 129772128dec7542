"""latest_targets (what the live bridge calls) gives the last row of the backtest's targets."""

from __future__ import annotations

import pytest

import toolkit as tk
from toolkit.engine.backtest import strategy_targets
from toolkit.strategies.latest import latest_targets


@pytest.mark.parametrize("cut", [300, 901, 1500])
def test_single_and_cross_sectional_match_the_backtest_targets(cut: int) -> None:
    from research.strategies.channel_trend import channel_trend
    from research.strategies.xs_momentum import xs_momentum

    symbols = ["SPY", "TLT", "GLD"]
    panel = tk.load_many(symbols, start="2012-01-01", end="2019-12-31")
    windows = {s: panel.xs(s, axis=1, level=1).iloc[: cut + 1] for s in symbols}
    for spec, params in ((channel_trend, {"lookback": 30}), (xs_momentum, {"top": 1})):
        full = strategy_targets(panel, spec, spec.resolve(params))
        got = latest_targets(spec, windows, spec.resolve(params))
        assert got == {s: float(full[s].iloc[cut]) for s in symbols}
    # the cross-sectional book holds exactly one symbol here (top = 1) once ranked
    xs = latest_targets(xs_momentum, windows, xs_momentum.resolve({"top": 1}))
    assert sorted(xs.values())[-1] in (0.0, 1.0) and sum(xs.values()) <= 1.0
