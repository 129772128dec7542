"""Strategy registry: the four built-ins plus every strategy a user defines or imports.

Built-ins are pure, causal numba signals with a features/rule split (the sweep's fast path).
A user's strategy (:func:`toolkit.strategy`, from a notebook cell or an importable module)
is registered under its name and then goes through every door a built-in does.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from toolkit.errors import ConfigError
from toolkit.strategies import donchian, rsi_reversion, sma_cross, tsmom
from toolkit.strategies.spec import KINDS, Kind, Param, SignalFn, Strategy

_BUILTINS: dict[str, Strategy] = {
    m.STRATEGY.name: m.STRATEGY for m in (sma_cross, rsi_reversion, donchian, tsmom)
}
_USER: dict[str, Strategy] = {}


def names() -> list[str]:
    """Registered strategy names (built-ins and user strategies), sorted."""
    return sorted({*_BUILTINS, *_USER})


def builtin_names() -> list[str]:
    """The built-in strategies' names, sorted."""
    return sorted(_BUILTINS)


def is_builtin(name: str) -> bool:
    """True for a built-in strategy (it has the sweep's fused fast path)."""
    return name in _BUILTINS


def get(name: str) -> Strategy:
    """The strategy called ``name``; a ConfigError lists the allowed names otherwise."""
    found = _BUILTINS.get(name) or _USER.get(name)
    if found is None:
        yours = f"; yours: {', '.join(sorted(_USER))}" if _USER else ""
        raise ConfigError(
            f"unknown strategy {name!r}; allowed: {', '.join(builtin_names())} (built-in)"
            f"{yours}. A strategy of your own must be defined (@tk.strategy) or its module "
            "imported first."
        )
    return found


def resolve(strategy: str | Strategy) -> Strategy:
    """A name or a Strategy as a registered Strategy (a Strategy object is registered)."""
    if isinstance(strategy, Strategy):
        if _BUILTINS.get(strategy.name) is strategy or _USER.get(strategy.name) is strategy:
            return strategy
        return register(strategy)
    return get(strategy)


def register(strategy: Strategy) -> Strategy:
    """Add ``strategy`` under its name; a redefinition replaces it, a built-in's name is refused."""
    if strategy.name in _BUILTINS and _BUILTINS[strategy.name] is not strategy:
        raise ConfigError(
            f"strategy name {strategy.name!r} is a built-in; choose another name for yours."
        )
    if strategy.kind not in KINDS:
        raise ConfigError(f"strategy {strategy.name!r}: kind must be one of {', '.join(KINDS)}.")
    _USER[strategy.name] = strategy
    return strategy


def unregister(name: str) -> None:
    """Forget a user strategy (built-ins stay); unknown names are ignored."""
    _USER.pop(name, None)


def import_module(module: str) -> ModuleType:
    """Import ``module`` (its ``@tk.strategy`` definitions register themselves); a
    ConfigError says why it could not be imported."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"module {module!r} cannot be imported ({exc.name} not found); give a dotted path "
            "importable from the project root, e.g. research.strategies.my_rule."
        ) from None
    except ConfigError:
        raise
    except Exception as exc:
        first = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise ConfigError(f"module {module!r} failed to import: {first}") from None


def in_module(mod: ModuleType, name: str) -> Strategy:
    """The strategy ``name`` that module ``mod`` defines (registered by ``@tk.strategy``, or a
    module attribute holding a Strategy); a ConfigError lists the ones it does define."""
    attr = getattr(mod, name, None)
    if isinstance(attr, Strategy):
        return resolve(attr)
    found = _USER.get(name)
    if found is not None and found.module == mod.__name__:
        return found
    defined = sorted(
        {v.name for v in vars(mod).values() if isinstance(v, Strategy)}
        | {s.name for s in _USER.values() if s.module == mod.__name__}
    )
    raise ConfigError(
        f"module {mod.__name__!r} defines no strategy {name!r}; it defines: "
        f"{', '.join(defined) or 'none (decorate a signal function with @tk.strategy)'}."
    )


def from_module(module: str, name: str) -> Strategy:
    """Import ``module`` (e.g. ``research.strategies.my_rule``) and return its strategy ``name``."""
    return in_module(import_module(module), name)


__all__ = [
    "KINDS",
    "Kind",
    "Param",
    "SignalFn",
    "Strategy",
    "builtin_names",
    "from_module",
    "get",
    "import_module",
    "in_module",
    "is_builtin",
    "names",
    "register",
    "resolve",
    "unregister",
]
