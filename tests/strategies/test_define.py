"""Users' own strategies: ``@tk.strategy`` binds bar fields and parameters by name, checks the
definition at once, and registers the result where every door finds it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from numba import njit

import toolkit as tk
from toolkit import strategies
from toolkit.errors import ConfigError


@pytest.fixture
def forget() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        strategies.unregister(name)


def test_a_numba_signal_gets_its_fields_and_typed_parameters(forget: list[str]) -> None:
    @tk.strategy(params=[tk.Param("lag", int, 3, 1, 50), tk.Param("scale", float, 0.5, 0, 2)])
    @njit
    def momo(high: np.ndarray, close: np.ndarray, lag: int, scale: float) -> np.ndarray:
        out = np.zeros(close.shape[0])
        for t in range(lag, close.shape[0]):
            out[t] = scale if close[t] > high[t - lag] else 0.0
        return out

    forget.append("momo")
    assert isinstance(momo, tk.Strategy) and strategies.get("momo") is momo
    bars = tk.load("SPY", start="2019-01-01", end="2019-12-31")
    got = momo.signals(bars, lag=2, scale=0.25)
    c, h = bars["close"].to_numpy(), bars["high"].to_numpy()
    expected = np.where(np.r_[np.zeros(2, bool), c[2:] > h[:-2]], 0.25, 0.0)
    np.testing.assert_array_equal(got.to_numpy(), expected)
    # int parameters arrive as Python ints: numba compiled one int64 specialisation
    assert [str(sig[-2]) for sig in momo_signatures(momo)] == ["int64"]
    assert "lag: int in [1, 50], default 3" in repr(momo)


def momo_signatures(strategy: tk.Strategy) -> list[tuple[object, ...]]:
    fn = strategy.signal.__closure__  # the bound user function is in the adapter's closure
    assert fn is not None
    dispatcher = next(c.cell_contents for c in fn if hasattr(c.cell_contents, "signatures"))
    return list(dispatcher.signatures)


def test_plain_numpy_and_boolean_output(forget: list[str]) -> None:
    @tk.strategy(params=[tk.Param("window", int, 10, 2, 100)])
    def above_mean(close: np.ndarray, window: int) -> np.ndarray:
        sums = np.concatenate(([0.0], np.cumsum(close)))
        mean = np.full(close.shape, np.nan)
        mean[window - 1 :] = (sums[window:] - sums[:-window]) / window
        return close > mean  # booleans become 0/1 exposures

    forget.append("above_mean")
    bars = tk.load("QQQ", start="2020-01-01", end="2020-12-31")
    s = above_mean.signals(bars)
    assert s.dtype == np.float64 and set(np.unique(s)) == {0.0, 1.0}
    assert (s.iloc[:9] == 0).all()


@pytest.mark.parametrize(
    ("fn_source", "message"),
    [
        ("def f(close, lookbak): return close", r"argument 'lookbak' is neither a bar field"),
        ("def f(close): return close", r"declared parameter lookback is not an argument"),
        ("def f(close, *rest, lookback): return close", r"\*args/\*\*kwargs are not supported"),
    ],
)
def test_definition_errors_name_the_argument(fn_source: str, message: str) -> None:
    namespace: dict[str, object] = {}
    exec(fn_source, namespace)  # a function definition written in the test
    with pytest.raises(ConfigError, match=message):
        tk.strategy(namespace["f"], params=[tk.Param("lookback", int, 5, 2, 10)])  # type: ignore[arg-type]


def test_wrong_output_shape_is_one_clear_error(forget: list[str]) -> None:
    @tk.strategy(params=[])
    def short_by_one(close: np.ndarray) -> np.ndarray:
        return close[1:] * 0

    forget.append("short_by_one")
    bars = tk.load("SPY", start="2020-01-01", end="2020-03-31")
    with pytest.raises(ConfigError, match=r"'short_by_one': the signal returned shape \(\d+,\)"):
        tk.backtest(bars, short_by_one)


def test_a_builtin_name_is_refused_and_a_redefinition_replaces(forget: list[str]) -> None:
    with pytest.raises(ConfigError, match="'sma_cross' is a built-in"):
        tk.strategy(lambda close: close * 0, name="sma_cross")
    first = tk.strategy(lambda close: close * 0, name="cell")
    second = tk.strategy(lambda close: close * 0 + 1, name="cell")
    forget.append("cell")
    assert strategies.get("cell") is second is not first
    assert "cell" in strategies.names() and "cell" not in strategies.builtin_names()


def test_bad_defaults_and_duplicate_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="default"):
        tk.strategy(
            lambda close, n: close, name="bad_default", params=[tk.Param("n", int, 0, 1, 5)]
        )
    with pytest.raises(ConfigError, match="declared twice"):
        tk.strategy(
            lambda close, n: close,
            name="twice",
            params=[tk.Param("n", int, 2, 1, 5), tk.Param("n", int, 2, 1, 5)],
        )


def test_module_lookup_errors_name_what_is_missing() -> None:
    with pytest.raises(ConfigError, match=r"module 'research.strategies.nope' cannot be imported"):
        strategies.from_module("research.strategies.nope", "x")
    with pytest.raises(
        ConfigError, match=r"defines no strategy 'chanel_trend'; it defines: channel_trend"
    ):
        strategies.from_module("research.strategies.channel_trend", "chanel_trend")
    found = strategies.from_module("research.strategies.channel_trend", "channel_trend")
    assert found.module == "research.strategies.channel_trend" and found.kind == "single"
