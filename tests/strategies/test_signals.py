"""Each built-in's one-set signal computes only its own indicators (not the grid features),
and so must equal what the sweep computes for that set: features over a one-row grid, then
the rule."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit as tk


def _random_set(strategy, rng: np.random.Generator) -> np.ndarray:
    """A parameter vector drawn inside the declared bounds (windows up to 300 bars), valid."""
    while True:
        values = {}
        for p in strategy.params:
            high = min(p.high, 300.0)
            if p.kind is int:
                values[p.name] = int(rng.integers(int(p.low), int(high) + 1))
            else:
                values[p.name] = float(rng.uniform(p.low, high))
        if strategy.valid is None or strategy.valid(values):
            return np.array([values[p.name] for p in strategy.params], dtype=float)


@pytest.mark.parametrize("name", ["sma_cross", "rsi_reversion", "donchian", "tsmom"])
def test_signal_equals_features_then_rule(name: str) -> None:
    strategy = tk.get_strategy(name)
    bars = tk.load("SPY", start="2010-01-01")
    a = [np.ascontiguousarray(bars[f].to_numpy(float)) for f in bars.columns[:5]]
    assert list(bars.columns[:5]) == ["open", "high", "low", "close", "volume"]
    rng = np.random.default_rng(13)
    decided = 0
    for _ in range(25):
        vec = _random_set(strategy, rng)
        aux, index = strategy.features(*a, vec.reshape(1, -1))
        expected = np.empty(len(bars))
        strategy.rule(*a, aux, vec, index[0], expected)
        got = strategy.signal(*a, vec)
        assert np.array_equal(got, expected, equal_nan=True), vec
        decided += bool(np.any(got != 0.0))
    assert decided >= 5  # sets that trade: equal arrays are not only flat ones
