"""Strategy registry: pure, causal numba signal functions, each with a parameter space."""

from __future__ import annotations

from toolkit.errors import ConfigError
from toolkit.strategies import donchian, rsi_reversion, sma_cross, tsmom
from toolkit.strategies.spec import Param, SignalFn, Strategy

_REGISTRY: dict[str, Strategy] = {
    m.STRATEGY.name: m.STRATEGY for m in (sma_cross, rsi_reversion, donchian, tsmom)
}


def names() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> Strategy:
    """The strategy called ``name``; a ConfigError lists the allowed names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown strategy {name!r}; allowed: {', '.join(names())}.") from None


__all__ = ["Param", "SignalFn", "Strategy", "get", "names"]
