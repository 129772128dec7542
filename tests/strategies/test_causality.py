"""Invariant 1: a signal at bar t is the same whether computed on bars [0, t] or on all bars.

The suite checks the built-ins with the public ``tk.check_causal`` (the one implementation:
prefix and scrambled-future tests at random cut points); a deliberately leaky strategy and
leaky cross-sectional ones must fail it with the bar and the parameter set named.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import toolkit as tk
from toolkit import strategies
from toolkit.data import load
from toolkit.strategies.causality import random_params

SYMBOLS = ("SPY", "QQQ", "TLT", "NVDA", "XOM")
FIELDS = ("open", "high", "low", "close", "volume")


def _random_params(strategy: strategies.Strategy, rng: np.random.Generator) -> dict[str, float]:
    """A random valid point of the declared parameter space (tests of other packages use it)."""
    return random_params(strategy, rng)


@pytest.mark.parametrize("name", strategies.builtin_names())
def test_every_builtin_strategy_is_causal_on_real_data(name: str) -> None:
    strategy = strategies.get(name)
    for i, symbol in enumerate(SYMBOLS):
        bars = load(symbol, start="2008-01-01")
        report = tk.check_causal(name, bars, cuts=25, random_sets=1, seed=i)
        assert report.passed, str(report)
        assert len(report.parameter_sets) == 2 and report.cuts == 25
        full = strategy.signal(*(bars[f].to_numpy() for f in FIELDS), strategy.vector({}))
        assert full.shape == (len(bars),) and np.isfinite(full).all()


@pytest.fixture
def leaky() -> Iterator[tk.Strategy]:
    from research.strategies.leaky_example import leaky_example

    yield leaky_example
    strategies.unregister("leaky_example")


def test_the_leaky_example_fails_with_the_bar_and_parameters(leaky: tk.Strategy) -> None:
    bars = load("SPY", start="2015-01-01", end="2019-12-31")
    report = tk.check_causal(leaky, bars, {"window": 20}, cuts=5, random_sets=0)
    assert not report.passed
    first = report.leaks[0]
    assert first.params == {"window": 20} and first.symbol == "SPY"
    assert 0 <= first.bar <= first.cut and first.time == bars.index[first.bar]
    assert first.full != first.seen
    assert {leak.test for leak in report.leaks} == {"prefix", "scrambled future"}
    text = str(report)
    assert "LOOK-AHEAD" in text and "window=20" in text and f"bar {first.bar} " in text


def test_a_future_that_is_only_rescaled_is_caught_by_scrambling() -> None:
    """A signal normalised by the whole sample's maximum passes every prefix test only by
    luck; scrambling the future moves it."""

    @tk.strategy(name="global_scale_leak", params=[])
    def global_scale_leak(close: np.ndarray) -> np.ndarray:
        return close / close.max()

    try:
        bars = load("SPY", start="2015-01-01", end="2016-12-31")
        report = tk.check_causal(global_scale_leak, bars, cuts=3, random_sets=0)
        assert any(leak.test == "scrambled future" for leak in report.leaks)
    finally:
        strategies.unregister("global_scale_leak")


def test_cross_sectional_example_is_causal_and_a_leaky_panel_is_not() -> None:
    from research.strategies.xs_momentum import xs_momentum

    panel = tk.load_many(["SPY", "TLT", "GLD", "EEM"], start="2012-01-01", end="2018-12-31")
    report = tk.check_causal(xs_momentum, panel, cuts=10, random_sets=2, seed=3)
    assert report.passed, str(report)
    assert report.symbols == ("SPY", "TLT", "GLD", "EEM")

    @tk.strategy(kind="cross_sectional", params=[tk.Param("lag", int, 5, 1, 50)])
    def xs_peek(close: np.ndarray, lag: int) -> np.ndarray:
        out = np.zeros_like(close)
        out[:-lag, 2] = close[lag:, 2] > close[:-lag, 2]  # GLD's future, seen today
        return out

    try:
        bad = tk.check_causal(xs_peek, panel, {"lag": 5}, cuts=10, random_sets=0)
        assert not bad.passed
        assert {leak.symbol for leak in bad.leaks} == {"GLD"}
        assert bad.leaks[0].params == {"lag": 5}
    finally:
        strategies.unregister("xs_peek")


def test_progress_counts_each_symbol_and_parameter_set() -> None:
    """``on_set`` (the CLI's bar): once per (symbol, set), in order, ending at the total."""
    panel = load("SPY", start="2018-01-01", end="2019-12-31")
    two = tk.load_many(["SPY", "TLT"], start="2018-01-01", end="2019-12-31")
    for bars, books in ((panel, 1), (two, 2)):
        calls: list[tuple[int, int]] = []
        tk.check_causal(
            "sma_cross", bars, cuts=2, random_sets=2, on_set=lambda d, t, c=calls: c.append((d, t))
        )
        total = books * 3  # the default set and two random ones, per symbol
        assert calls == [(d, total) for d in range(1, total + 1)]


def test_signals_are_not_all_flat() -> None:
    """Each shipped strategy actually trades on SPY with its defaults (a non-vacuous check)."""
    bars = load("SPY", start="2005-01-01")
    for name in strategies.builtin_names():
        s = strategies.get(name).signals(bars)
        assert (s != 0).mean() > 0.02, name
        assert s.abs().max() <= 4.0
