"""Parameter spaces: validation errors name the parameter and the allowed values."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import strategies
from toolkit.errors import ConfigError


def test_registry_has_the_four_required_strategies() -> None:
    assert set(strategies.names()) >= {"sma_cross", "rsi_reversion", "donchian", "tsmom"}


def test_unknown_strategy_lists_allowed() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown strategy 'macd'; allowed: donchian, rsi_reversion"
    ):
        strategies.get("macd")


def test_defaults_fill_missing_and_vector_is_ordered() -> None:
    s = strategies.get("sma_cross")
    assert s.resolve({"fast": 5}) == {"fast": 5, "slow": 100, "allow_short": 0, "cross": 0}
    np.testing.assert_array_equal(s.vector({"fast": 5, "slow": 30}), [5.0, 30.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"fast": 0}, r"fast = 0 is out of range; expected int in \[1, 500\], default 20"),
        ({"fast": 2.5}, r"fast = 2.5 must be a whole number"),
        ({"fast": "10"}, r"fast = '10' has the wrong type"),
        ({"fast": True}, r"fast = True has the wrong type"),
        ({"fast": 50, "slow": 20}, r"need fast < slow; got fast = 50, slow = 20"),
        ({"speed": 3}, r"unknown parameter speed for strategy 'sma_cross'; allowed: fast"),
    ],
)
def test_invalid_params(values, message) -> None:
    with pytest.raises(ConfigError, match=message):
        strategies.get("sma_cross").resolve(values)


def test_require_all_names_the_missing_parameter() -> None:
    with pytest.raises(
        ConfigError, match=r"missing parameter slow \(int in \[2, 1000\], default 100\)"
    ):
        strategies.get("sma_cross").resolve({"fast": 10, "allow_short": 0}, require_all=True)


def test_rsi_constraint() -> None:
    with pytest.raises(ConfigError, match="need oversold < exit < overbought; got window = 14"):
        strategies.get("rsi_reversion").resolve({"oversold": 40.0, "exit": 35.0})
