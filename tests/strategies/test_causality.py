"""Invariant 1: a signal at bar t is the same whether computed on bars [0, t] or on all bars."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import strategies
from toolkit.data import load

SYMBOLS = ("SPY", "QQQ", "TLT", "NVDA", "XOM")
FIELDS = ("open", "high", "low", "close", "volume")


def _random_params(strategy: strategies.Strategy, rng: np.random.Generator) -> dict[str, float]:
    """A random valid point of the declared parameter space (re-drawn until constraints hold)."""
    for _ in range(1000):
        values: dict[str, float] = {}
        for p in strategy.params:
            hi = min(p.high, 300) if p.kind is int else p.high
            if p.kind is int:
                values[p.name] = int(rng.integers(int(p.low), int(hi) + 1))
            else:
                values[p.name] = float(rng.uniform(p.low, p.high))
        try:
            strategy.resolve(values)
        except Exception:
            continue
        return values
    raise AssertionError(f"could not draw valid params for {strategy.name}")


@pytest.mark.parametrize("name", strategies.names())
def test_every_registered_strategy_is_causal_on_real_data(name: str) -> None:
    strategy = strategies.get(name)
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for symbol in SYMBOLS:
        bars = load(symbol, start="2008-01-01")
        arrays = [np.ascontiguousarray(bars[f].to_numpy()) for f in FIELDS]
        for params in (strategy.defaults(), _random_params(strategy, rng)):
            vec = strategy.vector(params)
            full = strategy.signal(*arrays, vec)
            assert full.shape == (len(bars),) and np.isfinite(full).all()
            for t in rng.integers(0, len(bars), size=25):
                part = strategy.signal(*(a[: t + 1].copy() for a in arrays), vec)
                assert part[t] == full[t], (name, symbol, params, int(t))
                np.testing.assert_array_equal(part, full[: t + 1])


@pytest.mark.parametrize("name", strategies.names())
def test_signal_ignores_a_changed_future(name: str) -> None:
    """Scrambling every bar after t leaves all values up to t unchanged."""
    strategy = strategies.get(name)
    bars = load("SPY", start="2012-01-01", end="2019-12-31")
    arrays = [np.ascontiguousarray(bars[f].to_numpy()) for f in FIELDS]
    vec = strategy.vector({})
    base = strategy.signal(*arrays, vec)
    rng = np.random.default_rng(7)
    for t in (300, 800, 1500):
        shock = np.ones(len(bars))
        shock[t + 1 :] = rng.uniform(0.5, 1.5, len(bars) - t - 1)
        changed = [a * shock for a in arrays]
        out = strategy.signal(*changed, vec)
        np.testing.assert_array_equal(out[: t + 1], base[: t + 1])


def test_signals_are_not_all_flat() -> None:
    """Each shipped strategy actually trades on SPY with its defaults (a non-vacuous check)."""
    bars = load("SPY", start="2005-01-01")
    for name in strategies.names():
        s = strategies.get(name).signals(bars)
        assert (s != 0).mean() > 0.02, name
        assert s.abs().max() <= 4.0
